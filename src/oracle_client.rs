//! Finding the Oracle Client library WITHOUT loading it, for `ingestd check`
//! and for the messages of a worker that could not load it (DPI-1047).
//!
//! Owns the search order, mirrored from ODPI-C (`dpiOci__loadLib`): with
//! `client_lib_dir`, that folder only; otherwise the folder of the program
//! itself, then the dynamic loader's path (`LD_LIBRARY_PATH`, the
//! `ldconfig` cache, the default folders), then `$ORACLE_HOME/lib`. Must
//! never call the `oracle` crate or `dlopen`: it only looks at files, so the
//! process running it (the CLI, the supervisor) never maps the library.

use std::path::{Path, PathBuf};

/// The names ODPI-C tries, in its order.
pub const LIB_NAMES: [&str; 7] = [
    "libclntsh.so",
    "libclntsh.so.19.1",
    "libclntsh.so.18.1",
    "libclntsh.so.12.1",
    "libclntsh.so.11.1",
    "libclntsh.so.20.1",
    "libclntsh.so.21.1",
];

/// Folders the dynamic loader searches after `LD_LIBRARY_PATH` and its cache.
const DEFAULT_DIRS: [&str; 6] = [
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// What the search reads from the process, passed in so tests need not
/// change the environment.
#[derive(Clone, Debug, Default)]
pub struct LoaderEnv {
    /// The folder of the running program (ODPI-C's "module directory").
    pub exe_dir: Option<PathBuf>,
    pub ld_library_path: Option<String>,
    /// `ldconfig -p` output, if it could be run.
    pub ldconfig: Option<String>,
    pub oracle_home: Option<PathBuf>,
    /// The loader's default folders (`DEFAULT_DIRS` outside tests).
    pub default_dirs: Vec<PathBuf>,
}

impl LoaderEnv {
    pub fn from_process() -> LoaderEnv {
        let ldconfig = ["/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"]
            .iter()
            .find_map(|cmd| std::process::Command::new(cmd).arg("-p").output().ok())
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        LoaderEnv {
            exe_dir: std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf)),
            ld_library_path: std::env::var("LD_LIBRARY_PATH").ok(),
            ldconfig,
            oracle_home: std::env::var_os("ORACLE_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            default_dirs: DEFAULT_DIRS.iter().map(PathBuf::from).collect(),
        }
    }
}

/// Where the library was looked for, and what was found.
#[derive(Debug, PartialEq, Eq)]
pub struct Search {
    pub found: Option<PathBuf>,
    /// The places looked at, in order, for messages.
    pub searched: Vec<String>,
    /// Files that have a right name but cannot be the library (not a 64-bit
    /// ELF file): a 32-bit client, a broken download.
    pub unusable: Vec<PathBuf>,
}

/// Searches as ODPI-C would, without loading anything.
pub fn search(lib_dir: Option<&Path>, env: &LoaderEnv) -> Search {
    let mut s = Search {
        found: None,
        searched: Vec::new(),
        unusable: Vec::new(),
    };
    if let Some(dir) = lib_dir {
        s.searched.push(format!("client_lib_dir {}", dir.display()));
        s.in_dir(dir, &LIB_NAMES);
        return s;
    }
    if let Some(dir) = &env.exe_dir {
        s.searched
            .push(format!("the program's folder {}", dir.display()));
        if s.in_dir(dir, &LIB_NAMES[..1]) {
            return s;
        }
    }
    let ld_path: Vec<&str> = env
        .ld_library_path
        .as_deref()
        .unwrap_or("")
        .split(':')
        .filter(|d| !d.is_empty())
        .collect();
    s.searched.push(match ld_path.is_empty() {
        true => "LD_LIBRARY_PATH (not set)".to_string(),
        false => format!("LD_LIBRARY_PATH {}", ld_path.join(":")),
    });
    for dir in ld_path {
        if s.in_dir(Path::new(dir), &LIB_NAMES) {
            return s;
        }
    }
    match &env.ldconfig {
        Some(cache) => {
            s.searched.push("the ldconfig cache".into());
            for name in LIB_NAMES {
                if let Some(path) = in_ldconfig(cache, name)
                    && s.usable(&path)
                {
                    s.found = Some(path);
                    return s;
                }
            }
        }
        None => s
            .searched
            .push("the ldconfig cache (ldconfig -p failed)".into()),
    }
    if !env.default_dirs.is_empty() {
        let dirs: Vec<String> = env
            .default_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        s.searched.push(dirs.join(", "));
    }
    for dir in &env.default_dirs {
        if s.in_dir(dir, &LIB_NAMES) {
            return s;
        }
    }
    match &env.oracle_home {
        Some(home) => {
            let lib = home.join("lib");
            s.searched
                .push(format!("$ORACLE_HOME/lib {}", lib.display()));
            s.in_dir(&lib, &LIB_NAMES[..1]);
        }
        None => s
            .searched
            .push("$ORACLE_HOME/lib (ORACLE_HOME not set)".into()),
    }
    s
}

impl Search {
    fn in_dir(&mut self, dir: &Path, names: &[&str]) -> bool {
        for name in names {
            let path = dir.join(name);
            if path.exists() && self.usable(&path) {
                self.found = Some(path);
                return true;
            }
        }
        false
    }

    fn usable(&mut self, path: &Path) -> bool {
        let ok = is_elf64(path);
        if !ok {
            self.unusable.push(path.to_path_buf());
        }
        ok
    }
}

/// The path `ldconfig -p` gives for `name` (lines like
/// `\tlibclntsh.so.23.1 (libc6,x86-64) => /opt/oracle/ic/libclntsh.so.23.1`).
fn in_ldconfig(cache: &str, name: &str) -> Option<PathBuf> {
    cache.lines().find_map(|line| {
        let (left, path) = line.split_once(" => ")?;
        let lib = left.split_whitespace().next()?;
        (lib == name && left.contains("64")).then(|| PathBuf::from(path.trim()))
    })
}

/// A 64-bit ELF file (`\x7fELF`, class 2): what a 64-bit process can load.
fn is_elf64(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 5];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && head == *b"\x7fELF\x02"
}

/// How to fix a missing or unusable client library: the same words for the
/// worker's log and for `ingestd check`.
pub fn how_to_fix(lib_dir: Option<&Path>) -> String {
    let install = "install Oracle Instant Client (Basic or Basic Light, 64-bit, 19c or later; \
                   it needs libaio)";
    let loader = "register its folder with the loader \
                  (echo /opt/oracle/instantclient > /etc/ld.so.conf.d/oracle.conf && ldconfig) \
                  or set LD_LIBRARY_PATH for the service";
    match lib_dir {
        Some(d) => format!(
            "{install} into {} (client_lib_dir, the only folder searched while it is set), or \
             remove client_lib_dir and {loader}",
            d.display()
        ),
        None => format!("{install} and set client_lib_dir in the sink to its folder, or {loader}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf64(path: &Path) {
        std::fs::write(path, b"\x7fELF\x02\x01\x01rest").expect("write");
    }

    fn quiet_env() -> LoaderEnv {
        LoaderEnv {
            ldconfig: Some(String::new()),
            ..LoaderEnv::default()
        }
    }

    #[test]
    fn client_lib_dir_is_the_only_place_searched() {
        let d = tempfile::tempdir().expect("tmp");
        let s = search(Some(d.path()), &quiet_env());
        assert_eq!(s.found, None);
        assert_eq!(
            s.searched,
            vec![format!("client_lib_dir {}", d.path().display())]
        );
        // Any of ODPI-C's names counts there.
        elf64(&d.path().join("libclntsh.so.19.1"));
        let s = search(Some(d.path()), &quiet_env());
        assert_eq!(s.found, Some(d.path().join("libclntsh.so.19.1")));
    }

    #[test]
    fn loader_path_cache_and_oracle_home() {
        let d = tempfile::tempdir().expect("tmp");
        let (a, b, home) = (
            d.path().join("a"),
            d.path().join("b"),
            d.path().join("home"),
        );
        for p in [&a, &b, &home.join("lib")] {
            std::fs::create_dir_all(p).expect("mkdir");
        }
        let mut env = quiet_env();
        env.ld_library_path = Some(format!("{}::{}", a.display(), b.display()));
        env.oracle_home = Some(home.clone());
        assert_eq!(search(None, &env).found, None);
        elf64(&home.join("lib/libclntsh.so"));
        assert_eq!(
            search(None, &env).found,
            Some(home.join("lib/libclntsh.so"))
        );
        elf64(&b.join("libclntsh.so.21.1"));
        assert_eq!(search(None, &env).found, Some(b.join("libclntsh.so.21.1")));
        // A file with the right name that is not a 64-bit library is skipped.
        std::fs::write(a.join("libclntsh.so"), b"not a library").expect("write");
        let s = search(None, &env);
        assert_eq!(s.found, Some(b.join("libclntsh.so.21.1")));
        assert_eq!(s.unusable, vec![a.join("libclntsh.so")]);
        // The ldconfig cache, as `ldconfig -p` prints it.
        let lib = d.path().join("cache/libclntsh.so.12.1");
        std::fs::create_dir_all(lib.parent().expect("parent")).expect("mkdir");
        elf64(&lib);
        env.ld_library_path = None;
        env.oracle_home = None;
        env.ldconfig = Some(format!(
            "42 libs found in cache `/etc/ld.so.cache'\n\
             \tlibclntsh.so.12.1 (libc6,x86-64) => {}\n",
            lib.display()
        ));
        assert_eq!(search(None, &env).found, Some(lib));
        assert!(
            search(None, &env)
                .searched
                .contains(&"the ldconfig cache".to_string())
        );
    }

    #[test]
    fn the_fix_names_instant_client_the_key_and_ldconfig() {
        let m = how_to_fix(None);
        for part in [
            "Oracle Instant Client",
            "client_lib_dir",
            "ldconfig",
            "LD_LIBRARY_PATH",
        ] {
            assert!(m.contains(part), "{m}");
        }
        let m = how_to_fix(Some(Path::new("/opt/ic")));
        assert!(m.contains("into /opt/ic (client_lib_dir"), "{m}");
        assert!(m.contains("remove client_lib_dir and register"), "{m}");
    }
}

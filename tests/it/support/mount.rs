//! A small tmpfs of a test's own, mounted on a folder of its test folder:
//! a reject folder that is really full. Needs the right to mount
//! (`Need::Mount`); unmounted when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct SmallFs {
    at: PathBuf,
}

fn mount(args: &[&str], at: &Path) -> Result<(), String> {
    let out = Command::new("mount")
        .args(args)
        .arg(at)
        .output()
        .map_err(|e| format!("mount: {e}"))?;
    match out.status.success() {
        true => Ok(()),
        false => Err(format!(
            "mount {args:?} {}: {}",
            at.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

impl SmallFs {
    /// A tmpfs of `kib` KiB at `at` (created if missing).
    pub fn mount(at: &Path, kib: u64) -> Result<SmallFs, String> {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let size = format!("size={kib}k");
        mount(&["-t", "tmpfs", "-o", &size, "tmpfs"], at)?;
        Ok(SmallFs {
            at: at.to_path_buf(),
        })
    }

    /// Grows it to `kib` KiB (space freed).
    pub fn resize(&self, kib: u64) {
        mount(&["-o", &format!("remount,size={kib}k")], &self.at).unwrap();
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

/// Whether this process may mount a tmpfs: tried once.
pub fn can_mount() -> Result<(), String> {
    let d = tempfile::tempdir().map_err(|e| e.to_string())?;
    SmallFs::mount(&d.path().join("m"), 64)
        .map(drop)
        .map_err(|e| {
            format!("cannot mount a tmpfs of the test's own (needs root or CAP_SYS_ADMIN): {e}")
        })
}

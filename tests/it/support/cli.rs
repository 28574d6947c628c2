//! Running the real binary for one command that ends by itself (`load`,
//! `run --once`, `check`, `status`): with a deadline, so a command that
//! hangs (a job retrying forever) fails its test instead of the whole run,
//! and with its exit code checked against its output.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::bin;

/// What a command did.
#[derive(Debug)]
pub struct Ran {
    /// `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The command line, for messages.
    shown: String,
}

impl Ran {
    /// stdout then stderr: what the command said, for searching.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Fails the test unless the command exited with `code`.
    #[track_caller]
    pub fn expect(self, code: i32) -> Ran {
        assert_eq!(
            self.code,
            Some(code),
            "exit code of `ingestd {}`\n--- stdout\n{}\n--- stderr\n{}",
            self.shown,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// One `ingestd` command, built up and then `run`.
pub struct Ingestd {
    cmd: Command,
    shown: String,
    stdin: Vec<u8>,
    deadline: Duration,
}

/// `ingestd ARGS...`, logging at info (whatever the test's environment
/// says) and given two minutes.
pub fn ingestd<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> Ingestd {
    let mut cmd = Command::new(bin());
    cmd.env("INGESTD_LOG", "info");
    let mut i = Ingestd {
        cmd,
        shown: String::new(),
        stdin: Vec::new(),
        deadline: Duration::from_secs(120),
    };
    for a in args {
        i = i.arg(a);
    }
    i
}

impl Ingestd {
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        let a = a.as_ref();
        if !self.shown.is_empty() {
            self.shown.push(' ');
        }
        self.shown.push_str(&a.to_string_lossy());
        self.cmd.arg(a);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Runs it without the capabilities that let root ignore file modes
    /// (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, dropped by `setpriv`), so
    /// that a folder's mode stops it as it stops any other user. Not root:
    /// modes apply already.
    pub fn without_dac(mut self) -> Self {
        if !nix::unistd::geteuid().is_root() {
            return self;
        }
        let caps = "-dac_override,-dac_read_search";
        let mut cmd = Command::new("setpriv");
        cmd.args(["--bounding-set", caps, "--inh-caps", caps, "--"])
            .arg(bin())
            .args(self.cmd.get_args());
        for (k, v) in self.cmd.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        self.cmd = cmd;
        self
    }

    /// Runs it with `JOURNAL_STREAM` naming its stderr (the pipe the test
    /// reads), as systemd names the journal's stream: ingestd then writes
    /// for the journal. Where journald's native socket does not answer (no
    /// systemd here), that is `<N>`-prefixed lines on stderr.
    pub fn journal_stderr(mut self) -> Self {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(r#"JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$0" "$@""#)
            .arg(bin())
            .args(self.cmd.get_args());
        for (k, v) in self.cmd.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        self.cmd = cmd;
        self
    }

    /// Gives it `deadline` instead of two minutes.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Bytes for its standard input (closed after them).
    pub fn stdin(mut self, bytes: Vec<u8>) -> Self {
        self.stdin = bytes;
        self
    }

    /// Runs it to its end; fails the test if that takes longer than the
    /// deadline (the command is killed then).
    pub fn run(mut self) -> Ran {
        let mut child = self
            .cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting `ingestd {}`: {e}", self.shown));
        // Threads, so that neither pipe can fill up while the other is read.
        let input = child.stdin.take().unwrap();
        let bytes = std::mem::take(&mut self.stdin);
        let feeder = std::thread::spawn(move || {
            let mut input = input;
            // A command that does not read its input is not an error here.
            let _ = input.write_all(&bytes);
        });
        let drain = |mut r: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut b = Vec::new();
                let _ = r.read_to_end(&mut b);
                String::from_utf8_lossy(&b).into_owned()
            })
        };
        let out = drain(Box::new(child.stdout.take().unwrap()));
        let err = drain(Box::new(child.stderr.take().unwrap()));
        let t0 = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if t0.elapsed() > self.deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let _ = feeder.join();
        let ran = Ran {
            code: status.and_then(|s| s.code()),
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
            shown: self.shown,
        };
        assert!(
            status.is_some(),
            "`ingestd {}` did not end within {:?}:\n{}",
            ran.shown,
            self.deadline,
            ran.output()
        );
        ran
    }
}

/// `ingestd load --config CONFIG --job JOB FILES...`
pub fn load(config: &Path, job: &str, files: &[&Path]) -> Ran {
    let mut cmd = ingestd(["load", "--config"])
        .arg(config)
        .arg("--job")
        .arg(job);
    for f in files {
        cmd = cmd.arg(f);
    }
    cmd.run()
}

/// `ingestd run --once --config CONFIG`
pub fn run_once(config: &Path) -> Ran {
    ingestd(["run", "--once", "--config"]).arg(config).run()
}

/// `ingestd check --config CONFIG`
pub fn check(config: &Path) -> Ran {
    ingestd(["check", "--config"]).arg(config).run()
}

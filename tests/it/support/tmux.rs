//! A real terminal for a test: a tmux server of the test's own (its socket
//! in the test's folder, no user configuration), one window of a given
//! size running a shell, typed into with `send-keys` and read with
//! `capture-pane`. The server is killed when the value is dropped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    /// A `width` x `height` terminal running `sh` in `dir`, its prompt
    /// `$ `.
    pub fn start(dir: &Path, width: u16, height: u16) -> Tmux {
        let t = Tmux {
            socket: dir.join("tmux.sock"),
        };
        let (w, h) = (width.to_string(), height.to_string());
        t.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            &w,
            "-y",
            &h,
            "-c",
            dir.to_str().unwrap(),
            "env PS1='$ ' sh",
        ]);
        t
    }

    /// `tmux ARGS` on this server, which must succeed; its stdout.
    pub fn run(&self, args: &[&str]) -> String {
        // -u: the pane's text is UTF-8 whatever this machine's locale says
        // (progress bars and sparklines are block characters).
        let o = Command::new("tmux")
            .arg("-u")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        assert!(
            o.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Types `line` and Enter.
    pub fn type_line(&self, line: &str) {
        self.run(&["send-keys", "-l", line]);
        self.run(&["send-keys", "Enter"]);
    }

    /// Presses `key` (tmux's names: `q`, `C-c`, `Escape`).
    pub fn key(&self, key: &str) {
        self.run(&["send-keys", key]);
    }

    /// The screen now, one string per line.
    pub fn screen(&self) -> Vec<String> {
        self.run(&["capture-pane", "-p"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// A tmux format of the pane (`#{alternate_on}`, `#{cursor_flag}`).
    pub fn pane(&self, format: &str) -> String {
        self.run(&["display-message", "-p", format])
            .trim()
            .to_string()
    }

    /// Waits until `pred` holds for the screen; returns that screen.
    #[track_caller]
    pub fn wait_screen(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let t0 = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                t0.elapsed() < timeout,
                "{what}: not on the screen within {timeout:?}:\n{}",
                s.join("\n")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

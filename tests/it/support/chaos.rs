//! The moves the chaos tests share (`chaos_sqlite`, `chaos_pg`,
//! `oracle_chaos`): SIGKILLing a random worker every 0.2-0.4 s while a
//! load runs, and SIGKILLing the supervisor. What must hold afterwards is
//! each test's own to assert.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Daemon, Setup, children, kill};

/// Kills the workers of a supervisor at random moments, with a seeded
/// choice of moment and victim, and counts the kills.
pub struct WorkerKiller {
    rng: fastrand::Rng,
    pub kills: u32,
}

impl WorkerKiller {
    pub fn new(seed: u64) -> WorkerKiller {
        WorkerKiller {
            rng: fastrand::Rng::with_seed(seed),
            kills: 0,
        }
    }

    fn pause(&mut self) -> Duration {
        Duration::from_millis(self.rng.u64(200..400))
    }

    /// SIGKILLs one of `pid`'s workers, picked at random (none if it has none).
    fn kill_one(&mut self, pid: u32) {
        let workers = children(pid);
        if !workers.is_empty() {
            kill(workers[self.rng.usize(..workers.len())], 9);
            self.kills += 1;
        }
    }

    /// Until `done` (asked every `poll`) says so, kills a worker of `d` now
    /// and then; fails the test if `d` ends meanwhile.
    pub fn until(&mut self, d: &mut Daemon, poll: Duration, mut done: impl FnMut(&Daemon) -> bool) {
        let mut next_kill = Instant::now() + self.pause();
        while !done(d) {
            assert!(
                d.child.try_wait().unwrap().is_none(),
                "the daemon ended early:\n{}",
                d.log_text()
            );
            if Instant::now() >= next_kill {
                self.kill_one(d.pid());
                next_kill = Instant::now() + self.pause();
            }
            std::thread::sleep(poll);
        }
    }

    /// Waits for `d` to end, killing a worker every 0.2-0.4 s meanwhile;
    /// returns its exit code. Fails the test after `within`.
    pub fn until_exit(&mut self, d: &mut Daemon, within: Duration) -> i32 {
        let t0 = Instant::now();
        loop {
            let wait = self.pause();
            if let Some(code) = d.wait_exit(wait) {
                return code;
            }
            self.kill_one(d.pid());
            assert!(t0.elapsed() < within, "no end in sight:\n{}", d.log_text());
        }
    }

    /// Starts the supervisor again (`args`, its log at `log`) and kills its
    /// workers until it ends, which must be with 0 within `within`; by then
    /// at least six workers must have been killed over the whole test, or
    /// the load was too short to test anything. Returns the kills.
    pub fn finish(&mut self, args: &[&str], log: &Path, within: Duration) -> u32 {
        let mut second = Daemon::start(args, log);
        let code = self.until_exit(&mut second, within);
        assert_eq!(code, 0, "the second run failed:\n{}", second.log_text());
        assert!(
            self.kills >= 6,
            "only {} worker kills: the load was too short to test anything",
            self.kills
        );
        self.kills
    }
}

/// SIGKILLs the supervisor `d` and waits for it to be reaped; returns the
/// workers it had, which PR_SET_PDEATHSIG should end with it (`all_gone`).
pub fn kill_supervisor(d: &mut Daemon) -> Vec<u32> {
    let workers = children(d.pid());
    kill(d.pid(), 9);
    d.wait_exit(Duration::from_secs(5))
        .expect("supervisor killed");
    workers
}

/// Whether all of `pids` are gone (zombies count as gone) within `timeout`.
pub fn all_gone(pids: &[u32], timeout: Duration) -> bool {
    let t0 = Instant::now();
    while pids.iter().any(|p| alive(*p)) && t0.elapsed() < timeout {
        std::thread::sleep(Duration::from_millis(20));
    }
    !pids.iter().any(|p| alive(*p))
}

/// Whether `pid` runs (a zombie does not).
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// After a chaos run of `file` in `s`: nothing was rejected (a kill is
/// never a reason to reject a record) and the file was archived, which
/// happens only once all of it is committed.
#[track_caller]
pub fn assert_finished_clean(s: &Setup, file: &str) {
    assert!(
        !s.rejects.join(format!("{file}.bad.jsonl")).exists(),
        "nothing may be rejected"
    );
    assert!(
        s.landing.join("archive").join(file).exists(),
        "the file is archived once loaded"
    );
    assert!(!s.landing.join(file).exists());
}

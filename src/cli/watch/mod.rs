//! `ingestd status --watch` (also `ingestd top`): the daemon's status
//! report asked for every second and shown live, full screen on a terminal
//! (`screen.rs`, drawn by `view.rs`), as plain lines otherwise
//! (`plain.rs`); `history.rs` keeps the rates between reports.
//!
//! Owns the choice between the two and the one-second rhythm. It only
//! reads the status socket, as `ingestd status` does: never a database,
//! never the daemon's state.

mod history;
mod plain;
mod screen;
mod view;

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use super::exit;
use super::load_config;

/// How often the daemon is asked.
const REFRESH: Duration = Duration::from_secs(1);

pub(super) fn watch(config_path: &Path) -> u8 {
    let Some(cfg) = load_config(config_path) else {
        return exit::CONFIG;
    };
    let socket = crate::status::socket_path(&cfg.daemon.runtime_dir);
    if std::io::stdout().is_terminal() {
        screen::run(&socket)
    } else {
        plain::run(&socket)
    }
}

/// A steady rhythm: each tick a whole period after the one before, so a
/// slow answer does not push every later refresh back; ticks already
/// missed are skipped, not made up in a burst.
#[derive(Debug)]
struct Ticks {
    next: Instant,
    every: Duration,
}

impl Ticks {
    fn new(now: Instant, every: Duration) -> Ticks {
        Ticks {
            next: now + every,
            every,
        }
    }

    /// How long to wait from `now` for the next tick.
    fn until_next(&mut self, now: Instant) -> Duration {
        while self.next <= now {
            self.next += self.every;
        }
        let wait = self.next - now;
        self.next += self.every;
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_keep_their_rhythm_and_skip_what_was_missed() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let ms = Duration::from_millis;
        let mut t = Ticks::new(t0, s);
        // An answer that took 300 ms: the next tick is still at 1 s.
        assert_eq!(t.until_next(t0 + ms(300)), ms(700));
        // Woken at 1 s, answered at 1.1 s: wait for 2 s.
        assert_eq!(t.until_next(t0 + ms(1_100)), ms(900));
        // An answer that took 3.5 s (from 2 s): ticks 3, 4 and 5 are gone,
        // the next is at 6 s.
        assert_eq!(t.until_next(t0 + ms(5_500)), ms(500));
        assert_eq!(t.until_next(t0 + ms(6_000)), s);
    }
}

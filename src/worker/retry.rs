//! Retrying database work: exponential back-off with full jitter for
//! transient failures, slow and steady for capacity ones (disk full), until
//! the work succeeds, fails for a reason no retry fixes, the supervisor asks
//! the worker to stop (the waits are `Pause`s, which watch for that), or the
//! run's `give_up_after` has passed since the first failure.
//!
//! Owns the policy only; what is retried is the caller's, and how a wait
//! watches the supervisor is `inbox`'s.

use std::time::{Duration, Instant};

use tracing::warn;

use super::sink::SinkError;
use crate::protocol::ErrorClass;

const FIRST: Duration = Duration::from_millis(100);
const MAX: Duration = Duration::from_secs(30);
const CAPACITY_WAIT: Duration = Duration::from_secs(30);

/// A wait between attempts that ends early when the worker must stop.
pub trait Pause {
    fn pause(&mut self, wait: Duration) -> Result<(), Stopped>;
}

/// The supervisor asked this worker to stop (Shutdown, or the end of its
/// pipe) while it waited to retry.
#[derive(Debug, PartialEq, Eq)]
pub struct Stopped;

#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// Still failing when `give_up_after` ran out; `last` is the last error.
    #[error("{}", gave_up(last, *waited, *limit))]
    GaveUp {
        waited: Duration,
        limit: Duration,
        last: SinkError,
    },
    #[error("asked to stop while waiting to retry")]
    Stopped,
}

impl From<Stopped> for RetryError {
    fn from(_: Stopped) -> Self {
        RetryError::Stopped
    }
}

/// The last error, and (when there was a limit to retry) that this run
/// stopped retrying and what becomes of the rest.
fn gave_up(last: &SinkError, waited: Duration, limit: Duration) -> String {
    if limit.is_zero() {
        return last.to_string();
    }
    format!(
        "{last}; still failing after {:.1}s of retrying, so this run gives up \
         (--give-up-after {}): what is not loaded stays where it is for the next run",
        waited.as_secs_f64(),
        crate::config::show_duration(limit)
    )
}

pub struct Backoff {
    next: Duration,
    /// When the first failure was seen, and how long to go on after it.
    since: Option<Instant>,
    give_up: Option<Duration>,
}

impl Backoff {
    /// `give_up`: how long after the first failure to stop retrying (`None`:
    /// never, as the daemon does).
    pub fn new(give_up: Option<Duration>) -> Self {
        Backoff {
            next: FIRST,
            since: None,
            give_up,
        }
    }

    /// How long to wait before the next attempt after a failure of `class`;
    /// `Err` with the time spent failing once `give_up` has passed. The last
    /// wait is cut so that the last attempt comes at the limit, not after.
    pub fn next(&mut self, class: ErrorClass) -> Result<Duration, Duration> {
        let since = *self.since.get_or_insert_with(Instant::now);
        let wait = self.wait(class);
        let Some(limit) = self.give_up else {
            return Ok(wait);
        };
        let spent = since.elapsed();
        match limit.checked_sub(spent) {
            // Whole milliseconds (for the log line), rounded up: the last
            // attempt comes at the limit, never before it.
            Some(left) if !left.is_zero() => {
                let left = Duration::from_millis(left.as_micros().div_ceil(1000) as u64);
                Ok(wait.min(left))
            }
            _ => Err(spent),
        }
    }

    fn wait(&mut self, class: ErrorClass) -> Duration {
        if class == ErrorClass::Capacity {
            return CAPACITY_WAIT;
        }
        let cap = self.next;
        self.next = (self.next * 2).min(MAX);
        // Full jitter keeps several workers from retrying in lock-step.
        let ms = cap.as_millis() as u64;
        Duration::from_millis(ms / 2 + fastrand::u64(0..=ms / 2))
    }
}

/// Runs `op` until it succeeds or fails with a class that retrying cannot fix
/// (configuration, data), waiting through `pause` between attempts; gives up
/// after `give_up` (see `Backoff::new`).
pub fn retrying<T>(
    give_up: Option<Duration>,
    pause: &mut dyn Pause,
    mut op: impl FnMut() -> Result<T, SinkError>,
) -> Result<T, RetryError> {
    let mut backoff = Backoff::new(give_up);
    loop {
        match op() {
            Err(e) if matches!(e.class(), ErrorClass::Transient | ErrorClass::Capacity) => {
                let wait = match backoff.next(e.class()) {
                    Ok(wait) => wait,
                    Err(waited) => {
                        let limit = give_up.unwrap_or_default();
                        return Err(RetryError::GaveUp {
                            waited,
                            limit,
                            last: e,
                        });
                    }
                };
                warn!(class = %e.class(), retry_in = ?wait, "{e}");
                pause.pause(wait)?;
            }
            other => return Ok(other?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_a_cap_with_jitter() {
        let mut b = Backoff::new(None);
        let waits: Vec<_> = (0..12)
            .map(|_| b.next(ErrorClass::Transient).unwrap())
            .collect();
        assert!(waits[0] >= Duration::from_millis(50) && waits[0] <= FIRST);
        assert!(waits[11] >= MAX / 2 && waits[11] <= MAX);
        assert_eq!(b.next(ErrorClass::Capacity), Ok(CAPACITY_WAIT));
    }

    /// Sleeps for real (the waits are short), and stops when told to.
    struct Clock {
        slept: Vec<Duration>,
        stop_after: usize,
    }

    impl Pause for Clock {
        fn pause(&mut self, wait: Duration) -> Result<(), Stopped> {
            if self.slept.len() == self.stop_after {
                return Err(Stopped);
            }
            self.slept.push(wait);
            std::thread::sleep(wait);
            Ok(())
        }
    }

    fn down() -> Result<(), SinkError> {
        Err(SinkError::Open {
            class: ErrorClass::Transient,
            detail: "connection refused".into(),
        })
    }

    #[test]
    fn gives_up_at_the_limit_with_the_last_error() {
        let mut clock = Clock {
            slept: Vec::new(),
            stop_after: usize::MAX,
        };
        let t0 = Instant::now();
        let limit = Duration::from_millis(700);
        let e = retrying(Some(limit), &mut clock, down).expect_err("gives up");
        let took = t0.elapsed();
        assert!(
            took >= limit && took < limit + Duration::from_millis(300),
            "{took:?}"
        );
        let RetryError::GaveUp { waited, last, .. } = &e else {
            panic!("{e}");
        };
        assert!(*waited >= limit, "{waited:?}");
        assert!(last.to_string().contains("connection refused"), "{last}");
        assert!(e.to_string().contains("--give-up-after 700ms"), "{e}");
        // The last wait was cut to end at the limit.
        assert!(clock.slept.iter().sum::<Duration>() <= limit);
    }

    #[test]
    fn zero_means_one_attempt_and_none_means_forever_until_stopped() {
        let mut clock = Clock {
            slept: Vec::new(),
            stop_after: 3,
        };
        let e = retrying(Some(Duration::ZERO), &mut clock, down).expect_err("no retry");
        assert!(matches!(e, RetryError::GaveUp { .. }), "{e}");
        assert!(clock.slept.is_empty());
        let e = retrying(None, &mut clock, down).expect_err("stopped");
        assert!(matches!(e, RetryError::Stopped), "{e}");
        assert_eq!(clock.slept.len(), 3);
    }

    #[test]
    fn what_no_retry_fixes_is_returned_at_once() {
        let mut clock = Clock {
            slept: Vec::new(),
            stop_after: usize::MAX,
        };
        let config = || -> Result<(), SinkError> { Err(SinkError::bad_request("no table".into())) };
        let e = retrying(None, &mut clock, config).expect_err("config");
        assert!(matches!(e, RetryError::Sink(_)), "{e}");
        assert!(clock.slept.is_empty());
    }
}

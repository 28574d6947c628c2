//! Back-off for retrying database work: exponential with full jitter for
//! transient failures, slow and steady for capacity ones (disk full).

use std::time::Duration;

use crate::protocol::ErrorClass;

const FIRST: Duration = Duration::from_millis(100);
const MAX: Duration = Duration::from_secs(30);
const CAPACITY_WAIT: Duration = Duration::from_secs(30);

pub struct Backoff {
    next: Duration,
}

impl Backoff {
    pub fn new() -> Self {
        Backoff { next: FIRST }
    }

    /// How long to wait before the next attempt after a failure of `class`.
    pub fn next(&mut self, class: ErrorClass) -> Duration {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_a_cap_with_jitter() {
        let mut b = Backoff::new();
        let waits: Vec<_> = (0..12).map(|_| b.next(ErrorClass::Transient)).collect();
        assert!(waits[0] >= Duration::from_millis(50) && waits[0] <= FIRST);
        assert!(waits[11] >= MAX / 2 && waits[11] <= MAX);
        assert_eq!(b.next(ErrorClass::Capacity), CAPACITY_WAIT);
    }
}

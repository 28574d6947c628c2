//! Rows per second over the last ten seconds, from periodic samples of a
//! running total.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct Rate {
    samples: VecDeque<(Instant, u64)>,
}

impl Rate {
    /// Records `total` at `now` (at most one sample a second is kept).
    pub fn sample(&mut self, now: Instant, total: u64) {
        if self
            .samples
            .back()
            .is_some_and(|(t, _)| now.duration_since(*t) < Duration::from_secs(1))
        {
            return;
        }
        self.samples.push_back((now, total));
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > WINDOW)
        {
            self.samples.pop_front();
        }
    }

    pub fn per_second(&self) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some((t0, a)), Some((t1, b))) if t1 > t0 => {
                (b - a) as f64 / t1.duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_over_the_window() {
        let t = Instant::now();
        let mut r = Rate::default();
        assert_eq!(r.per_second(), 0.0);
        for s in 0..=20u64 {
            r.sample(t + Duration::from_secs(s), s * 100);
        }
        assert!((r.per_second() - 100.0).abs() < 1e-9);
    }
}

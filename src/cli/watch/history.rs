//! What the live view remembers between reports: per job, the rows/s of
//! each refresh over the last minute (the sparkline), computed here from
//! successive reports' `loaded` counts.
//!
//! Owns the rate arithmetic only; it neither asks the daemon nor draws.
//! The daemon's clock (`uptime_s`) times the deltas, not this process's:
//! a report that was slow to arrive then does not make a spike.

use std::collections::{BTreeMap, VecDeque};

use crate::status::StatusReport;

/// Samples kept per job: one a refresh, a refresh a second, so a minute.
pub const SAMPLES: usize = 60;

#[derive(Debug, Default)]
pub struct History {
    /// The daemon the samples came from: another pid is another daemon,
    /// whose counts start again from 0.
    pid: Option<u32>,
    jobs: BTreeMap<String, JobHistory>,
}

#[derive(Debug, Default)]
struct JobHistory {
    /// The last report's daemon uptime and loaded count.
    last: Option<(f64, u64)>,
    /// Rows/s of each refresh, oldest first.
    rates: VecDeque<f64>,
}

impl History {
    /// Takes in one report.
    pub fn observe(&mut self, r: &StatusReport) {
        if self.pid != Some(r.pid) {
            self.jobs.clear();
            self.pid = Some(r.pid);
        }
        // A job removed by a reload is forgotten; one that comes back
        // starts afresh.
        self.jobs
            .retain(|name, _| r.jobs.iter().any(|j| &j.name == name));
        for j in &r.jobs {
            let h = self.jobs.entry(j.name.clone()).or_default();
            let rate = match h.last {
                // The same report again (or a clock that went back): no
                // new sample.
                Some((t, _)) if r.uptime_s <= t => continue,
                Some((t, n)) if j.loaded >= n => (j.loaded - n) as f64 / (r.uptime_s - t),
                // The first report of a job, or a count that went down
                // (a job restarted by a reload): the daemon's own rate,
                // over its last seconds, until there is a delta to take.
                _ => j.rows_per_s,
            };
            h.last = Some((r.uptime_s, j.loaded));
            if h.rates.len() == SAMPLES {
                h.rates.pop_front();
            }
            h.rates.push_back(rate);
        }
    }

    /// The job's rows/s at the last report (0 for a job never seen).
    pub fn rate(&self, job: &str) -> f64 {
        self.jobs
            .get(job)
            .and_then(|h| h.rates.back().copied())
            .unwrap_or(0.0)
    }

    /// The job's rows/s of the last minute, oldest first, rounded for a
    /// sparkline.
    pub fn sparkline(&self, job: &str) -> Vec<u64> {
        self.jobs.get(job).map_or_else(Vec::new, |h| {
            h.rates.iter().map(|r| r.round() as u64).collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::JobStatus;

    fn report(pid: u32, uptime_s: f64, jobs: &[(&str, u64, f64)]) -> StatusReport {
        StatusReport {
            pid,
            uptime_s,
            jobs: jobs
                .iter()
                .map(|&(name, loaded, rows_per_s)| JobStatus {
                    name: name.into(),
                    loaded,
                    rows_per_s,
                    ..JobStatus::default()
                })
                .collect(),
            ..StatusReport::default()
        }
    }

    #[test]
    fn rates_come_from_successive_loaded_counts_on_the_daemons_clock() {
        let mut h = History::default();
        h.observe(&report(1, 10.0, &[("a", 1_000, 77.0)]));
        // Nothing to take a delta from yet: the daemon's own figure.
        assert_eq!(h.rate("a"), 77.0);
        h.observe(&report(1, 11.0, &[("a", 1_500, 77.0)]));
        assert_eq!(h.rate("a"), 500.0);
        // Two seconds of the daemon's clock, however late it arrived.
        h.observe(&report(1, 13.0, &[("a", 2_500, 77.0)]));
        assert_eq!(h.rate("a"), 500.0);
        h.observe(&report(1, 14.0, &[("a", 2_500, 77.0)]));
        assert_eq!(h.rate("a"), 0.0);
        assert_eq!(h.sparkline("a"), vec![77, 500, 500, 0]);
        assert_eq!(h.rate("nothing"), 0.0);
        assert!(h.sparkline("nothing").is_empty());
    }

    #[test]
    fn the_same_report_twice_adds_no_sample() {
        let mut h = History::default();
        h.observe(&report(1, 10.0, &[("a", 0, 0.0)]));
        h.observe(&report(1, 11.0, &[("a", 100, 0.0)]));
        h.observe(&report(1, 11.0, &[("a", 100, 0.0)]));
        assert_eq!(h.sparkline("a"), vec![0, 100]);
    }

    #[test]
    fn another_daemon_or_a_reset_count_starts_afresh() {
        let mut h = History::default();
        h.observe(&report(1, 10.0, &[("a", 5_000, 0.0)]));
        h.observe(&report(1, 11.0, &[("a", 6_000, 0.0)]));
        // Restarted: pid 2, counting from 0 again.
        h.observe(&report(2, 1.0, &[("a", 10, 3.0)]));
        assert_eq!(h.sparkline("a"), vec![3]);
        // A count going down in the same daemon: its own rate again.
        h.observe(&report(2, 2.0, &[("a", 5, 4.0)]));
        assert_eq!(h.rate("a"), 4.0);
        assert_eq!(h.sparkline("a"), vec![3, 4]);
    }

    #[test]
    fn keeps_a_minute_and_forgets_removed_jobs() {
        let mut h = History::default();
        for s in 0..100u64 {
            h.observe(&report(1, s as f64, &[("a", s * 10, 0.0), ("b", 0, 0.0)]));
        }
        let spark = h.sparkline("a");
        assert_eq!(spark.len(), SAMPLES);
        assert!(spark.iter().all(|&r| r == 10), "{spark:?}");
        h.observe(&report(1, 100.0, &[("a", 1_000, 0.0)]));
        assert!(h.sparkline("b").is_empty());
    }
}

//! The live view when stdout is not a terminal (a pipe, a file, a log
//! collector): one line per job per refresh, nothing else on stdout, each
//! flushed as it is written so that a reader sees it at once.
//!
//! Owns the line format and the loop that writes it; the terminal view is
//! `screen.rs`. A daemon that does not answer is said on stderr (once per
//! outage, so that a log does not fill with it) and asked again next
//! second; a reader that goes away ends the loop quietly.

use std::io::{self, Write};
use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Local, SecondsFormat};

use super::history::History;
use super::{REFRESH, Ticks};
use crate::cli::exit;
use crate::status::StatusReport;

/// One line per job, as `key=value` fields after the time, so that `awk`
/// and log collectors split them without a parser of their own (job names
/// are letters, digits, `_` and `-`: nothing to quote).
pub fn lines(at: DateTime<Local>, r: &StatusReport, h: &History) -> Vec<String> {
    let at = at.to_rfc3339_opts(SecondsFormat::Secs, false);
    r.jobs
        .iter()
        .map(|j| {
            format!(
                "{at} job={} rows_per_s={:.0} loaded={} rejected={} in_flight={} backlog_files={} backlog_batches={}",
                j.name,
                h.rate(&j.name),
                j.loaded,
                j.rejected,
                j.in_flight,
                j.backlog_files,
                j.backlog_batches
            )
        })
        .collect()
}

/// Writes the lines each second until stdout is closed.
pub fn run(socket: &Path) -> u8 {
    let mut out = io::stdout().lock();
    let mut history = History::default();
    let mut failing = false;
    let mut ticks = Ticks::new(Instant::now(), REFRESH);
    loop {
        match crate::status::query(socket) {
            Ok(report) => {
                if failing {
                    eprintln!("ingestd: daemon answering again (pid {})", report.pid);
                    failing = false;
                }
                history.observe(&report);
                for line in lines(Local::now(), &report, &history) {
                    // SIGPIPE is the default for this command, so a closed
                    // pipe usually ends the process before this; a stdout
                    // that fails otherwise (a full disk) ends it too.
                    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                        return exit::OK;
                    }
                }
            }
            Err(e) => {
                if !failing {
                    eprintln!("ingestd: daemon not answering: {e}; asking again every second");
                    failing = true;
                }
            }
        }
        std::thread::sleep(ticks.until_next(Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::JobStatus;
    use chrono::TimeZone;

    #[test]
    fn one_line_per_job_with_its_figures() {
        let r = StatusReport {
            pid: 3,
            uptime_s: 20.0,
            jobs: vec![
                JobStatus {
                    name: "orders".into(),
                    loaded: 1_500,
                    rejected: 2,
                    rows_per_s: 812.4,
                    in_flight: 1,
                    backlog_files: 3,
                    backlog_batches: 4,
                    ..JobStatus::default()
                },
                JobStatus {
                    name: "logs-2".into(),
                    ..JobStatus::default()
                },
            ],
            ..StatusReport::default()
        };
        let mut h = History::default();
        h.observe(&r);
        let at = Local.with_ymd_and_hms(2026, 12, 6, 21, 30, 1).unwrap();
        let got = lines(at, &r, &h);
        let stamp = at.to_rfc3339_opts(SecondsFormat::Secs, false);
        assert_eq!(
            got,
            vec![
                format!(
                    "{stamp} job=orders rows_per_s=812 loaded=1500 rejected=2 in_flight=1 backlog_files=3 backlog_batches=4"
                ),
                format!(
                    "{stamp} job=logs-2 rows_per_s=0 loaded=0 rejected=0 in_flight=0 backlog_files=0 backlog_batches=0"
                ),
            ]
        );
        assert!(stamp.starts_with("2026-12-06T21:30:01"), "{stamp}");
    }
}

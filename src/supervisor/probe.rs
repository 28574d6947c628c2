//! `ingestd check --connect`: for each job, a worker is started the same way
//! the daemon starts them (fork+exec, configuration as the first frame); it
//! makes one attempt at opening its pool (no retries: `give_up_after` zero),
//! checks the job's table and columns without creating the table (opening a
//! pool creates the ledger table when it is missing, as on a first load),
//! closes its pool and exits. This process itself never touches a database.
//!
//! Every answer has a deadline: the pool's within the sink's own open
//! timeout plus `OPEN_MARGIN` (a connect the driver does not bound, such as
//! a server that accepts TCP and then says nothing, is cut there), the
//! table check's within `CHECK_TIME`. A worker past its deadline is killed.
//!
//! Owns the probe's conversation with one worker; rendering is the caller's.

use std::io::BufReader;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::config::Job;
use crate::logging::LogSetup;
use crate::process;
use crate::protocol::{ErrorClass, FrameReader, FrameWriter, FromWorker, ToWorker, WorkerSetup};

/// Time on top of the sink's open timeout for the worker to start, and for
/// TLS and authentication on a server that answers.
const OPEN_MARGIN: Duration = Duration::from_secs(3);
/// The open deadline of a sink without an open timeout of its own (Oracle).
const OPEN_DEFAULT: Duration = Duration::from_secs(120);
/// For the table check once the pool is open: a few catalog queries.
const CHECK_TIME: Duration = Duration::from_secs(60);
/// For the worker to close its pool and exit after answering.
const EXIT_TIME: Duration = Duration::from_secs(30);

/// What the probe of one job found.
#[derive(Debug)]
pub enum Probe {
    /// Pool opened, table and columns usable.
    Ok,
    /// Pool opened; the table is missing or lacks columns.
    Table(String),
    /// The pool could not be opened: with the failure's class when the
    /// database gave one (no answer in time counts as transient), `None`
    /// when the worker itself failed.
    Pool {
        class: Option<ErrorClass>,
        message: String,
    },
}

impl Probe {
    fn failed(message: String) -> Probe {
        Probe::Pool {
            class: None,
            message,
        }
    }
}

/// Runs the probe of `job` with a worker started from `exe`.
pub fn probe(exe: &Path, job: &Job, log: &LogSetup) -> Probe {
    let proc = match process::spawn_worker(exe) {
        Ok(p) => p,
        Err(e) => return Probe::failed(e.to_string()),
    };
    let pid = proc.pid;
    let (result, answered) = converse(proc.to_worker, proc.from_worker, job, log);
    // The worker exits after Shutdown (or the closed pipe); make sure of it.
    let t0 = Instant::now();
    loop {
        if process::reap_children().iter().any(|(p, _)| *p == pid) {
            break;
        }
        if !answered || t0.elapsed() > EXIT_TIME {
            process::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), None);
            if answered {
                return Probe::failed(format!(
                    "the worker did not exit within {EXIT_TIME:?} of answering"
                ));
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    result
}

/// The worker's answer, and whether it came in time (else the worker is
/// still busy and must be killed).
fn converse(to: std::fs::File, from: std::fs::File, job: &Job, log: &LogSetup) -> (Probe, bool) {
    let mut tx = FrameWriter::new(to);
    let mut rx = FrameReader::new(BufReader::new(from));
    // The probe only looks: the table is never created, and one attempt
    // answers whether the database can be reached now.
    let setup = WorkerSetup {
        create_table: false,
        give_up_after: Some(Duration::ZERO),
        ..WorkerSetup::for_job(job, 0, log.clone())
    };
    let columns = job.columns.clone().unwrap_or_default();
    let sent = tx
        .write(&ToWorker::Hello(Box::new(setup)))
        .and_then(|()| tx.write(&ToWorker::Check { columns }))
        .and_then(|()| tx.write(&ToWorker::Shutdown));
    if let Err(e) = sent {
        return (Probe::failed(format!("talking to the worker: {e}")), true);
    }
    let open = job.sink.open_timeout();
    let mut deadline = Instant::now() + open.map_or(OPEN_DEFAULT, |(_, t)| t + OPEN_MARGIN);
    let mut ready = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.wait(left) {
            Ok(true) => {}
            Ok(false) => return (late(job, ready, open), false),
            Err(e) => {
                return (
                    Probe::failed(format!("reading the worker's answer: {e}")),
                    true,
                );
            }
        }
        let answer = match rx.read::<FromWorker>() {
            Ok(Some(FromWorker::Ready { .. })) => {
                ready = true;
                deadline = Instant::now() + CHECK_TIME;
                continue;
            }
            Ok(Some(FromWorker::Checked { problem: None })) => Probe::Ok,
            Ok(Some(FromWorker::Checked { problem: Some(p) })) => Probe::Table(p),
            Ok(Some(FromWorker::Fatal { class, message })) => Probe::Pool {
                class: Some(class),
                message,
            },
            Ok(Some(_)) => continue,
            Ok(None) => {
                Probe::failed("the worker ended without an answer (see its log lines)".into())
            }
            Err(e) => Probe::failed(format!("reading the worker's answer: {e}")),
        };
        return (answer, true);
    }
}

/// No answer in time: the pool (or, once it is open, the table check).
fn late(job: &Job, ready: bool, open: Option<(&str, Duration)>) -> Probe {
    let shown = crate::config::show_duration;
    let message = match (ready, open) {
        (true, _) => format!(
            "the pool opened, but the check of table {} got no answer within {}",
            job.table,
            shown(CHECK_TIME)
        ),
        (false, Some((key, t))) => format!(
            "no connection within {} (the sink's {key} {} + {}): the database does not answer \
             (a server that accepts the connection and then says nothing, a name that does \
             not resolve, a firewall that drops packets)",
            shown(t + OPEN_MARGIN),
            shown(t),
            shown(OPEN_MARGIN)
        ),
        (false, None) => format!(
            "no connection within {}: the database does not answer",
            shown(OPEN_DEFAULT)
        ),
    };
    Probe::Pool {
        class: Some(ErrorClass::Transient),
        message,
    }
}

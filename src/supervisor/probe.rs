//! `ingestd check --connect`: for each job, a worker is started the same way
//! the daemon starts them (fork+exec, configuration as the first frame); it
//! opens its pool, checks the job's table and columns without creating the
//! table (opening a pool creates the ledger table when it is missing, as on a
//! first load), closes its pool and exits. This process itself never touches a
//! database.
//!
//! Owns the probe's conversation with one worker; rendering is the caller's.

use std::io::BufReader;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::config::Job;
use crate::logging::LogSetup;
use crate::process;
use crate::protocol::{FrameReader, FrameWriter, FromWorker, ToWorker, WorkerSetup};

/// What the probe of one job found.
#[derive(Debug)]
pub enum Probe {
    /// Pool opened, table and columns usable.
    Ok,
    /// Pool opened; the table is missing or lacks columns.
    Table(String),
    /// The pool could not be opened (or the worker failed).
    Pool(String),
}

/// Runs the probe of `job` with a worker started from `exe`.
pub fn probe(exe: &Path, job: &Job, log: &LogSetup, timeout: Duration) -> Probe {
    let proc = match process::spawn_worker(exe) {
        Ok(p) => p,
        Err(e) => return Probe::Pool(e.to_string()),
    };
    let pid = proc.pid;
    let result = converse(proc.to_worker, proc.from_worker, job, log);
    // The worker exits after Shutdown (or the closed pipe); make sure of it.
    let t0 = Instant::now();
    loop {
        if process::reap_children().iter().any(|(p, _)| *p == pid) {
            break;
        }
        if t0.elapsed() > timeout {
            process::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), None);
            return Probe::Pool(format!("the worker did not finish within {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    result
}

fn converse(to: std::fs::File, from: std::fs::File, job: &Job, log: &LogSetup) -> Probe {
    let mut tx = FrameWriter::new(to);
    let mut rx = FrameReader::new(BufReader::new(from));
    // The probe only looks: the table is never created.
    let setup = WorkerSetup {
        create_table: false,
        ..WorkerSetup::for_job(job, 0, log.clone())
    };
    let columns = job.columns.clone().unwrap_or_default();
    let sent = tx
        .write(&ToWorker::Hello(Box::new(setup)))
        .and_then(|()| tx.write(&ToWorker::Check { columns }))
        .and_then(|()| tx.write(&ToWorker::Shutdown));
    if let Err(e) = sent {
        return Probe::Pool(format!("talking to the worker: {e}"));
    }
    loop {
        match rx.read::<FromWorker>() {
            Ok(Some(FromWorker::Ready { .. })) => {}
            Ok(Some(FromWorker::Checked { problem: None })) => return Probe::Ok,
            Ok(Some(FromWorker::Checked { problem: Some(p) })) => return Probe::Table(p),
            Ok(Some(FromWorker::Fatal { message, .. })) => return Probe::Pool(message),
            Ok(Some(_)) => {}
            Ok(None) => {
                return Probe::Pool(
                    "the worker ended without an answer (see its log lines)".into(),
                );
            }
            Err(e) => return Probe::Pool(format!("reading the worker's answer: {e}")),
        }
    }
}

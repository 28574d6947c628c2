//! A worker of the real binary, driven as the supervisor drives one: started
//! with the crate's own `process::spawn_worker` (fork+exec of `ingestd
//! worker`, its pipes on fds 3 and 4), `Hello(WorkerSetup)` as its first
//! frame, then batches of raw CSV record bytes with their `Layout`, ledger
//! and check questions, and `Shutdown`. Its answers are read by a thread,
//! so a test waits for one with a deadline; its log goes to a file of its
//! own. `Feed` cuts the batches of one source as the cutter would.
//!
//! The worker is reaped by its pid only (`waitpid(pid)`): the test process
//! runs other tests' children too, and a `waitpid(-1)` would take theirs.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use ingestd::config::{PostgresSink, Sink, WriteMode};
use ingestd::format::{ColumnSpec, ColumnType, CsvFormat, Format, Layout};
use ingestd::protocol::{
    Batch, BatchDone, ErrorClass, FrameReader, FrameWriter, FromWorker, LedgerRange, ToWorker,
    WorkerSetup,
};
use ingestd::{LogFormat, LogSetup};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::bin;

/// How long a worker may take to answer: a batch with bad rows to isolate,
/// or a retry after a lost session, takes a few seconds.
const ANSWER: Duration = Duration::from_secs(60);

/// Exit code of a worker that sent `Fatal` (`worker::exit::FATAL`).
const FATAL: i32 = 71;

/// The setup of worker 1 of job `job`, writing plain inserts into `table`
/// of the PostgreSQL `sink`, from headerless CSV; logging at info. Tests
/// change its fields before `Worker::start`.
pub fn pg_setup(sink: PostgresSink, job: &str, table: &str) -> WorkerSetup {
    WorkerSetup {
        job: job.into(),
        worker: 1,
        sink_name: "pg".into(),
        sink: Sink::Postgres(sink),
        table: table.into(),
        create_table: false,
        mode: WriteMode::Insert,
        format: Format::Csv(CsvFormat {
            header: false,
            ..CsvFormat::default()
        }),
        header_columns: false,
        log: LogSetup {
            filter: "info".into(),
            format: LogFormat::Text,
            journal: false,
            ansi: false,
            file: None,
        },
        give_up_after: None,
    }
}

/// A column of a job: `name`, its type and whether it may be NULL.
pub fn col(name: &str, ty: ColumnType, nullable: bool) -> ColumnSpec {
    ColumnSpec {
        ty,
        nullable,
        ..ColumnSpec::text(name)
    }
}

/// `text` (no length limit).
pub const TEXT: ColumnType = ColumnType::Text { max_chars: None };

/// One live worker process and the supervisor's ends of its pipes.
pub struct Worker {
    pub pid: u32,
    to: Option<FrameWriter<File>>,
    answers: Receiver<FromWorker>,
    log: PathBuf,
    _dir: tempfile::TempDir,
    exit: Option<WaitStatus>,
}

impl Worker {
    /// Starts a worker and sends it `setup` (its log goes to a file here).
    pub fn start(mut setup: WorkerSetup) -> Worker {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("worker.log");
        setup.log.file = Some(log.clone());
        let p = ingestd::process::spawn_worker(bin().as_ref()).expect("start a worker");
        let (tx, answers) = channel();
        let from = p.from_worker;
        std::thread::spawn(move || {
            let mut r = FrameReader::new(BufReader::new(from));
            // Until the end of the pipe (the worker exited) or a bad frame,
            // which the test sees as the end of answers.
            while let Ok(Some(msg)) = r.read::<FromWorker>() {
                if tx.send(msg).is_err() {
                    return;
                }
            }
        });
        let mut w = Worker {
            pid: p.pid,
            to: Some(FrameWriter::new(p.to_worker)),
            answers,
            log,
            _dir: dir,
            exit: None,
        };
        w.send(ToWorker::Hello(Box::new(setup)));
        w
    }

    /// Waits for `Ready` (the pool is open); returns the worker's pid.
    #[track_caller]
    pub fn ready(&mut self) -> u32 {
        match self.answer() {
            FromWorker::Ready { pid } => pid,
            other => panic!("expected Ready, got {other:?}\n{}", self.log()),
        }
    }

    pub fn send(&mut self, msg: ToWorker) {
        let to = self.to.as_mut().expect("the pipe to the worker is open");
        to.write(&msg)
            .unwrap_or_else(|e| panic!("sending to the worker: {e}"));
    }

    /// The next answer; fails the test if none comes in time.
    #[track_caller]
    pub fn answer(&mut self) -> FromWorker {
        match self.answers.recv_timeout(ANSWER) {
            Ok(msg) => msg,
            Err(RecvTimeoutError::Timeout) => {
                panic!("no answer within {ANSWER:?}:\n{}", self.log())
            }
            Err(RecvTimeoutError::Disconnected) => {
                let exit = self.wait_exit(Duration::from_secs(10));
                panic!(
                    "the worker ended ({exit:?}) without answering:\n{}",
                    self.log()
                )
            }
        }
    }

    /// An answer that came within `within`, if any.
    pub fn answer_within(&mut self, within: Duration) -> Option<FromWorker> {
        self.answers.recv_timeout(within).ok()
    }

    /// Loads `batch`; its `Done`.
    #[track_caller]
    pub fn load(&mut self, batch: &Arc<Batch>) -> BatchDone {
        self.send(ToWorker::Batch(batch.clone()));
        self.done(batch)
    }

    /// The `Done` of `batch`, sent earlier.
    #[track_caller]
    pub fn done(&mut self, batch: &Batch) -> BatchDone {
        match self.answer() {
            FromWorker::Done(d) if d.id == batch.id => d,
            other => panic!(
                "expected Done of batch {}, got {other:?}\n{}",
                batch.id,
                self.log()
            ),
        }
    }

    /// The committed ranges of `source`, as the worker reads them from the
    /// ledger (its parts put together).
    #[track_caller]
    pub fn ledger(&mut self, source: &str) -> Vec<LedgerRange> {
        self.send(ToWorker::Ledger {
            query: 7,
            source: source.into(),
        });
        let mut all = Vec::new();
        loop {
            match self.answer() {
                FromWorker::LedgerPart { query: 7, ranges } => all.extend(ranges),
                FromWorker::Ledger { query: 7, ranges } => {
                    all.extend(ranges);
                    return all;
                }
                other => panic!("expected the ledger, got {other:?}\n{}", self.log()),
            }
        }
    }

    /// The next answer must be `Fatal`, and the worker must then exit with
    /// the code that says so; returns its class and message.
    #[track_caller]
    pub fn fatal(&mut self) -> (ErrorClass, String) {
        let (class, message) = match self.answer() {
            FromWorker::Fatal { class, message } => (class, message),
            other => panic!("expected Fatal, got {other:?}\n{}", self.log()),
        };
        let exit = self.wait_exit(Duration::from_secs(30));
        assert_eq!(exit, Some(FATAL), "exit after Fatal:\n{}", self.log());
        (class, message)
    }

    /// `Shutdown`, then the pipe closed: the worker closes its pool and
    /// exits; returns its exit code.
    #[track_caller]
    pub fn shutdown(mut self) -> Option<i32> {
        self.send(ToWorker::Shutdown);
        self.to = None;
        self.wait_exit(Duration::from_secs(30))
    }

    /// Waits for the worker to end; its exit code (`None`: killed by a
    /// signal). Fails the test if it is still running after `within`.
    #[track_caller]
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let t0 = Instant::now();
        let pid = Pid::from_raw(self.pid as i32);
        while self.exit.is_none() {
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {
                    assert!(
                        t0.elapsed() < within,
                        "still running after {within:?}:\n{}",
                        self.log()
                    );
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                    self.exit = Some(status)
                }
                Ok(_) => {}
                Err(e) => panic!("waitpid({pid}): {e}"),
            }
        }
        match self.exit {
            Some(WaitStatus::Exited(_, code)) => Some(code),
            _ => None,
        }
    }

    /// SIGKILLs the worker and reaps it.
    pub fn kill(&mut self) {
        if self.exit.is_none() {
            ingestd::process::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
            self.wait_exit(Duration::from_secs(10));
        }
    }

    /// What the worker has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log has `count` lines containing every one of `parts`.
    #[track_caller]
    pub fn expect_log(&self, parts: &[&str], count: usize, within: Duration) {
        let t0 = Instant::now();
        let lines = || {
            let log = self.log();
            log.lines()
                .filter(|l| parts.iter().all(|p| l.contains(p)))
                .count()
        };
        while lines() < count {
            assert!(
                t0.elapsed() < within,
                "{count} lines with {parts:?} not logged within {within:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // A test that failed half-way leaves no worker behind.
        if self.exit.is_none() {
            ingestd::process::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(self.pid as i32), None);
        }
    }
}

/// The batches of one source (`src`, file `test.csv`): consecutive byte
/// ranges and line numbers from the start, as the cutter makes them.
pub struct Feed {
    layout: Layout,
    next_id: u64,
    offset: u64,
    line: u64,
}

impl Feed {
    /// Records of `columns`, field by field (no header).
    pub fn new(columns: &[ColumnSpec]) -> Feed {
        Feed {
            layout: ingestd::format::layout(Some(columns), None).expect("a layout"),
            next_id: 1,
            offset: 0,
            line: 1,
        }
    }

    /// The next batch: `records` (CSV text of one record each, which may
    /// hold quoted line breaks; each gets its `\n`) after the last batch.
    pub fn next<S: AsRef<str>>(&mut self, records: &[S]) -> Arc<Batch> {
        let batch = self.at(self.offset, self.line, records);
        self.offset = batch.end;
        self.line += batch.data.iter().filter(|b| **b == b'\n').count() as u64;
        batch
    }

    /// A batch of `records` at byte `start`, line `first_line`, whatever
    /// was cut before (the feed goes on where it was).
    pub fn at<S: AsRef<str>>(&mut self, start: u64, first_line: u64, records: &[S]) -> Arc<Batch> {
        let mut data = Vec::new();
        for r in records {
            data.extend_from_slice(r.as_ref().as_bytes());
            data.push(b'\n');
        }
        self.next_id += 1;
        Arc::new(Batch {
            id: self.next_id,
            source: "src".into(),
            file: "test.csv".into(),
            start,
            end: start + data.len() as u64,
            first_line,
            records: records.len() as u32,
            layout: self.layout.clone(),
            verdict: None,
            data,
            stream: None,
        })
    }
}

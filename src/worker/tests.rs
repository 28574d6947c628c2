//! The worker's answer to a batch whose answer does not fit a frame, on a
//! real SQLite sink: the frame limit is lowered to make one (at the real
//! limit `protocol::notes::bound` says it cannot happen).

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::logging::{LogFormat, LogSetup};
use crate::protocol::{Batch, RejectNote};

/// Waits no time: these batches never fail for a reason worth retrying.
struct NoWait;

impl Pause for NoWait {
    fn pause(&mut self, _: Duration) -> Result<(), retry::Stopped> {
        Ok(())
    }
}

fn loader(dir: &std::path::Path) -> Loader {
    std::fs::create_dir_all(dir.join("in")).unwrap();
    let text = "[daemon]\nstate_dir = \"state\"\n[sinks.s]\nkind = \"sqlite\"\npath = \"t.db\"\n\
                [jobs.j]\nsink = \"s\"\ncreate_table = true\n[jobs.j.source]\nkind = \"dir\"\n\
                path = \"in\"\n[jobs.j.format]\nkind = \"csv\"\nheader = false\n\
                [[jobs.j.columns]]\nname = \"n\"\ntype = \"int\"\n";
    let mut cfg = crate::config::parse(text, &dir.join("c.toml")).unwrap();
    let job = cfg.jobs.remove("j").unwrap();
    let log = LogSetup {
        filter: "off".into(),
        format: LogFormat::Text,
        journal: false,
        ansi: false,
        file: None,
    };
    let setup = WorkerSetup::for_job(&job, 1, log);
    let session = Session {
        job: "j".into(),
        worker: 1,
        pid: std::process::id(),
    };
    Loader::new(&setup, sink::open(&setup.sink, &session).expect("open"))
}

/// 300 records that all fail conversion (`x` is not an int).
fn batch() -> Arc<Batch> {
    let data = b"x\n".repeat(300);
    let columns = [crate::format::ColumnSpec {
        ty: crate::format::ColumnType::Int,
        ..crate::format::ColumnSpec::text("n")
    }];
    Arc::new(Batch {
        id: 9,
        source: "src".into(),
        file: "a.csv".into(),
        start: 0,
        end: data.len() as u64,
        first_line: 1,
        records: 300,
        layout: crate::format::layout(Some(&columns), None).unwrap(),
        verdict: None,
        data,
    })
}

#[test]
fn an_answer_too_large_for_a_frame_stops_the_job_instead_of_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let mut loader = loader(dir.path());
    let mut out = Vec::new();
    let mut small = FrameWriter::with_limit(&mut out, 2048);
    let e = answer(
        &mut loader,
        ToWorker::Batch(batch()),
        &mut small,
        &mut NoWait,
    )
    .expect_err("too large");
    assert!(
        matches!(e, WorkerError::Answer(ReplyError::TooLarge { .. })),
        "{e}"
    );
    // The batch is committed, so a redelivery gets the very same answer:
    // a worker dying on it would die on it again after every restart.
    let held = loader.committed("src", &mut NoWait).expect("ledger");
    assert_eq!((held.len(), held[0].rejected), (1, 300));
    let again = answer(
        &mut loader,
        ToWorker::Batch(batch()),
        &mut small,
        &mut NoWait,
    )
    .expect_err("same");
    assert_eq!(again.to_string(), e.to_string());
    assert!(out.is_empty(), "nothing was written");
    let Some(FromWorker::Fatal { class, message }) = last_words(&e) else {
        panic!("no Fatal for {e}");
    };
    assert_eq!(class, ErrorClass::Data);
    assert!(
        message.starts_with("the answer to batch 9 of a.csv (line 1, 300 records) is "),
        "{message}"
    );
    assert!(
        message.contains("over the 2048-byte frame limit"),
        "{message}"
    );

    // Within the real limit the same answer goes, every record with its line.
    let mut out = Vec::new();
    answer(
        &mut loader,
        ToWorker::Batch(batch()),
        &mut FrameWriter::new(&mut out),
        &mut NoWait,
    )
    .expect("fits");
    let mut rx = FrameReader::new(&out[..]);
    let Ok(Some(FromWorker::Done(done))) = rx.read::<FromWorker>() else {
        panic!("no answer");
    };
    assert!(done.already);
    let lines: Vec<u64> = done.rejects.iter().map(|r: &RejectNote| r.line).collect();
    assert_eq!(lines, (1..=300).collect::<Vec<u64>>());
}

#[test]
fn only_failures_a_new_worker_would_repeat_get_last_words() {
    let receive = WorkerError::Receive(crate::protocol::FrameError::Read(
        std::io::ErrorKind::UnexpectedEof.into(),
    ));
    assert_eq!(last_words(&receive), None);
    assert_eq!(last_words(&WorkerError::NoHello), None);
    let sink = SinkError::bad_request("no such table".into());
    let Some(FromWorker::Fatal { class, message }) = last_words(&WorkerError::Sink(sink)) else {
        panic!("a sink failure no retry fixes stops the job");
    };
    assert_eq!(class, ErrorClass::Config);
    assert!(message.contains("no such table"), "{message}");
}

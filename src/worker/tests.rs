//! The worker's answers on a real SQLite sink: to a batch whose answer does
//! not fit a frame (the frame limit is lowered to make one: at the real
//! limit `protocol::notes::bound` says it cannot happen), and to batches
//! whose header does not fit the table (refused, or the job stopped when
//! its columns are configured).

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::logging::{LogFormat, LogSetup};
use crate::protocol::{Batch, Forgot, RejectNote};

/// Waits no time: these batches never fail for a reason worth retrying.
struct NoWait;

impl Pause for NoWait {
    fn pause(&mut self, _: Duration) -> Result<(), retry::Stopped> {
        Ok(())
    }
}

fn loader(dir: &std::path::Path) -> Loader {
    loader_of(
        dir,
        "[jobs.j.format]\nkind = \"csv\"\nheader = false\n\
         [[jobs.j.columns]]\nname = \"n\"\ntype = \"int\"\n",
    )
}

/// The loader of job `j` into table `j` of `t.db`, created when missing;
/// `format` holds the job's format and columns.
fn loader_of(dir: &std::path::Path, format: &str) -> Loader {
    std::fs::create_dir_all(dir.join("in")).unwrap();
    let text = format!(
        "[daemon]\nstate_dir = \"state\"\n[sinks.s]\nkind = \"sqlite\"\npath = \"t.db\"\n\
         [jobs.j]\nsink = \"s\"\ncreate_table = true\n[jobs.j.source]\nkind = \"dir\"\n\
         path = \"in\"\n{format}"
    );
    let mut cfg = crate::config::parse(&text, &dir.join("c.toml")).unwrap();
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
        stream: None,
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

/// Batch `id` of `file` with header `header` (one record `1,2,...`).
fn header_batch(
    id: u64,
    header: &[&str],
    configured: Option<&[crate::format::ColumnSpec]>,
) -> Arc<Batch> {
    let names: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let values: Vec<String> = (1..=header.len()).map(|i| i.to_string()).collect();
    let data = format!("{}\n", values.join(",")).into_bytes();
    Arc::new(Batch {
        id,
        source: format!("src{id}"),
        file: format!("{id}.csv"),
        start: 0,
        end: data.len() as u64,
        first_line: 2,
        records: 1,
        layout: crate::format::layout(configured, Some(&names)).unwrap(),
        verdict: None,
        data,
        stream: None,
    })
}

fn answer_of(loader: &mut Loader, batch: Arc<Batch>) -> Result<FromWorker, WorkerError> {
    let mut out = Vec::new();
    answer(
        loader,
        ToWorker::Batch(batch),
        &mut FrameWriter::new(&mut out),
        &mut NoWait,
    )?;
    Ok(FrameReader::new(&out[..])
        .read::<FromWorker>()
        .unwrap()
        .unwrap())
}

#[test]
fn a_header_that_does_not_fit_the_table_refuses_the_batch_not_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let mut loader = loader_of(dir.path(), "");
    let db = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
    db.execute_batch("CREATE TABLE j (a TEXT, b TEXT)").unwrap();
    // Matched ignoring case, written under the table's names.
    let done = answer_of(&mut loader, header_batch(1, &["B", "A"], None)).unwrap();
    assert!(
        matches!(done, FromWorker::Done(ref d) if d.loaded == 1),
        "{done:?}"
    );
    let row: (String, String) = db
        .query_row("SELECT a, b FROM j", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(row, ("2".to_string(), "1".to_string()));
    for (id, header, why) in [
        (
            2,
            &["a", "b", "c"][..],
            "missing column(s) c (the table has a, b)",
        ),
        (3, &["a", "A"][..], "\"a\" and \"A\" are one name in SQLite"),
        (
            4,
            &["b", "A", "a"][..],
            "\"A\" and \"a\" are one name in SQLite",
        ),
    ] {
        let FromWorker::Refused { id: got, reason } =
            answer_of(&mut loader, header_batch(id, header, None)).unwrap()
        else {
            panic!("{header:?} not refused");
        };
        assert_eq!(got, id);
        assert!(
            reason.starts_with("the header does not fit table j: "),
            "{reason}"
        );
        assert!(reason.contains(why), "{reason}");
        assert!(reason.ends_with("fix the header (or the table), then drop the file in again"));
    }
    // The loader goes on: the next good file loads.
    let done = answer_of(&mut loader, header_batch(5, &["a", "b"], None)).unwrap();
    assert!(matches!(done, FromWorker::Done(_)), "{done:?}");
    assert_eq!(
        db.query_row("SELECT count(*) FROM j", [], |r| r.get::<_, i64>(0))
            .unwrap(),
        2
    );
    assert!(
        loader.committed("src2", &mut NoWait).unwrap().is_empty(),
        "nothing of a refused batch"
    );
}

#[test]
fn configured_columns_that_do_not_fit_the_table_stop_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let mut loader = loader_of(
        dir.path(),
        "[[jobs.j.columns]]\nname = \"a\"\ntype = \"text\"\n[[jobs.j.columns]]\nname = \"c\"\ntype = \"text\"\n",
    );
    let db = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
    db.execute_batch("CREATE TABLE j (a TEXT, b TEXT)").unwrap();
    let columns = [
        crate::format::ColumnSpec::text("a"),
        crate::format::ColumnSpec::text("c"),
    ];
    let e = answer_of(&mut loader, header_batch(1, &["a", "c"], Some(&columns))).unwrap_err();
    let Some(FromWorker::Fatal { class, message }) = last_words(&e) else {
        panic!("no Fatal for {e}");
    };
    assert_eq!(class, ErrorClass::Config);
    assert_eq!(message, "table j: missing column(s) c (the table has a, b)");
}

/// The frames written to `out`, decoded.
fn answers(out: &[u8]) -> Vec<FromWorker> {
    let mut rx = FrameReader::new(out);
    std::iter::from_fn(|| rx.read::<FromWorker>().expect("a frame")).collect()
}

#[test]
fn the_ledger_is_listed_and_a_source_forgotten_only_while_it_is_as_shown() {
    let dir = tempfile::tempdir().unwrap();
    let mut loader = loader(dir.path());
    let mut out = Vec::new();
    answer(
        &mut loader,
        ToWorker::Batch(batch()),
        &mut FrameWriter::new(&mut out),
        &mut NoWait,
    )
    .expect("loaded");
    let list = |loader: &mut Loader| {
        let mut out = Vec::new();
        let ask = ToWorker::LedgerList {
            query: 4,
            source: None,
        };
        answer(loader, ask, &mut FrameWriter::new(&mut out), &mut NoWait).expect("listed");
        answers(&out)
    };
    let [
        FromWorker::LedgerList {
            query: 4,
            target,
            sources,
        },
    ] = &list(&mut loader)[..]
    else {
        panic!("one frame");
    };
    assert_eq!(target, "j");
    assert_eq!(sources.len(), 1);
    let s = &sources[0];
    assert_eq!(
        (s.source.as_str(), s.batches, s.loaded, s.rejected),
        ("src", 1, 0, 300)
    );
    assert_eq!(s.ranges, [(0, 600)]);
    assert!(
        s.first_commit.ends_with('Z') && s.first_commit == s.last_commit,
        "{s:?}"
    );
    let forget = |loader: &mut Loader, batches| {
        let mut out = Vec::new();
        let ask = ToWorker::Forget {
            query: 5,
            source: "src".into(),
            batches,
        };
        answer(loader, ask, &mut FrameWriter::new(&mut out), &mut NoWait).expect("answered");
        answers(&out)
    };
    // Not the rows the summary showed: nothing is deleted.
    let changed = Forgot::Changed {
        expected: 2,
        found: 1,
    };
    assert_eq!(
        forget(&mut loader, 2),
        [FromWorker::Forgotten {
            query: 5,
            outcome: changed
        }]
    );
    assert_eq!(loader.committed("src", &mut NoWait).unwrap().len(), 1);
    let deleted = Forgot::Deleted { rows: 1 };
    assert_eq!(
        forget(&mut loader, 1),
        [FromWorker::Forgotten {
            query: 5,
            outcome: deleted
        }]
    );
    assert!(loader.committed("src", &mut NoWait).unwrap().is_empty());
    let [FromWorker::LedgerList { sources, .. }] = &list(&mut loader)[..] else {
        panic!("one frame");
    };
    assert!(sources.is_empty());
}

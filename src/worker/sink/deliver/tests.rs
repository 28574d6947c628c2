//! The driver's rules on an in-memory ledger (`Fake`, a test double of a
//! sink's steps that logs each step it is asked for): overlap → skip or
//! conflict, duplicate ledger key → read again → already committed,
//! conflict or retry, failures after begin → abort, the fast try redone
//! carefully, the batch rejected whole, malformed requests.

use super::*;
use crate::config::WriteMode;
use crate::format::fixtures::{V, rows_of};
use crate::format::{ColumnSpec, Rows};

const INT: &str = "test integers";

fn note(offset: u64, code: &str) -> RejectNote {
    RejectNote {
        offset,
        len: 10,
        line: offset / 10 + 1,
        records: 1,
        column: None,
        code: code.into(),
        reason: "refused".into(),
    }
}

fn range(start: u64, end: u64) -> LedgerRange {
    LedgerRange {
        start,
        end,
        first_line: start / 10 + 1,
        loaded: 3,
        rejected: 0,
        rejects: Vec::new(),
    }
}

/// The steps of a database that is a list of ledger ranges.
#[derive(Default)]
struct Fake {
    log: Vec<&'static str>,
    /// What `overlapping` reads (the rule, not the fake, filters it).
    ledger: Vec<LedgerRange>,
    /// What another writer commits just before our ledger insert, which
    /// is then refused as a duplicate key.
    raced: Option<Vec<LedgerRange>>,
    /// How many tries answer `Written::Redo`.
    redo: u32,
    /// The step that fails, and its class.
    fail: Option<(&'static str, ErrorClass)>,
    /// The notes of the rows `write_rows` refuses.
    refuse: Vec<RejectNote>,
    /// The ledger row inserted (start, end, loaded, rejected, json).
    row: Option<(i64, i64, i64, i64, String)>,
    aborted: Option<ErrorClass>,
}

impl Fake {
    fn step(&mut self, name: &'static str) -> Result<(), SinkError> {
        self.log.push(name);
        match self.fail {
            Some((at, class)) if at == name => Err(SinkError::Write {
                class,
                detail: format!("{name} failed"),
            }),
            _ => Ok(()),
        }
    }
}

impl Steps for Fake {
    fn begin(&mut self) -> Result<(), SinkError> {
        self.step("begin")
    }

    fn overlapping(&mut self, _: &Key<'_>) -> Result<Vec<LedgerRange>, SinkError> {
        self.step("overlapping")?;
        Ok(self.ledger.clone())
    }

    fn write_rows(&mut self, req: &WriteRequest<'_>, care: Care) -> Result<Written, SinkError> {
        self.step(match care {
            Care::Fast => "write_rows fast",
            Care::Careful => "write_rows careful",
        })?;
        if self.redo > 0 {
            self.redo -= 1;
            return Ok(Written::Redo);
        }
        Ok(Written::Rows {
            loaded: (req.rows.len() - self.refuse.len()) as u64,
            rejects: self.refuse.clone(),
        })
    }

    fn insert_ledger(&mut self, row: &LedgerRow<'_>) -> Result<LedgerInsert, SinkError> {
        self.step("insert_ledger")?;
        if let Some(theirs) = self.raced.take() {
            self.ledger = theirs;
            return Ok(LedgerInsert::DuplicateKey);
        }
        let k = row.key;
        let json = row.rejects.to_string();
        self.row = Some((k.start, k.end, row.loaded, row.rejected, json));
        Ok(LedgerInsert::Inserted)
    }

    fn commit(&mut self) -> Result<(), SinkError> {
        self.step("commit")
    }

    fn rollback(&mut self) -> Result<(), SinkError> {
        self.row = None;
        self.step("rollback")
    }

    fn abort(&mut self, failed: &SinkError) {
        self.log.push("abort");
        self.aborted = Some(failed.class());
        let _ = self.rollback();
    }
}

/// Rows at [100, 130): three 10-byte records of one column, and a parse
/// reject note at 125.
struct Batch {
    columns: Vec<ColumnSpec>,
    rows: Rows,
    rejects: Vec<RejectNote>,
}

fn three_rows() -> Batch {
    Batch {
        columns: vec![ColumnSpec::text("id")],
        rows: rows_of(&[vec![V::I(1)], vec![V::I(2)], vec![V::I(3)]], 100, 10),
        rejects: vec![note(125, "bad_decimal")],
    }
}

impl Batch {
    fn req(&self) -> WriteRequest<'_> {
        WriteRequest {
            rejects: &self.rejects,
            ..three_rows_req(&self.columns, &self.rows)
        }
    }
}

/// Runs the driver on `fake` for the three rows.
fn deliver(fake: &mut Fake) -> Result<WriteOutcome, SinkError> {
    let b = three_rows();
    let req = b.req();
    run(fake, &check(&req, INT, "t").expect("well formed"))
}

const WRITE: [&str; 5] = [
    "begin",
    "overlapping",
    "write_rows fast",
    "insert_ledger",
    "commit",
];

#[test]
fn a_new_range_is_written_with_its_ledger_row_and_committed() {
    let mut fake = Fake {
        ledger: vec![range(0, 100), range(130, 200)],
        refuse: vec![note(110, "23505")],
        ..Fake::default()
    };
    let out = deliver(&mut fake).expect("committed");
    assert_eq!(
        out,
        WriteOutcome::Committed {
            loaded: 2,
            rejects: vec![note(110, "23505"), note(125, "bad_decimal")],
        }
    );
    assert_eq!(fake.log, WRITE);
    let (start, end, loaded, rejected, json) = fake.row.expect("the ledger row");
    assert_eq!((start, end, loaded, rejected), (100, 130, 2, 2));
    let offsets: Vec<u64> = ledger::decode_rejects(&json)
        .expect("json")
        .iter()
        .map(|n| n.offset)
        .collect();
    assert_eq!(offsets, [110, 125], "database and parse rejects, in order");
}

#[test]
fn exactly_this_range_is_skipped_and_rolled_back() {
    let mut fake = Fake {
        ledger: vec![range(100, 130)],
        ..Fake::default()
    };
    let out = deliver(&mut fake).expect("skipped");
    assert_eq!(out, WriteOutcome::AlreadyCommitted(range(100, 130)));
    assert_eq!(fake.log, ["begin", "overlapping", "rollback"]);
}

#[test]
fn a_partial_overlap_stops_the_job_and_writes_nothing() {
    for held in [range(120, 200), range(100, 110), range(0, 101)] {
        let mut fake = Fake {
            ledger: vec![held],
            ..Fake::default()
        };
        let e = deliver(&mut fake).expect_err("conflict");
        assert_eq!(e.class(), ErrorClass::Config, "{e}");
        assert!(e.to_string().contains("ledger conflict"), "{e}");
        assert_eq!(fake.log, ["begin", "overlapping", "abort", "rollback"]);
    }
}

#[test]
fn a_duplicate_ledger_key_reads_the_ledger_again() {
    let raced = |theirs: Vec<LedgerRange>| {
        let mut fake = Fake {
            raced: Some(theirs),
            ..Fake::default()
        };
        (deliver(&mut fake), fake)
    };
    let recheck = [
        "begin",
        "overlapping",
        "write_rows fast",
        "insert_ledger",
        "rollback",
        "overlapping",
    ];

    // The other writer committed exactly this range: ours is a redelivery.
    let (out, fake) = raced(vec![range(100, 130)]);
    assert_eq!(
        out.expect("already"),
        WriteOutcome::AlreadyCommitted(range(100, 130))
    );
    assert_eq!(fake.log, recheck);

    // It committed another range with this start: a conflict.
    let (out, fake) = raced(vec![range(100, 150)]);
    let e = out.expect_err("conflict");
    assert_eq!(e.class(), ErrorClass::Config, "{e}");
    assert!(e.to_string().contains("ledger conflict"), "{e}");
    assert_eq!(fake.log[..6], recheck);
    assert_eq!(fake.log[6..], ["abort", "rollback"]);

    // Nothing is there any more (it rolled back): retry.
    let (out, fake) = raced(Vec::new());
    let e = out.expect_err("retry");
    assert_eq!(e.class(), ErrorClass::Transient, "{e}");
    assert_eq!(
        e.to_string(),
        format!("writing a batch: {}", DeliverError::LedgerRow)
    );
    assert_eq!(fake.log[..6], recheck);
    assert_eq!(fake.aborted, Some(ErrorClass::Transient));
}

#[test]
fn a_failure_after_begin_is_rolled_back() {
    // A whole step's data-class failure stops the job; the rows' own keeps
    // its class (the loader then rejects the batch whole).
    for (at, class) in [
        ("begin", ErrorClass::Transient),
        ("overlapping", ErrorClass::Data),
        ("write_rows fast", ErrorClass::Data),
        ("write_rows fast", ErrorClass::Capacity),
        ("insert_ledger", ErrorClass::Data),
        ("commit", ErrorClass::Data),
        ("commit", ErrorClass::Transient),
    ] {
        let mut fake = Fake {
            fail: Some((at, class)),
            ..Fake::default()
        };
        let e = deliver(&mut fake).expect_err(at);
        let want = match (at, class) {
            ("write_rows fast", c) => c,
            (_, ErrorClass::Data) => ErrorClass::Config,
            (_, c) => c,
        };
        assert_eq!(e.class(), want, "{at}: {e}");
        assert!(e.to_string().contains(&format!("{at} failed")), "{e}");
        let upto = WRITE.iter().position(|s| *s == at).expect("a step");
        assert_eq!(fake.log[..=upto], WRITE[..=upto], "{at}");
        assert_eq!(fake.log[upto + 1..], ["abort", "rollback"], "{at}");
        assert_eq!(fake.aborted, Some(want));
        assert_eq!(fake.row, None, "{at}: nothing kept");
    }
}

#[test]
fn a_row_refused_on_the_fast_try_is_written_again_carefully() {
    let mut fake = Fake {
        redo: 1,
        ..Fake::default()
    };
    assert!(matches!(
        deliver(&mut fake).expect("committed"),
        WriteOutcome::Committed { loaded: 3, .. }
    ));
    let careful = [
        "begin",
        "overlapping",
        "write_rows careful",
        "insert_ledger",
        "commit",
    ];
    assert_eq!(
        fake.log[..4],
        ["begin", "overlapping", "write_rows fast", "rollback"]
    );
    assert_eq!(fake.log[4..], careful);

    // The careful try must isolate the bad rows: a second redo is a bug.
    let mut fake = Fake {
        redo: 2,
        ..Fake::default()
    };
    let e = deliver(&mut fake).expect_err("a bug");
    assert_eq!(e.class(), ErrorClass::Config, "{e}");
    assert!(e.to_string().contains("(a bug)"), "{e}");
    assert_eq!(fake.log[4..7], careful[..3]);
    assert_eq!(fake.log[7..], ["abort", "rollback"]);
}

#[test]
fn a_batch_rejected_whole_writes_only_its_ledger_row() {
    let columns = [ColumnSpec::text("id")];
    let rows = Rows::new(1);
    let rejects = [RejectNote {
        records: 3,
        ..note(100, "quarantine")
    }];
    let req = WriteRequest {
        columns: &columns,
        rows: &rows,
        rejects: &rejects,
        ..three_rows_req(&columns, &rows)
    };
    let mut fake = Fake::default();
    let out = run(&mut fake, &check(&req, INT, "t").expect("well formed"));
    assert_eq!(
        out.expect("committed"),
        WriteOutcome::Committed {
            loaded: 0,
            rejects: rejects.to_vec(),
        }
    );
    assert_eq!(
        fake.log,
        ["begin", "overlapping", "insert_ledger", "commit"]
    );
    let (_, _, loaded, rejected, _) = fake.row.expect("the ledger row");
    assert_eq!((loaded, rejected), (0, 3));
}

/// A request for [100, 130) over `rows`.
fn three_rows_req<'a>(columns: &'a [ColumnSpec], rows: &'a Rows) -> WriteRequest<'a> {
    WriteRequest {
        job: "j",
        table: "t",
        mode: &WriteMode::Insert,
        columns,
        rows,
        source: "s",
        start: 100,
        end: 130,
        first_line: 11,
        rejects: &[],
    }
}

#[test]
fn a_malformed_request_never_reaches_the_database() {
    let b = three_rows();
    let two = [ColumnSpec::text("a"), ColumnSpec::text("b")];
    let backwards = WriteRequest {
        start: 130,
        end: 100,
        ..b.req()
    };
    let huge = WriteRequest {
        end: u64::MAX,
        ..b.req()
    };
    let wide = WriteRequest {
        columns: &two,
        ..b.req()
    };
    for (req, says) in [
        (backwards, "malformed batch"),
        (wide, "malformed batch"),
        (huge, "is beyond test integers"),
    ] {
        let e = check(&req, INT, "t").err().expect("refused");
        assert_eq!(e.class(), ErrorClass::Config, "{e}");
        assert!(e.to_string().contains(says), "{e}");
    }
}

//! The ledger every sink keeps in its target (`ingestd_ledger`): one row per
//! committed batch, written in the batch's own transaction. It is the truth
//! about what is loaded; local state is only a cache of it.
//!
//! Owns what all sinks share about it: names and layout, the SQL text (with
//! each database's placeholders and types), a row's values (the reject
//! notes, fitted and in `protocol::notes::wire`'s JSON, counts and offsets as
//! the signed integers databases store), the overlap rule, and the errors of
//! reading and checking it. Must not run SQL or know any driver: sinks do
//! that.

use std::fmt::Write as _;

use crate::protocol::notes::{self, wire};
use crate::protocol::{ErrorClass, LedgerRange, RejectNote};
use crate::worker::sink::sql::Placeholder;
use crate::worker::sink::{SinkError, WriteRequest};

/// The ledger table's name, the same in every target.
pub const TABLE: &str = "ingestd_ledger";

/// Column types of the ledger in one database's dialect.
#[derive(Clone, Copy, Debug)]
pub struct LedgerTypes {
    /// `job`, `source`: part of the primary key.
    pub key_text: &'static str,
    /// Offsets, line numbers, counts, pid: 64-bit integers.
    pub int: &'static str,
    /// `rejects`: the notes' JSON (`encode_rejects`), up to `notes::bound::json`.
    pub json: &'static str,
    pub timestamp: &'static str,
}

/// `CREATE TABLE` for the ledger. Primary key (job, source, start_off): one
/// batch per start offset, so a racing second writer of the same range fails
/// even if it skipped the overlap check.
pub fn create_sql(t: &LedgerTypes, if_not_exists: bool) -> String {
    format!(
        "CREATE TABLE {ine}{TABLE} (\n  job {k} NOT NULL,\n  source {k} NOT NULL,\n  \
         start_off {i} NOT NULL,\n  end_off {i} NOT NULL,\n  first_line {i} NOT NULL,\n  \
         rows_loaded {i} NOT NULL,\n  rows_rejected {i} NOT NULL,\n  rejects {j} NOT NULL,\n  \
         worker_pid {i} NOT NULL,\n  committed_at {ts} NOT NULL,\n  \
         PRIMARY KEY (job, source, start_off)\n)",
        ine = if if_not_exists { "IF NOT EXISTS " } else { "" },
        k = t.key_text,
        i = t.int,
        j = t.json,
        ts = t.timestamp,
    )
}

/// The columns a ledger read returns, in the order `range_from_row` takes them.
const READ_COLUMNS: &str = "start_off, end_off, first_line, rows_loaded, rows_rejected, rejects";

/// All ranges of (job = p1, source = p2), ordered by start.
pub fn select_committed_sql(ph: Placeholder) -> String {
    let mut s = format!("SELECT {READ_COLUMNS} FROM {TABLE} WHERE job = ");
    ph.push(&mut s, 1);
    s.push_str(" AND source = ");
    ph.push(&mut s, 2);
    s.push_str(" ORDER BY start_off");
    s
}

/// Ranges of (job = p1, source = p2) that overlap [p3, p4) or start at p3
/// (so an empty range is caught too), ordered by start.
pub fn select_overlapping_sql(ph: Placeholder) -> String {
    let mut s = format!("SELECT {READ_COLUMNS} FROM {TABLE} WHERE job = ");
    ph.push(&mut s, 1);
    s.push_str(" AND source = ");
    ph.push(&mut s, 2);
    s.push_str(" AND ((start_off < ");
    ph.push(&mut s, 4);
    s.push_str(" AND end_off > ");
    ph.push(&mut s, 3);
    s.push_str(") OR start_off = ");
    ph.push(&mut s, 3);
    s.push_str(") ORDER BY start_off");
    s
}

/// Inserts one ledger row: p1..p9 = job, source, start_off, end_off,
/// first_line, rows_loaded, rows_rejected, rejects, worker_pid; `now` is the
/// database's own clock expression, so all workers stamp with one clock.
pub fn insert_sql(ph: Placeholder, now: &str) -> String {
    let mut s = format!(
        "INSERT INTO {TABLE} (job, source, start_off, end_off, first_line, rows_loaded, \
         rows_rejected, rejects, worker_pid, committed_at) VALUES ("
    );
    for n in 1..=9 {
        ph.push(&mut s, n);
        s.push_str(", ");
    }
    s.push_str(now);
    s.push(')');
    s
}

/// The `rejects` column's text: `{"texts": [...], "notes": [[...], ...]}`,
/// each text once (see `protocol::notes::wire`).
pub fn encode_rejects(notes: &[RejectNote]) -> Result<String, serde_json::Error> {
    serde_json::to_string(&wire::Shared(notes))
}

/// The notes of a `rejects` column, fitted. Rows written before the texts
/// were stored once hold a JSON array of whole notes: read as well, and
/// fitted like new ones, so that no answer built from them outgrows a frame.
pub fn decode_rejects(text: &str) -> Result<Vec<RejectNote>, serde_json::Error> {
    let mut all = match text.trim_start().starts_with('[') {
        true => serde_json::from_str(text)?,
        false => serde_json::from_str::<wire::Owned>(text)?.0,
    };
    notes::fit(&mut all);
    Ok(all)
}

/// Records the notes cover: a verdict note stands for a whole range of records.
pub fn rejected_records(notes: &[RejectNote]) -> u64 {
    notes.iter().map(|n| u64::from(n.records)).sum()
}

/// Parse rejects and database rejects in source order, for the ledger row.
pub fn merge_rejects(parse: &[RejectNote], db: &[RejectNote]) -> Vec<RejectNote> {
    let mut all: Vec<RejectNote> = parse.iter().chain(db).cloned().collect();
    all.sort_by_key(|n| n.offset); // stable: equal offsets keep parse-first
    all
}

/// `v` as a signed 64-bit ledger value; `int` names the database's integer
/// type in the error.
pub fn to_i64(v: u64, what: &str, int: &str) -> Result<i64, SinkError> {
    i64::try_from(v).map_err(|_| SinkError::bad_request(format!("{what} {v} is beyond {int}")))
}

/// The request's `start_off`, `end_off` and `first_line` (see `to_i64`).
pub fn offsets(req: &WriteRequest<'_>, int: &str) -> Result<[i64; 3], SinkError> {
    Ok([
        to_i64(req.start, "start offset", int)?,
        to_i64(req.end, "end offset", int)?,
        to_i64(req.first_line, "first line", int)?,
    ])
}

/// What the ledger row of a batch says besides its key.
#[derive(Debug)]
pub struct Outcome {
    /// The request's parse rejects and the database's, in source order,
    /// fitted: what the row holds and the worker answers, note for note.
    pub notes: Vec<RejectNote>,
    /// `notes` as the `rejects` column's text.
    pub json: String,
    /// `[rows_loaded, rows_rejected]` (see `to_i64`).
    pub counts: [i64; 2],
}

/// The row's notes (the request's parse rejects and the database's
/// `db_rejects`), its `rejects` text and its counts.
pub fn outcome(
    req: &WriteRequest<'_>,
    loaded: u64,
    db_rejects: &[RejectNote],
    int: &str,
) -> Result<Outcome, SinkError> {
    let mut all = merge_rejects(req.rejects, db_rejects);
    notes::fit(&mut all);
    let json = encode_rejects(&all)
        .map_err(|e| SinkError::bad_request(format!("encoding the reject notes: {e}")))?;
    let counts = [
        to_i64(loaded, "rows loaded", int)?,
        to_i64(rejected_records(&all), "rows rejected", int)?,
    ];
    Ok(Outcome {
        notes: all,
        json,
        counts,
    })
}

/// The error of `Sink::committed` for `job` and `source`, from a class and
/// what failed.
pub fn committed_err<'a>(
    job: &'a str,
    source: &'a str,
) -> impl Fn(ErrorClass, String) -> SinkError + 'a {
    move |class, detail| SinkError::Ledger {
        class,
        detail: format!("reading the committed ranges of {source:?} (job {job:?}): {detail}"),
    }
}

/// A ledger row as the database returns it (integers are signed there).
pub fn range_from_row(ints: [i64; 5], rejects: &str) -> Result<LedgerRange, String> {
    let [start, end, first_line, loaded, rejected] = ints.map(u64::try_from);
    let bad = |what: &str| format!("the ledger holds a negative {what}");
    Ok(LedgerRange {
        start: start.map_err(|_| bad("start_off"))?,
        end: end.map_err(|_| bad("end_off"))?,
        first_line: first_line.map_err(|_| bad("first_line"))?,
        loaded: loaded.map_err(|_| bad("rows_loaded"))?,
        rejected: rejected.map_err(|_| bad("rows_rejected"))?,
        rejects: decode_rejects(rejects).map_err(|e| {
            format!("the ledger's rejects column is not the JSON of reject notes: {e}")
        })?,
    })
}

/// A requested range that partly overlaps what the ledger holds. Never a
/// redelivery: batches are cut on the same boundaries every time, so this
/// means two daemons load the same target, or the source changed under the
/// same identity. Loading it could duplicate or lose rows, so the job stops.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "ledger conflict: job {job:?}, source {source_id:?}: the requested range [{start}, {end}) \
     partly overlaps the committed {held}; another daemon is loading this target, or the \
     source's data changed since it was loaded"
)]
pub struct LedgerConflict {
    pub job: String,
    /// The source's identity (named so thiserror does not take it for a cause).
    pub source_id: String,
    pub start: u64,
    pub end: u64,
    /// The stored ranges in conflict, as text: `[a, b), [c, d)`.
    pub held: String,
}

impl From<LedgerConflict> for SinkError {
    fn from(c: LedgerConflict) -> Self {
        SinkError::bad_request(c.to_string())
    }
}

/// The overlap rule. `stored` are the ledger's ranges for the same job and
/// source that may overlap [start, end). Returns the stored range when it is
/// exactly this one (a redelivery: skip it), `None` when nothing overlaps
/// (write it), and a conflict otherwise.
pub fn check_overlap(
    job: &str,
    source: &str,
    start: u64,
    end: u64,
    stored: Vec<LedgerRange>,
) -> Result<Option<LedgerRange>, LedgerConflict> {
    let mut hits: Vec<LedgerRange> = stored
        .into_iter()
        .filter(|r| (r.start < end && r.end > start) || r.start == start)
        .collect();
    match hits.as_slice() {
        [] => Ok(None),
        [only] if only.start == start && only.end == end => Ok(hits.pop()),
        _ => {
            let mut held = String::new();
            for (i, r) in hits.iter().enumerate() {
                let sep = if i > 0 { ", " } else { "" };
                let _ = write!(held, "{sep}[{}, {})", r.start, r.end);
            }
            Err(LedgerConflict {
                job: job.to_string(),
                source_id: source.to_string(),
                start,
                end,
                held,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(offset: u64, records: u32, code: &str) -> RejectNote {
        RejectNote {
            offset,
            len: 10,
            line: offset / 10 + 1,
            records,
            column: Some("amount".into()),
            code: code.into(),
            reason: "bad \"value\"\nwith newline".into(),
        }
    }

    fn range(start: u64, end: u64) -> LedgerRange {
        LedgerRange {
            start,
            end,
            first_line: 1,
            loaded: 3,
            rejected: 1,
            rejects: vec![note(start, 1, "bad_decimal")],
        }
    }

    #[test]
    fn rejects_round_trip_through_json() {
        let notes = vec![note(0, 1, "bad_decimal"), note(20, 5, "quarantine")];
        let text = encode_rejects(&notes).expect("encode");
        assert!(
            text.starts_with(r#"{"texts":["amount","bad_decimal","#),
            "{text}"
        );
        assert_eq!(decode_rejects(&text).expect("decode"), notes);
        assert_eq!(
            decode_rejects(&encode_rejects(&[]).unwrap()).unwrap(),
            vec![]
        );
        assert!(decode_rejects("{}").is_err());
        assert!(decode_rejects("nope").is_err());
        assert_eq!(rejected_records(&notes), 6);
    }

    #[test]
    fn rows_of_whole_notes_are_read_and_fitted() {
        let legacy = vec![note(0, 1, "bad_decimal"), note(20, 5, "quarantine")];
        let text = serde_json::to_string(&legacy).expect("the old JSON array");
        assert_eq!(decode_rejects(&text).expect("decode"), legacy);
        assert_eq!(decode_rejects("[]").expect("decode"), vec![]);
        let long = RejectNote {
            reason: "x".repeat(notes::REASON_MAX * 2),
            ..note(0, 1, "23514")
        };
        let text = serde_json::to_string(&[long]).expect("json");
        let back = decode_rejects(&text).expect("decode");
        assert!(back[0].reason.len() <= notes::REASON_MAX);
        assert!(
            back[0].reason.ends_with(" bytes cut]"),
            "{}",
            back[0].reason
        );
    }

    #[test]
    fn merge_orders_by_offset() {
        let parse = [note(30, 1, "p"), note(0, 1, "p")];
        let db = [note(10, 1, "d"), note(30, 1, "d")];
        let codes: Vec<_> = merge_rejects(&parse, &db)
            .into_iter()
            .map(|n| (n.offset, n.code))
            .collect();
        let want = [(0, "p"), (10, "d"), (30, "p"), (30, "d")];
        assert_eq!(codes, want.map(|(o, c)| (o, c.to_string())));
    }

    #[test]
    fn overlap_rule() {
        let stored = || vec![range(0, 100), range(100, 200)];
        let check = |s, e| check_overlap("j", "s", s, e, stored());
        assert_eq!(check(200, 300), Ok(None));
        assert_eq!(check(100, 200), Ok(Some(range(100, 200))));
        for (s, e) in [
            (50, 150),
            (100, 150),
            (100, 250),
            (0, 200),
            (150, 160),
            (100, 100),
        ] {
            let err = check(s, e).expect_err("a partial overlap is a conflict");
            assert!(err.to_string().contains("ledger conflict"), "{err}");
        }
        let err = check(50, 150).expect_err("conflict");
        assert_eq!(err.held, "[0, 100), [100, 200)");
        // Rows the query returned that do not overlap are ignored.
        assert_eq!(check_overlap("j", "s", 500, 600, stored()), Ok(None));
    }

    #[test]
    fn row_values_are_signed_integers_or_a_config_error() {
        let rows = crate::format::Rows::default();
        let parse = [note(30, 5, "quarantine")];
        let req = WriteRequest {
            job: "j",
            table: "t",
            mode: &crate::config::WriteMode::Insert,
            columns: &[],
            rows: &rows,
            source: "s",
            start: 0,
            end: u64::MAX,
            first_line: 1,
            rejects: &parse,
        };
        let out = outcome(&req, 7, &[note(10, 1, "23505")], "bigint").expect("fits");
        assert_eq!(out.counts, [7, 6]);
        let offsets_in_json: Vec<u64> = decode_rejects(&out.json)
            .expect("json")
            .iter()
            .map(|n| n.offset)
            .collect();
        assert_eq!(offsets_in_json, [10, 30]);
        assert_eq!(decode_rejects(&out.json).expect("json"), out.notes);
        let e = offsets(&req, "bigint").expect_err("end beyond i64");
        assert_eq!(e.class(), ErrorClass::Config);
        let want = format!("end offset {} is beyond bigint", u64::MAX);
        assert!(e.to_string().contains(&want), "{e}");
        let conflict = check_overlap("j", "s", 5, 15, vec![range(0, 10)]).expect_err("overlap");
        let e = SinkError::from(conflict);
        assert_eq!(e.class(), ErrorClass::Config);
        assert!(e.to_string().contains("ledger conflict"), "{e}");
    }

    #[test]
    fn a_row_of_many_long_rejects_is_fitted_and_counts_every_record() {
        let rows = crate::format::Rows::default();
        let n = 40_000u64;
        let parse: Vec<RejectNote> = (0..n)
            .map(|i| RejectNote {
                reason: format!("row {i}: {}", "y".repeat(1000)),
                ..note(i * 10, 1, "SQLITE_CONSTRAINT_TRIGGER")
            })
            .collect();
        let req = WriteRequest {
            job: "j",
            table: "t",
            mode: &crate::config::WriteMode::Insert,
            columns: &[],
            rows: &rows,
            source: "s",
            start: 0,
            end: n * 10,
            first_line: 1,
            rejects: &parse,
        };
        let out = outcome(&req, 0, &[], "bigint").expect("fits");
        assert_eq!(out.counts, [0, n as i64]);
        assert!(
            out.json.len() <= notes::bound::json(n as usize),
            "{}",
            out.json.len()
        );
        let reasons: usize = out.notes.iter().map(|r| r.reason.len()).sum();
        assert!(reasons <= notes::REASONS_BUDGET, "{reasons}");
        let back = decode_rejects(&out.json).expect("json");
        assert_eq!(
            back, out.notes,
            "what the row holds is what the worker answers"
        );
        let lines: Vec<u64> = back.iter().map(|r| r.line).collect();
        let want: Vec<u64> = parse.iter().map(|r| r.line).collect();
        assert_eq!(lines, want, "every record keeps its own line");
    }

    #[test]
    fn rows_with_negative_numbers_are_refused() {
        assert!(range_from_row([0, 10, 1, 2, 0], "[]").is_ok());
        let err = range_from_row([0, -1, 1, 2, 0], "[]").expect_err("negative");
        assert!(err.contains("end_off"), "{err}");
        assert!(range_from_row([0, 10, 1, 2, 0], "nope").is_err());
    }

    #[test]
    fn sql_text() {
        let q = select_overlapping_sql(Placeholder::Question);
        assert!(
            q.contains("start_off < ?4 AND end_off > ?3) OR start_off = ?3"),
            "{q}"
        );
        let i = insert_sql(Placeholder::Dollar, "now()");
        assert!(i.ends_with("$8, $9, now())"), "{i}");
        let t = LedgerTypes {
            key_text: "TEXT",
            int: "INTEGER",
            json: "TEXT",
            timestamp: "TEXT",
        };
        assert!(create_sql(&t, true).starts_with("CREATE TABLE IF NOT EXISTS ingestd_ledger"));
    }
}

//! The ledger's shared rules and SQL text.

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
        q.contains(
            "WHERE job = ?1 AND target = ?2 AND source = ?3 AND ((start_off < ?5 AND \
             end_off > ?4) OR start_off = ?4)"
        ),
        "{q}"
    );
    let q = select_committed_sql(Placeholder::Colon);
    assert!(
        q.ends_with("WHERE job = :1 AND target = :2 AND source = :3 ORDER BY start_off"),
        "{q}"
    );
    let i = insert_sql(Placeholder::Dollar, "now()");
    assert!(
        i.starts_with("INSERT INTO ingestd_ledger (job, target, source, start_off,"),
        "{i}"
    );
    assert!(i.ends_with("$9, $10, now())"), "{i}");
    let t = LedgerTypes {
        key_text: "TEXT",
        target_text: "TEXT",
        int: "INTEGER",
        json: "TEXT",
        timestamp: "TEXT",
    };
    let c = create_sql(&t, TABLE, true);
    assert!(c.starts_with("CREATE TABLE IF NOT EXISTS ingestd_ledger (\n  job TEXT NOT NULL,\n  target TEXT DEFAULT '(legacy)' NOT NULL,"), "{c}");
    assert!(
        c.ends_with("PRIMARY KEY (job, target, source, start_off)\n)"),
        "{c}"
    );
    assert_eq!(
        has_legacy_sql(Placeholder::Dollar),
        "SELECT count(*) FROM ingestd_ledger WHERE job = $1 AND target = '(legacy)'"
    );
    assert_eq!(
        claim_sql(Placeholder::Question),
        "UPDATE ingestd_ledger SET target = ?2 WHERE job = ?1 AND target = '(legacy)'"
    );
    assert_eq!(
        upgrade_copy_sql("old", "new"),
        "INSERT INTO new (target, job, source, start_off, end_off, first_line, rows_loaded, \
         rows_rejected, rejects, worker_pid, committed_at) SELECT '(legacy)', job, source, \
         start_off, end_off, first_line, rows_loaded, rows_rejected, rejects, worker_pid, \
         committed_at FROM old"
    );
}

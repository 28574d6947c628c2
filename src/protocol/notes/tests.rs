use super::*;

fn note(line: u64, code: &str, reason: &str) -> RejectNote {
    RejectNote {
        offset: line * 10,
        len: 9,
        line,
        records: 1,
        column: Some("amount".into()),
        code: code.into(),
        reason: reason.into(),
    }
}

#[test]
fn short_texts_are_kept_whole() {
    let mut notes = vec![note(
        2,
        "bad_decimal",
        "amount: \"x\" is not a decimal(12,2)",
    )];
    let before = notes.clone();
    fit(&mut notes);
    assert_eq!(notes, before);
}

#[test]
fn a_long_reason_is_cut_with_a_marker_saying_how_much() {
    let long = format!("order 17 refused: {}", "é".repeat(5000));
    let mut notes = vec![note(2, "SQLITE_CONSTRAINT_TRIGGER", &long)];
    fit(&mut notes);
    let r = &notes[0].reason;
    assert!(r.len() <= REASON_MAX, "{}", r.len());
    assert!(r.starts_with("order 17 refused: éé"), "{r}");
    let kept = r.find('…').expect("a marker");
    assert_eq!(r[kept..], format!("…[{} bytes cut]", long.len() - kept));
    // Only the text changed.
    assert_eq!(
        (notes[0].line, notes[0].offset, notes[0].records),
        (2, 20, 1)
    );
    assert_eq!(notes[0].code, "SQLITE_CONSTRAINT_TRIGGER");
}

#[test]
fn cutting_stays_on_character_boundaries_and_within_the_limit() {
    for max in 0..40 {
        let mut s = "ab€cd€€ef€gh€ijklmnopqrstuvwxyz€€€".to_string();
        cut(&mut s, max);
        assert!(s.len() <= max, "{max}: {s:?}");
    }
    let mut s = "x".repeat(100);
    cut(&mut s, 8);
    assert_eq!(s, "xxxxx…", "a bare ellipsis when the count would not fit");
    let mut s = "x".repeat(100);
    cut(&mut s, 40);
    assert_eq!(s, format!("{}…[78 bytes cut]", "x".repeat(22)));
}

#[test]
fn many_long_reasons_share_the_budget_and_short_ones_stay_whole() {
    let n = 10_000;
    let long = |i: u64| format!("row {i}: {}", "x".repeat(3000));
    let mut notes: Vec<RejectNote> = (0..n)
        .map(|i| match i % 10 {
            0 => note(i, "c", "short"),
            _ => note(i, "c", &long(i)),
        })
        .collect();
    fit(&mut notes);
    let total: usize = notes.iter().map(|n| n.reason.len()).sum();
    assert!(total <= REASONS_BUDGET, "{total}");
    assert!(
        total > REASONS_BUDGET - n as usize * 4,
        "the budget is used: {total}"
    );
    assert_eq!(notes.len(), n as usize, "no note is dropped");
    for (i, nt) in notes.iter().enumerate() {
        assert_eq!(nt.line, i as u64);
        match i % 10 {
            0 => assert_eq!(nt.reason, "short"),
            _ => {
                assert!(
                    nt.reason.starts_with(&format!("row {i}: xx")),
                    "{}",
                    nt.reason
                );
                assert!(nt.reason.ends_with(" bytes cut]"), "{}", nt.reason);
            }
        }
    }
}

#[test]
fn fitting_twice_changes_nothing() {
    let mut notes: Vec<RejectNote> = (0..3000)
        .map(|i| RejectNote {
            column: Some(format!("{i}-{}", "c".repeat(400))),
            ..note(
                i,
                &format!("{i}{}", "k".repeat(50)),
                &"€".repeat(3000 + i as usize),
            )
        })
        .collect();
    fit(&mut notes);
    let once = notes.clone();
    fit(&mut notes);
    assert_eq!(notes, once);
    let labels: HashSet<&str> = notes
        .iter()
        .flat_map(|n| [n.code.as_str(), n.column.as_deref().unwrap_or("")])
        .collect();
    assert!(labels.iter().map(|l| l.len()).sum::<usize>() <= LABELS_BUDGET);
    assert!(notes.iter().all(|n| n.code.len() <= CODE_MAX));
    assert!(
        notes
            .iter()
            .all(|n| n.column.as_ref().is_some_and(|c| c.len() <= COLUMN_MAX))
    );
}

#[test]
fn distinct_labels_beyond_their_budget_are_cut_alike() {
    let n = 20_000;
    let mut notes: Vec<RejectNote> = (0..n)
        .map(|i| RejectNote {
            column: Some(format!("{i:06}{}", "c".repeat(200))),
            ..note(i, "23505", "duplicate")
        })
        .collect();
    fit(&mut notes);
    let labels: HashSet<&str> = notes.iter().filter_map(|n| n.column.as_deref()).collect();
    let bytes: usize = labels.iter().map(|l| l.len()).sum::<usize>() + "23505".len();
    assert!(bytes <= LABELS_BUDGET, "{bytes}");
    assert!(notes.iter().all(|n| n.code == "23505"), "short labels stay");
    assert!(notes[7].column.as_deref().unwrap().starts_with("000007cc"));
}

#[test]
fn water_level_is_the_largest_cap_within_the_budget() {
    assert_eq!(water_level(vec![1, 2, 3], 100), usize::MAX);
    assert_eq!(water_level(vec![10, 10, 10], 30), usize::MAX);
    assert_eq!(water_level(vec![10, 10, 10], 29), 9);
    assert_eq!(water_level(vec![1, 100, 100], 51), 25);
    assert_eq!(water_level(vec![], 0), usize::MAX);
    assert_eq!(water_level(vec![5], 0), 0);
}

mod encoding {
    use super::*;
    use crate::protocol::{BatchDone, FromWorker};

    fn notes() -> Vec<RejectNote> {
        let batch_error = "writing a batch: deferred check failed";
        vec![
            RejectNote {
                column: None,
                ..note(2, "batch_error", batch_error)
            },
            note(3, "batch_error", batch_error),
            RejectNote {
                records: 7,
                ..note(4, "quarantined", "\"quoted\"\nnew line")
            },
        ]
    }

    #[test]
    fn frames_and_json_round_trip_with_each_text_once() {
        let done = FromWorker::Done(BatchDone {
            id: 1,
            loaded: 5,
            rejects: notes(),
            already: false,
            held: Vec::new(),
        });
        let bytes = postcard::to_stdvec(&done).expect("encode");
        assert_eq!(
            postcard::from_bytes::<FromWorker>(&bytes).expect("decode"),
            done
        );
        let json = serde_json::to_string(&wire::Shared(&notes())).expect("json");
        assert_eq!(json.matches("deferred check failed").count(), 1, "{json}");
        assert!(
            json.contains(r#""notes":[[20,9,2,1,null,0,1],[30,9,3,1,2,0,1]"#),
            "{json}"
        );
        let back: wire::Owned = serde_json::from_str(&json).expect("decode");
        assert_eq!(back.0, notes());
    }

    #[test]
    fn an_index_beyond_the_texts_is_refused() {
        let json = r#"{"texts":["a"],"notes":[[0,1,1,1,null,0,1]]}"#;
        let e = serde_json::from_str::<wire::Owned>(json)
            .err()
            .expect("refused");
        assert!(
            e.to_string().contains("names text 1, and there are 1"),
            "{e}"
        );
    }
}

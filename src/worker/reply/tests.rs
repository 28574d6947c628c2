use super::*;
use crate::protocol::{BatchDone, RejectNote};

fn range(start: u64, notes: usize, reason_len: usize) -> LedgerRange {
    LedgerRange {
        start,
        end: start + notes as u64,
        first_line: start + 1,
        loaded: 0,
        rejected: notes as u64,
        rejects: (0..notes as u64)
            .map(|i| RejectNote {
                offset: start + i,
                len: 1,
                line: start + i + 1,
                records: 1,
                column: None,
                code: "23514".into(),
                reason: format!("{}-{}", start + i, "r".repeat(reason_len)),
            })
            .collect(),
    }
}

/// Every frame in `out`.
fn frames(out: &[u8]) -> Vec<(usize, FromWorker)> {
    let mut at = 0;
    let mut all = Vec::new();
    while at < out.len() {
        let len = u32::from_le_bytes(out[at..at + 4].try_into().unwrap()) as usize;
        let msg = postcard::from_bytes(&out[at + 4..at + 4 + len]).expect("a frame");
        all.push((len, msg));
        at += 4 + len;
    }
    all
}

#[test]
fn a_long_ledger_answer_comes_in_parts_of_whole_ranges() {
    // 3 MB a range: two a part, and the 9th alone in the last one.
    let ranges: Vec<LedgerRange> = (0..9).map(|i| range(i * 1000, 1000, 3000)).collect();
    let mut out = Vec::new();
    ledger(&mut FrameWriter::new(&mut out), 7, "src", ranges.clone()).expect("sent");
    let frames = frames(&out);
    assert_eq!(
        frames.len(),
        5,
        "{:?}",
        frames.iter().map(|f| f.0).collect::<Vec<_>>()
    );
    let mut got = Vec::new();
    for (i, (len, msg)) in frames.into_iter().enumerate() {
        let last = i == 4;
        match msg {
            FromWorker::LedgerPart { query: 7, ranges } if !last => {
                assert_eq!(ranges.len(), 2);
                assert!(len <= LEDGER_PART + 64, "{len}");
                got.extend(ranges);
            }
            FromWorker::Ledger { query: 7, ranges } if last => got.extend(ranges),
            other => panic!("frame {i}: {other:?}"),
        }
    }
    assert_eq!(got, ranges, "every range once, in order");
}

#[test]
fn a_short_or_empty_ledger_answer_is_one_frame() {
    for ranges in [vec![], vec![range(0, 3, 10)]] {
        let mut out = Vec::new();
        ledger(&mut FrameWriter::new(&mut out), 1, "s", ranges.clone()).expect("sent");
        let frames = frames(&out);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].1, FromWorker::Ledger { query: 1, ranges });
    }
}

#[test]
fn an_answer_over_the_limit_is_an_error_and_nothing_is_written() {
    let done = FromWorker::Done(BatchDone {
        id: 3,
        loaded: 0,
        rejects: range(0, 100, 100).rejects,
        already: true,
        held: Vec::new(),
    });
    let mut out = Vec::new();
    let mut tx = FrameWriter::with_limit(&mut out, 2000);
    let e = send(&mut tx, &done, || "batch 3 of a.csv".into()).expect_err("too large");
    assert!(
        matches!(e, ReplyError::TooLarge { limit: 2000, .. }),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.starts_with("the answer to batch 3 of a.csv is "),
        "{text}"
    );
    assert!(text.contains("over the 2000-byte frame limit"), "{text}");
    // The stream is still whole: the small answer after it is read as is.
    tx.write(&fatal(ErrorClass::Data, text.clone()))
        .expect("fits");
    let frames = frames(&out);
    assert_eq!(frames.len(), 1);
    assert_eq!(
        frames[0].1,
        FromWorker::Fatal {
            class: ErrorClass::Data,
            message: text
        }
    );
}

#[test]
fn messages_are_cut_to_their_limit() {
    let FromWorker::Fatal { message, .. } = fatal(ErrorClass::Config, "m".repeat(1 << 20)) else {
        panic!("not fatal");
    };
    assert!(message.len() <= MESSAGE_MAX && message.ends_with(" bytes cut]"));
    let FromWorker::Checked { problem: Some(p) } = checked(Some("p".repeat(1 << 20))) else {
        panic!("not checked");
    };
    assert!(p.len() <= MESSAGE_MAX);
    assert_eq!(checked(None), FromWorker::Checked { problem: None });
}

fn listed(source: &str, ranges: usize) -> LedgerSource {
    LedgerSource {
        target: "t".into(),
        source: source.into(),
        stream: false,
        // Offsets at their widest: each range encodes in 20 bytes.
        ranges: (0..ranges as u64)
            .map(|i| (u64::MAX / 2 + i * 10, u64::MAX / 2 + i * 10 + 5))
            .collect(),
        batches: ranges as u64,
        loaded: 7,
        rejected: 1,
        first_commit: "2026-01-01T00:00:00.000Z".into(),
        last_commit: "2026-01-02T00:00:00.000Z".into(),
    }
}

#[test]
fn a_long_listing_comes_in_parts_that_join_back_into_the_sources() {
    // One source with ranges enough for three summaries, and small ones.
    let many = 2 * RANGES_PER_PART + 5;
    let sources = vec![listed("a", 3), listed("b", many), listed("c", 1)];
    let mut out = Vec::new();
    ledger_list(
        &mut FrameWriter::new(&mut out),
        9,
        "t".into(),
        sources.clone(),
    )
    .unwrap();
    let got = frames(&out);
    let n = got.len();
    assert!(n >= 2, "{n} frames");
    let mut parts = Vec::new();
    for (i, (len, msg)) in got.into_iter().enumerate() {
        // A part is full at LEDGER_PART, plus at most one summary over it.
        assert!(len <= 2 * LEDGER_PART, "frame {i}: {len} bytes");
        match msg {
            FromWorker::LedgerListPart { query: 9, sources } if i + 1 < n => parts.extend(sources),
            FromWorker::LedgerList {
                query: 9,
                target,
                sources,
            } if i + 1 == n && target == "t" => parts.extend(sources),
            other => panic!("frame {i}: {other:?}"),
        }
    }
    assert!(parts.len() >= 5, "b was cut in three: {}", parts.len());
    assert_eq!(crate::protocol::ledger::join_parts(parts), sources);
}

#[test]
fn an_empty_listing_is_one_frame() {
    let mut out = Vec::new();
    ledger_list(&mut FrameWriter::new(&mut out), 1, "t".into(), Vec::new()).unwrap();
    let got = frames(&out);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].1,
        FromWorker::LedgerList {
            query: 1,
            target: "t".into(),
            sources: Vec::new()
        }
    );
}

//! A stream's batch on the worker side: its data is the messages' payloads
//! one after another (`protocol::Messages`), parsed in one go; each record's
//! position is then its message's sequence (the offset the ledger, the
//! reject notes and the supervisor count) and its line the line within
//! that message's payload.
//!
//! Owns that mapping. Must not write anything: `load` hands the result to
//! the sink's `write_stream`.

use crate::format::{Format, Parsed};
use crate::protocol::{Batch, Messages, RejectNote, Verdict};

/// Parses the payloads in one go, then gives the message columns (a
/// header, the subject...) each record's message's values.
pub fn parse(format: &Format, batch: &Batch, msgs: &Messages) -> Parsed {
    if !batch.layout.has_message_fields() {
        return format.parse_batch(&batch.layout, 0, 1, &batch.data);
    }
    let mut parsed = format.parse_batch(&batch.layout.for_payload(), 0, 1, &batch.data);
    crate::format::message::fill(&mut parsed, &batch.layout, |offset, k| {
        let i = msgs.at(offset).min(msgs.seqs.len().saturating_sub(1));
        msgs.values.get(usize::from(k))?.get(i)?.as_deref()
    });
    parsed
}

/// Re-positions what `parse_batch(layout, 0, 1, data)` found: byte offsets
/// become sequences, lines become lines within the message.
pub fn to_sequences(parsed: &mut Parsed, msgs: &Messages, data: &[u8]) {
    // The line each message starts on, counted over the whole data.
    let mut first_lines = Vec::with_capacity(msgs.ends.len());
    let mut line = 1u64;
    for i in 0..msgs.ends.len() {
        first_lines.push(line);
        line += memchr::memchr_iter(b'\n', msgs.payload(data, i)).count() as u64;
    }
    let place = |offset: u64, l: u64| {
        let i = msgs.at(offset).min(msgs.seqs.len().saturating_sub(1));
        (msgs.seqs[i], l.saturating_sub(first_lines[i]) + 1)
    };
    for o in &mut parsed.rows.origins {
        (o.offset, o.line) = place(o.offset, o.line);
    }
    for n in &mut parsed.rejects {
        (n.offset, n.line) = place(n.offset, n.line);
    }
}

/// The notes of a stream's batch rejected whole (quarantined): one per
/// message, so that each message's fate is known by its sequence.
pub fn verdict_notes(batch: &Batch, msgs: &Messages, v: &Verdict) -> Vec<RejectNote> {
    (0..msgs.seqs.len())
        .map(|i| {
            let payload = msgs.payload(&batch.data, i);
            RejectNote {
                offset: msgs.seqs[i],
                len: payload.len() as u64,
                line: 1,
                records: memchr::memchr_iter(b'\n', payload).count().max(1) as u32,
                column: None,
                code: v.code.clone(),
                reason: v.reason.clone(),
            }
        })
        .collect()
}

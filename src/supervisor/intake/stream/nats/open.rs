//! The batch being filled from a stream: its messages, their payloads one
//! after another, their reply subjects, and the values message columns take.
//!
//! Owns that batch's shape and order. Must not talk to the server.

use std::time::Instant;

use async_nats::Subject;
use async_nats::jetstream;

use crate::config::MessageField;
use crate::protocol::Messages;

/// A batch being filled.
#[derive(Default)]
pub(super) struct Open {
    pub since: Option<Instant>,
    pub msgs: Messages,
    pub data: Vec<u8>,
    pub replies: Vec<Subject>,
    pub records: u32,
    /// The lowest and highest sequence in it.
    pub span: Option<(u64, u64)>,
    /// Bytes of the values message columns take (`msgs.values`): they go
    /// to the worker with the payloads, so `batch_bytes` counts them.
    pub value_bytes: usize,
}

/// Orders a batch's messages by sequence (a redelivered one can come after
/// later ones): an upsert then applies them in the stream's order.
pub(super) fn in_order(o: &mut Open) {
    if o.msgs.seqs.is_sorted() {
        return;
    }
    let mut idx: Vec<usize> = (0..o.msgs.seqs.len()).collect();
    idx.sort_by_key(|&i| o.msgs.seqs[i]);
    let (mut data, mut msgs, mut replies) = (
        Vec::with_capacity(o.data.len()),
        Messages::default(),
        Vec::new(),
    );
    msgs.values = vec![Vec::with_capacity(idx.len()); o.msgs.values.len()];
    for i in idx {
        data.extend_from_slice(o.msgs.payload(&o.data, i));
        msgs.seqs.push(o.msgs.seqs[i]);
        msgs.ends.push(data.len() as u32);
        replies.push(o.replies[i].clone());
        msgs.subjects.push(o.msgs.subjects[i].clone());
        for (to, from) in msgs.values.iter_mut().zip(&o.msgs.values) {
            to.push(from[i].clone());
        }
    }
    (o.data, o.msgs, o.replies) = (data, msgs, replies);
}

/// What column source `f` takes of message `m` (stream sequence `seq`).
pub(super) fn message_value(m: &jetstream::Message, seq: u64, f: &MessageField) -> Option<String> {
    match f {
        MessageField::Header(name) => {
            let headers = m.message.headers.as_ref()?;
            Some(headers.get(name.as_str())?.as_str().to_string())
        }
        MessageField::Subject => Some(m.message.subject.to_string()),
        MessageField::Sequence => Some(seq.to_string()),
        MessageField::Published => {
            let info = m.info().ok()?;
            Some(
                info.published
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            )
        }
    }
}

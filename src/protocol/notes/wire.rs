//! The encoding of a list of reject notes in frames (postcard) and in the
//! ledger's `rejects` column (JSON): each distinct text once, each note its
//! numbers and the indexes of its texts.
//!
//! ```text
//!  {"texts": ["amount", "bad_decimal", "amount: \"x\" is not a decimal(12,2)"],
//!   "notes": [[offset, len, line, records, column|null, code, reason], ...]}
//!             [4711,   12,  57,   1,       0,           1,    2     ]
//! ```
//!
//! A batch rejected whole repeats one message on every note, and the column
//! and code repeat on most: stored once, they cost an index per note, which
//! is what lets `bound.rs` bound a batch's answer at 1,000,000 notes.
//! In memory notes stay `RejectNote`s, so neither side's code sees this.
//! Owns this shape only: `fit` decides the texts, and this must not change
//! a note's numbers or order.

use std::collections::HashMap;

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::protocol::RejectNote;

/// One note: offset, len, line, records, column, code, reason (the last
/// three index `texts`). A tuple, so that JSON spells it as a short array.
#[derive(Serialize, Deserialize)]
struct Ref(u64, u64, u64, u32, Option<u32>, u32, u32);

#[derive(Serialize)]
struct Out<'a> {
    texts: Vec<&'a str>,
    notes: Vec<Ref>,
}

#[derive(Deserialize)]
struct In {
    texts: Vec<String>,
    notes: Vec<Ref>,
}

/// `#[serde(with = "notes::wire")]` on a `Vec<RejectNote>`.
pub fn serialize<S: Serializer>(notes: &[RejectNote], s: S) -> Result<S::Ok, S::Error> {
    let mut texts: Vec<&str> = Vec::new();
    let mut index: HashMap<&str, u32> = HashMap::new();
    let mut id = |t| -> Result<u32, S::Error> {
        if let Some(&i) = index.get(t) {
            return Ok(i);
        }
        let i = u32::try_from(texts.len()).map_err(|_| S::Error::custom("too many texts"))?;
        texts.push(t);
        index.insert(t, i);
        Ok(i)
    };
    let mut refs = Vec::with_capacity(notes.len());
    for n in notes {
        let column = n.column.as_deref().map(&mut id).transpose()?;
        let (code, reason) = (id(&n.code)?, id(&n.reason)?);
        refs.push(Ref(
            n.offset, n.len, n.line, n.records, column, code, reason,
        ));
    }
    Out { texts, notes: refs }.serialize(s)
}

/// The other half of `serialize`; an index beyond the texts is an error.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<RejectNote>, D::Error> {
    let In { texts, notes } = In::deserialize(d)?;
    let text = |i: u32| {
        texts.get(i as usize).cloned().ok_or_else(|| {
            D::Error::custom(format!(
                "a reject note names text {i}, and there are {}",
                texts.len()
            ))
        })
    };
    notes
        .into_iter()
        .map(|Ref(offset, len, line, records, column, code, reason)| {
            Ok(RejectNote {
                offset,
                len,
                line,
                records,
                column: column.map(text).transpose()?,
                code: text(code)?,
                reason: text(reason)?,
            })
        })
        .collect()
}

/// Notes to encode on their own (the ledger's JSON).
pub struct Shared<'a>(pub &'a [RejectNote]);

impl Serialize for Shared<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize(self.0, s)
    }
}

/// Notes decoded on their own (the ledger's JSON).
#[derive(Deserialize)]
pub struct Owned(#[serde(deserialize_with = "deserialize")] pub Vec<RejectNote>);

//! A batch of JSON Lines into typed rows and reject notes. Worker side.
//!
//! Owns which value of a record reaches which column (top-level keys,
//! JSON Pointers, the extra-keys column) and the order in which a record's
//! problems are reported: first whatever makes it not a valid record
//! (`strict.rs`: anywhere in it, also in values no column takes), then a
//! key no column names (`extra = "reject"`), then the first column whose
//! value does not fit (`convert::field`). Lines are `format::lines`'; no
//! files, pipes or databases.

use std::collections::HashMap;

use super::strict::{self, Member, Value};
use super::{Extra, JsonlFormat, pointer};
use crate::format::convert::{Bad, Raw, field};
use crate::format::{Field, Layout, Parsed, RowOrigin, Rows, lines};
use crate::protocol::RejectNote;

/// Parses `data`, whole lines taken from byte offset `start` of a source;
/// `first_line` is the physical line (1-based) at `start`.
pub fn parse_batch(
    fmt: &JsonlFormat,
    layout: &Layout,
    start: u64,
    first_line: u64,
    data: &[u8],
) -> Parsed {
    let plan = Plan::new(fmt, layout);
    let width = layout.columns.len();
    // Room for about as many rows as lines the size of the first: reserved
    // once, the hot loop does not regrow (capped: a huge layout over many
    // short lines must not abort), without a pass to count the lines.
    let first = memchr::memchr(b'\n', data).map_or(data.len(), |k| k + 1);
    let approx = data.len() / first.max(16) * 9 / 8 + 1;
    let mut rows = Rows::new(width);
    rows.cells
        .reserve(approx.saturating_mul(width).min(1 << 24));
    rows.origins.reserve(approx);
    rows.text.reserve(data.len());
    let mut b = Batch {
        plan: &plan,
        layout,
        rows,
        rejects: Vec::new(),
        members: Vec::new(),
        values: Vec::new(),
        found: vec![None; plan.keys.len()],
        hints: Vec::new(),
        out: String::new(),
    };
    // One check of the whole batch (SIMD) instead of one per line; lines
    // end at `\n`, so each is a slice of it.
    let whole = simdutf8::basic::from_utf8(data).ok();
    for line in lines::split(data) {
        let origin = RowOrigin {
            offset: start + line.at as u64,
            len: u32::try_from(line.len).unwrap_or(u32::MAX),
            line: first_line + line.line,
        };
        let text = whole.map(|w| &w[line.at..line.at + line.text.len()]);
        if let Err(no) = b.record(line.text, text, origin) {
            b.rejects.push(RejectNote {
                offset: origin.offset,
                len: line.len as u64,
                line: origin.line,
                records: 1,
                column: no.column,
                code: no.code.to_string(),
                reason: no.reason,
            });
        }
    }
    let records = (b.rows.len() + b.rejects.len()) as u64;
    Parsed {
        rows: b.rows,
        rejects: b.rejects,
        records,
    }
}

/// Where each column's value comes from, worked out once per batch.
struct Plan<'l> {
    /// The distinct top-level keys that columns name.
    keys: Vec<&'l str>,
    /// The same, for records with many keys.
    index: HashMap<&'l str, usize>,
    sources: Vec<Source<'l>>,
    reject_extra: bool,
    has_extra_column: bool,
}

enum Source<'l> {
    /// The value of `keys[k]`.
    Key(usize),
    /// Inside the value of `keys[k]`, at these tokens.
    Deep(usize, &'l [String]),
    /// The object of the keys no column names.
    Extra,
    /// Nothing from the record (a constant, a column the source lacks).
    Nothing,
}

impl<'l> Plan<'l> {
    fn new(fmt: &JsonlFormat, layout: &'l Layout) -> Plan<'l> {
        let mut keys: Vec<&str> = Vec::new();
        let mut key = |k: &'l str| match keys.iter().position(|&have| have == k) {
            Some(i) => i,
            None => {
                keys.push(k);
                keys.len() - 1
            }
        };
        let extra = fmt.extra_column();
        let sources: Vec<Source> = (layout.columns.iter().zip(&layout.fields))
            .map(|(col, f)| match f {
                _ if Some(col.name.as_str()) == extra && *f == Field::Absent => Source::Extra,
                Field::Path(tokens) => match tokens.as_slice() {
                    [] => Source::Nothing,
                    [k] => Source::Key(key(k)),
                    [k, rest @ ..] => Source::Deep(key(k), rest),
                },
                _ => Source::Nothing,
            })
            .collect();
        let index = keys.iter().enumerate().map(|(i, &k)| (k, i)).collect();
        Plan {
            has_extra_column: sources.iter().any(|s| matches!(s, Source::Extra)),
            keys,
            index,
            sources,
            reject_extra: fmt.extra == Extra::Reject,
        }
    }

    /// The slot of a key columns name; `hint` is where the previous record's
    /// key at the same position was (records tend to repeat their order).
    fn slot(&self, key: &str, hint: Option<usize>) -> Option<usize> {
        if let Some(h) = hint
            && self.keys[h] == key
        {
            return Some(h);
        }
        match self.keys.len() {
            0..=12 => self.keys.iter().position(|&k| k == key),
            _ => self.index.get(key).copied(),
        }
    }
}

/// Why a record is rejected.
struct No {
    column: Option<String>,
    code: &'static str,
    reason: String,
}

impl From<strict::Fail> for No {
    fn from(f: strict::Fail) -> No {
        No {
            column: None,
            code: f.code,
            reason: f.reason(),
        }
    }
}

/// Per-batch state; the buffers are reused from record to record.
struct Batch<'p, 'd> {
    plan: &'p Plan<'p>,
    layout: &'p Layout,
    rows: Rows,
    rejects: Vec<RejectNote>,
    members: Vec<Member<'d>>,
    values: Vec<Value<'d>>,
    /// For each of `plan.keys`, the member holding it in this record.
    found: Vec<Option<usize>>,
    /// For each member position, the slot its key had last time.
    hints: Vec<Option<usize>>,
    /// Unescaped strings and compact JSON of this record.
    out: String,
}

impl<'d> Batch<'_, 'd> {
    /// One line; `text` is the same when known to be UTF-8.
    fn record(
        &mut self,
        line: &'d [u8],
        text: Option<&'d str>,
        origin: RowOrigin,
    ) -> Result<(), No> {
        let text = match text {
            Some(t) => strict::object_str(t, &mut self.members)?,
            None => strict::object(line, &mut self.members)?,
        };
        self.out.clear();
        self.values.clear();
        // A duplicate key inside a value is reported once every value is
        // known to be JSON: invalid JSON anywhere comes first.
        let mut dup = None;
        for (key, raw) in &self.members {
            match strict::value(text, raw, &mut self.out) {
                Ok(v) => self.values.push(v),
                Err(mut f) => {
                    f.path.push(key.to_string());
                    if f.code != "duplicate_key" {
                        return Err(f.into());
                    }
                    dup.get_or_insert(f);
                    self.values.push(Value::Null);
                }
            }
        }
        if let Some(f) = dup {
            return Err(f.into());
        }
        self.found.fill(None);
        self.hints.resize(self.members.len(), None);
        let mut extra = false;
        for (i, (key, _)) in self.members.iter().enumerate() {
            let slot = self.plan.slot(key, self.hints[i]);
            self.hints[i] = slot;
            match slot {
                Some(s) => self.found[s] = Some(i),
                None if self.plan.reject_extra => {
                    return Err(No {
                        column: None,
                        code: "extra_key",
                        reason: format!(
                            "key {} is not one the columns take (extra = \"reject\")",
                            crate::format::show(key.as_bytes())
                        ),
                    });
                }
                None => extra = true,
            }
        }
        let extra = match extra && self.plan.has_extra_column {
            true => Some(self.extra_object(text)?),
            false => None,
        };
        let Batch {
            plan,
            layout,
            rows,
            members,
            values,
            found,
            out,
            ..
        } = self;
        let (cells, arena) = (rows.cells.len(), rows.text.len());
        for (c, col) in layout.columns.iter().enumerate() {
            let value = match &plan.sources[c] {
                Source::Key(k) => found[*k].map(|m| values[m].clone()),
                Source::Deep(k, rest) => {
                    match found[*k].and_then(|m| pointer::find(members[m].1, rest)) {
                        // Checked already, as part of its top-level member.
                        Some(v) => Some(strict::value(text, v, out)?),
                        None => None,
                    }
                }
                Source::Extra => extra.clone().map(Value::Out),
                Source::Nothing => None,
            };
            let raw = match &value {
                None => Raw::Absent,
                Some(Value::Null) => Raw::Null,
                Some(Value::Text(t)) => Raw::Text(t.as_bytes()),
                Some(Value::Out(r)) => Raw::Text(out[r.clone()].as_bytes()),
            };
            match field(col, raw, None, &mut rows.text) {
                Ok(cell) => rows.cells.push(cell),
                Err(Bad { code, reason }) => {
                    rows.cells.truncate(cells);
                    rows.text.truncate(arena);
                    return Err(No {
                        column: Some(col.name.clone()),
                        code,
                        reason,
                    });
                }
            }
        }
        rows.origins.push(origin);
        Ok(())
    }

    /// The members no column names, as one compact JSON object written at
    /// the end of `out`.
    fn extra_object(&mut self, text: &str) -> Result<std::ops::Range<usize>, No> {
        let start = self.out.len();
        self.out.push('{');
        let mut first = true;
        for (i, (key, raw)) in self.members.iter().enumerate() {
            if self.hints[i].is_some() {
                continue;
            }
            if !first {
                self.out.push(',');
            }
            first = false;
            strict::write_str(&mut self.out, key);
            self.out.push(':');
            strict::compact(text, raw, &mut self.out)?;
        }
        self.out.push('}');
        Ok(start..self.out.len())
    }
}

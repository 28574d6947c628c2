//! Columns whose values come with a record rather than in it: a stream
//! message's headers, subject, sequence or publish time (`Field::Message`).
//! The source gathers the values per message; the format parses the payload
//! as if those columns were constants, then `fill` converts each row's value
//! with the column's own rules (type, `default` for a missing header, NOT
//! NULL), so a bad header value rejects its record like a bad field does.
//!
//! Owns that substitution. Must not know where the values come from.

use super::convert::{Bad, Raw, field};
use super::{ColumnSpec, ColumnType, Field, Format, Layout, Parsed};
use crate::protocol::RejectNote;

impl Format {
    /// `layout`, with `message[c] = Some(k)` meaning that column `c` takes
    /// the record's `k`-th message value: the format never looks for it in
    /// the record.
    pub fn layout_with_message(
        &self,
        columns: &[ColumnSpec],
        header: Option<&[String]>,
        message: &[Option<u16>],
    ) -> Result<Layout, super::error::LayoutError> {
        let stand_ins: Vec<ColumnSpec> = (columns.iter().enumerate())
            .map(|(c, col)| match message.get(c).copied().flatten() {
                Some(_) => stand_in(col),
                None => col.clone(),
            })
            .collect();
        let mut layout = self.layout(Some(&stand_ins), header)?;
        layout.columns = columns.to_vec();
        for (c, k) in message.iter().enumerate() {
            if let Some(k) = k {
                layout.fields[c] = Field::Message(*k);
            }
        }
        Ok(layout)
    }
}

impl Layout {
    pub fn has_message_fields(&self) -> bool {
        self.fields.iter().any(|f| matches!(f, Field::Message(_)))
    }

    /// The layout the format parses the payload with: message columns are
    /// empty text constants there, replaced by `fill`.
    pub fn for_payload(&self) -> Layout {
        let mut l = self.clone();
        for (c, f) in self.fields.iter().enumerate() {
            if let Field::Message(_) = f {
                l.columns[c] = stand_in(&self.columns[c]);
                l.fields[c] = Field::Constant;
            }
        }
        l
    }
}

/// A column that takes nothing from the record and always converts.
fn stand_in(col: &ColumnSpec) -> ColumnSpec {
    ColumnSpec {
        ty: ColumnType::Text { max_chars: None },
        nullable: true,
        from: None,
        null_if: None,
        default: None,
        constant: Some(String::new()),
        ..col.clone()
    }
}

/// Puts each row's message values into the message columns of `parsed`
/// (parsed with `layout.for_payload()`): `value(offset, k)` is the `k`-th
/// value of the message holding the record at `offset` (`None`: that
/// message has none, as a missing header). A row whose value does not
/// convert becomes a reject note naming the column.
pub fn fill<'v>(parsed: &mut Parsed, layout: &Layout, value: impl Fn(u64, u16) -> Option<&'v str>) {
    let targets: Vec<(usize, u16)> = (layout.fields.iter().enumerate())
        .filter_map(|(c, f)| match f {
            Field::Message(k) => Some((c, *k)),
            _ => None,
        })
        .collect();
    if targets.is_empty() {
        return;
    }
    let rows = &mut parsed.rows;
    let width = rows.width;
    let mut keep = Vec::with_capacity(rows.origins.len());
    for (r, origin) in rows.origins.iter().enumerate() {
        let mut ok = true;
        for &(c, k) in &targets {
            let col = &layout.columns[c];
            let raw = match value(origin.offset, k) {
                Some(v) => Raw::Text(v.as_bytes()),
                None => Raw::Absent,
            };
            match field(col, raw, None, &mut rows.text) {
                Ok(cell) => rows.cells[r * width + c] = cell,
                Err(Bad { code, reason }) => {
                    parsed.rejects.push(RejectNote {
                        offset: origin.offset,
                        len: u64::from(origin.len),
                        line: origin.line,
                        records: 1,
                        column: Some(col.name.clone()),
                        code: code.to_string(),
                        reason,
                    });
                    ok = false;
                    break;
                }
            }
        }
        keep.push(ok);
    }
    if keep.iter().all(|&k| k) {
        return;
    }
    // Rare: rows with a bad message value leave; the text they wrote to the
    // arena stays (unreferenced) until the batch ends.
    let mut r = 0;
    rows.origins.retain(|_| {
        r += 1;
        keep[r - 1]
    });
    let mut i = 0;
    rows.cells.retain(|_| {
        i += 1;
        keep[(i - 1) / width]
    });
    parsed.rejects.sort_by_key(|n| n.offset);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::jsonl::JsonlFormat;
    use crate::format::types::Cell;

    fn col(name: &str, ty: ColumnType, nullable: bool) -> ColumnSpec {
        ColumnSpec {
            ty,
            nullable,
            ..ColumnSpec::text(name)
        }
    }

    fn jsonl() -> Format {
        Format::Jsonl(JsonlFormat::default())
    }

    #[test]
    fn message_columns_take_their_values_and_bad_ones_reject_the_record() {
        let columns = vec![
            col("id", ColumnType::BigInt, false),
            col("msg_id", ColumnType::Text { max_chars: None }, false),
            col("seq", ColumnType::BigInt, true),
        ];
        let f = jsonl();
        let l = f
            .layout_with_message(&columns, None, &[None, Some(0), Some(1)])
            .unwrap();
        assert_eq!(l.fields[1], Field::Message(0));
        assert_eq!(l.fields[2], Field::Message(1));
        assert!(l.has_message_fields());
        let data = b"{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n";
        let mut parsed = f.parse_batch(&l.for_payload(), 0, 1, data);
        assert_eq!(parsed.rows.len(), 3);
        // Records at offsets 0, 9, 18: the second lacks its header (NOT
        // NULL, no default), the third has a sequence that is no number.
        let values = |offset: u64, k: u16| match (offset, k) {
            (0, 0) => Some("a"),
            (0, 1) => Some("7"),
            (9, 0) => None,
            (9, 1) => Some("8"),
            (18, 0) => Some("c"),
            _ => Some("x"),
        };
        fill(&mut parsed, &l, values);
        assert_eq!(parsed.rows.len(), 1);
        let row = parsed.rows.row(0);
        assert_eq!(row[0], Cell::Int(1));
        match row[1] {
            Cell::Text { start, len } => assert_eq!(parsed.rows.text_of(start, len), "a"),
            ref other => panic!("{other:?}"),
        }
        assert_eq!(row[2], Cell::Int(7));
        let got: Vec<_> = (parsed.rejects.iter())
            .map(|n| (n.offset, n.column.as_deref().unwrap()))
            .collect();
        assert_eq!(got, [(9, "msg_id"), (18, "seq")]);
    }

    #[test]
    fn a_message_column_takes_no_position_in_a_headerless_csv() {
        let columns = vec![
            col("subject", ColumnType::Text { max_chars: None }, true),
            col("a", ColumnType::Int, true),
            col("b", ColumnType::Int, true),
        ];
        let f = Format::Csv(crate::format::CsvFormat {
            header: false,
            ..Default::default()
        });
        let l = f
            .layout_with_message(&columns, None, &[Some(0), None, None])
            .unwrap();
        assert_eq!(l.fields, [Field::Message(0), Field::At(0), Field::At(1)]);
        assert_eq!(l.field_count, 2);
    }
}

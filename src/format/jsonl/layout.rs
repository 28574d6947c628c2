//! A JSON Lines file's `Layout`: each configured column reads the top-level
//! key of its name, or its `from` (a key, or a JSON Pointer when it starts
//! with `/`); without columns, the first object's keys are the columns, as
//! text, in that object's order. Supervisor side, once per file; pure.
//!
//! Owns the meaning of `from` for JSON Lines. Must not read records: the
//! first object's keys come from `preamble.rs`.

use super::{JsonlFormat, pointer};
use crate::format::error::LayoutError;
use crate::format::{ColumnSpec, Field, Layout};

/// Builds the layout of one file; `keys` are its first object's (see
/// `read_preamble`). The extra-keys column takes no key: `Field::Absent`
/// marks it, and the parser fills it.
pub fn layout(
    fmt: &JsonlFormat,
    columns: Option<&[ColumnSpec]>,
    keys: Option<&[String]>,
) -> Result<Layout, LayoutError> {
    let extra = fmt.extra_column();
    let Some(columns) = columns else {
        return from_keys(keys.unwrap_or_default(), extra);
    };
    let fields = columns
        .iter()
        .map(|col| {
            if col.constant.is_some() {
                return Ok(Field::Constant);
            }
            if Some(col.name.as_str()) == extra {
                return Ok(Field::Absent);
            }
            tokens(col)
                .map(Field::Path)
                .map_err(|reason| LayoutError::Pointer {
                    column: col.name.clone(),
                    reason,
                })
        })
        .collect::<Result<_, _>>()?;
    Ok(Layout {
        columns: columns.to_vec(),
        fields,
        field_count: 0,
    })
}

/// Where a configured column's value is: its `from` as a JSON Pointer when
/// it starts with `/`, else as one top-level key; without `from`, the key
/// of its name.
pub fn tokens(col: &ColumnSpec) -> Result<Vec<String>, String> {
    match col.from.as_deref() {
        None => Ok(vec![col.name.clone()]),
        Some(f) if f.starts_with('/') => pointer::parse(f),
        Some(f) => Ok(vec![f.to_string()]),
    }
}

fn from_keys(keys: &[String], extra: Option<&str>) -> Result<Layout, LayoutError> {
    if keys.is_empty() {
        return Err(LayoutError::NoKeys {
            limit: crate::format::csv::preamble::MAX_PREAMBLE,
        });
    }
    let problem = |reason: String| Err(LayoutError::FirstObject { reason });
    if let Some(i) = keys.iter().position(String::is_empty) {
        return problem(format!(
            "its key {} is empty, and a column needs a name",
            i + 1
        ));
    }
    if let Some(x) = extra.filter(|x| keys.iter().any(|k| k == x)) {
        return problem(format!(
            "its key {x:?} is also the extra_column's name: rename extra_column"
        ));
    }
    let mut columns: Vec<ColumnSpec> = keys.iter().map(|k| ColumnSpec::text(k)).collect();
    let mut fields: Vec<Field> = keys.iter().map(|k| Field::Path(vec![k.clone()])).collect();
    if let Some(x) = extra {
        columns.push(ColumnSpec::text(x));
        fields.push(Field::Absent);
    }
    Ok(Layout {
        columns,
        fields,
        field_count: 0,
    })
}

//! Deciding a file's `Layout`: which record field feeds which target column,
//! from the configured columns and/or the file's header. Supervisor side, once
//! per file; pure (no files, no database lookups).

use super::error::LayoutError;
use super::names::{self, Mismatch};
use super::{ColumnSpec, Field, Layout};

/// Builds the layout of one file.
///
/// * columns + header: each column takes the header field named by its
///   `from`, else by its name (`names::resolve`: exactly, else ignoring case
///   when unambiguous); every record must have as many fields as the header.
///   A column with a `constant`, or a `default` and no such header field,
///   takes no field.
/// * columns, no header: by position (`from` may name a 1-based position);
///   records have exactly as many fields as the columns that take one.
/// * header only: every header field becomes a nullable text column.
pub fn layout(
    columns: Option<&[ColumnSpec]>,
    header: Option<&[String]>,
) -> Result<Layout, LayoutError> {
    match (columns, header) {
        (Some(columns), Some(header)) => by_name(columns, header),
        (Some(columns), None) => by_position(columns),
        (None, Some(header)) => from_header(header),
        (None, None) => Err(LayoutError::NoColumns),
    }
}

fn by_position(columns: &[ColumnSpec]) -> Result<Layout, LayoutError> {
    let mut next = 0u32;
    let mut fields = Vec::with_capacity(columns.len());
    for col in columns {
        if col.constant.is_some() {
            fields.push(Field::Constant);
            continue;
        }
        let at = match col.from.as_deref().map(str::parse::<u32>) {
            None => next,
            Some(Ok(n)) if n >= 1 => n - 1,
            Some(_) => {
                return Err(LayoutError::FromPosition {
                    column: col.name.clone(),
                    from: col.from.clone().unwrap_or_default(),
                });
            }
        };
        next = at + 1;
        fields.push(Field::At(at));
    }
    let field_count = fields
        .iter()
        .filter_map(|f| match f {
            Field::At(i) => Some(i + 1),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    Ok(Layout {
        columns: columns.to_vec(),
        fields,
        field_count,
    })
}

fn by_name(columns: &[ColumnSpec], header: &[String]) -> Result<Layout, LayoutError> {
    // Columns that take a header field, and the name each looks for.
    let wanted: Vec<usize> = (0..columns.len())
        .filter(|&i| columns[i].constant.is_none())
        .collect();
    let names: Vec<&str> = wanted
        .iter()
        .map(|&i| columns[i].from.as_deref().unwrap_or(&columns[i].name))
        .collect();
    let found = match names::resolve(&names, header) {
        Ok(found) => found.into_iter().map(Some).collect(),
        Err(Mismatch::Missing(missing)) => {
            // A column with a default may be missing from the header.
            if let Some(&m) = missing
                .iter()
                .find(|&&m| columns[wanted[m]].default.is_none())
            {
                return Err(LayoutError::MissingColumn {
                    column: names[m].to_string(),
                    header: header.to_vec(),
                });
            }
            let present: Vec<usize> = (0..names.len()).filter(|i| !missing.contains(i)).collect();
            let sub: Vec<&str> = present.iter().map(|&i| names[i]).collect();
            let got = names::resolve(&sub, header)
                .map_err(|m| mismatch(columns, &wanted, &present, header, m))?;
            let mut found = vec![None; names.len()];
            for (k, f) in present.into_iter().zip(got) {
                found[k] = Some(f);
            }
            found
        }
        Err(m) => {
            let all: Vec<usize> = (0..names.len()).collect();
            return Err(mismatch(columns, &wanted, &all, header, m));
        }
    };
    let mut fields = vec![Field::Constant; columns.len()];
    for (k, f) in found.into_iter().enumerate() {
        fields[wanted[k]] = match f {
            Some(f) => Field::At(f as u32),
            None => Field::Absent,
        };
    }
    Ok(Layout {
        columns: columns.to_vec(),
        fields,
        field_count: header.len() as u32,
    })
}

/// A name mismatch as an error about columns: `m` indexes `subset`, which
/// indexes `wanted`, which indexes `columns`.
fn mismatch(
    columns: &[ColumnSpec],
    wanted: &[usize],
    subset: &[usize],
    header: &[String],
    m: Mismatch,
) -> LayoutError {
    let col = |i: usize| columns[wanted[subset[i]]].name.clone();
    match m {
        Mismatch::Missing(missing) => LayoutError::MissingColumn {
            column: col(missing[0]),
            header: header.to_vec(),
        },
        Mismatch::Ambiguous { wanted, have } => LayoutError::AmbiguousColumn {
            column: col(wanted),
            fields: have
                .iter()
                .map(|&i| format!("{:?} (field {})", header[i], i + 1))
                .collect(),
        },
        Mismatch::Shared {
            first,
            second,
            have,
        } => LayoutError::SharedField {
            first: col(first),
            second: col(second),
            field: header[have].clone(),
        },
    }
}

fn from_header(header: &[String]) -> Result<Layout, LayoutError> {
    for (i, name) in header.iter().enumerate() {
        let reason = if name.is_empty() {
            "has no name".to_string()
        } else if let Some(j) = header[..i].iter().position(|h| h == name) {
            format!("{name:?} repeats field {}", j + 1)
        } else {
            continue;
        };
        return Err(LayoutError::HeaderName {
            index: i + 1,
            reason,
        });
    }
    Ok(Layout {
        columns: header.iter().map(|h| ColumnSpec::text(h)).collect(),
        fields: (0..header.len() as u32).map(Field::At).collect(),
        field_count: header.len() as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::ColumnType;

    fn h(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn at(fields: &[u32]) -> Vec<Field> {
        fields.iter().map(|&f| Field::At(f)).collect()
    }

    fn cols(names: &[&str]) -> Vec<ColumnSpec> {
        names
            .iter()
            .map(|n| ColumnSpec {
                ty: ColumnType::BigInt,
                nullable: false,
                ..ColumnSpec::text(n)
            })
            .collect()
    }

    #[test]
    fn columns_by_header_name() {
        let l = layout(Some(&cols(&["b", "ID"])), Some(&h(&["id", "a", "b"]))).unwrap();
        assert_eq!((l.fields, l.field_count), (at(&[2, 0]), 3));
        assert_eq!(l.columns, cols(&["b", "ID"]));
        // Exact wins over case-insensitive.
        let l = layout(Some(&cols(&["Id"])), Some(&h(&["ID", "Id"]))).unwrap();
        assert_eq!(l.fields, at(&[1]));
    }

    #[test]
    fn missing_ambiguous_shared() {
        let e = layout(Some(&cols(&["x"])), Some(&h(&["a", "b"]))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "column \"x\" is not in the header (fields: a, b)"
        );
        // One exact match settles it even when case-insensitive ones exist.
        let l = layout(Some(&cols(&["x"])), Some(&h(&["X", "b", "x"]))).unwrap();
        assert_eq!(l.fields, at(&[2]));
        // Duplicates only matter when they make the match ambiguous.
        let l = layout(Some(&cols(&["b"])), Some(&h(&["a", "a", "b"]))).unwrap();
        assert_eq!(l.fields, at(&[2]));
        let e = layout(Some(&cols(&["a"])), Some(&h(&["b", "a", "a"]))).unwrap_err();
        assert!(matches!(e, LayoutError::AmbiguousColumn { .. }), "{e}");
        let e = layout(Some(&cols(&["x"])), Some(&h(&["X", "b", "X"]))).unwrap_err();
        assert!(
            e.to_string().contains("\"X\" (field 1), \"X\" (field 3)"),
            "{e}"
        );
        // Case-insensitive is Unicode-aware.
        let l = layout(Some(&cols(&["größe"])), Some(&h(&["GRÖSSE", "Größe"]))).unwrap();
        assert_eq!(l.fields, at(&[1]));
        let l = layout(Some(&cols(&["ÉTAT"])), Some(&h(&["état"]))).unwrap();
        assert_eq!(l.fields, at(&[0]));
        let e = layout(Some(&cols(&["a", "A"])), Some(&h(&["a", "b"]))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "columns \"a\" and \"A\" both match header field \"a\""
        );
    }

    #[test]
    fn by_position_and_from_header() {
        let l = layout(Some(&cols(&["a", "b"])), None).unwrap();
        assert_eq!((l.fields, l.field_count), (at(&[0, 1]), 2));
        let l = layout(None, Some(&h(&["a", "b"]))).unwrap();
        assert_eq!(
            l.columns,
            vec![ColumnSpec::text("a"), ColumnSpec::text("b")]
        );
        assert_eq!((l.fields, l.field_count), (at(&[0, 1]), 2));
        let e = layout(None, Some(&h(&["a", "", "b"]))).unwrap_err();
        assert_eq!(e.to_string(), "header field 2 has no name");
        let e = layout(None, Some(&h(&["a", "b", "a"]))).unwrap_err();
        assert_eq!(e.to_string(), "header field 3 \"a\" repeats field 1");
        assert_eq!(layout(None, None).unwrap_err(), LayoutError::NoColumns);
    }

    #[test]
    fn from_default_and_constant() {
        let mut c = cols(&["id", "amount", "origin"]);
        c[1].from = Some("AMT".into());
        c[2].constant = Some("web".into());
        let l = layout(Some(&c), Some(&h(&["amt", "id"]))).unwrap();
        assert_eq!(l.fields, vec![Field::At(1), Field::At(0), Field::Constant]);
        // A header without the field: an error, unless the column has a default.
        let e = layout(Some(&c), Some(&h(&["id"]))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "column \"AMT\" is not in the header (fields: id)"
        );
        c[1].default = Some("0".into());
        let l = layout(Some(&c), Some(&h(&["id"]))).unwrap();
        assert_eq!(l.fields, vec![Field::At(0), Field::Absent, Field::Constant]);
        // Without a header, `from` is a position.
        c[1].from = Some("3".into());
        let l = layout(Some(&c), None).unwrap();
        assert_eq!(l.fields, vec![Field::At(0), Field::At(2), Field::Constant]);
        assert_eq!(l.field_count, 3);
        c[1].from = Some("amt".into());
        let e = layout(Some(&c), None).unwrap_err();
        assert!(matches!(e, LayoutError::FromPosition { .. }), "{e}");
    }
}

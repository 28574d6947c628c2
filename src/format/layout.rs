//! Deciding a file's `Layout`: which record field feeds which target column,
//! from the configured columns and/or the file's header. Supervisor side, once
//! per file; pure (no files, no database lookups).

use super::error::LayoutError;
use super::names::{self, Mismatch};
use super::{ColumnSpec, Layout};

/// Builds the layout of one file.
///
/// * columns + header: each column takes the header field of the same name
///   (`names::resolve`: exactly, else ignoring case when unambiguous); every
///   record must have as many fields as the header.
/// * columns, no header: by position; records have exactly `columns.len()` fields.
/// * header only: every header field becomes a nullable text column.
pub fn layout(
    columns: Option<&[ColumnSpec]>,
    header: Option<&[String]>,
) -> Result<Layout, LayoutError> {
    match (columns, header) {
        (Some(columns), Some(header)) => by_name(columns, header),
        (Some(columns), None) => Ok(Layout {
            columns: columns.to_vec(),
            fields: (0..columns.len() as u32).collect(),
            field_count: columns.len() as u32,
        }),
        (None, Some(header)) => from_header(header),
        (None, None) => Err(LayoutError::NoColumns),
    }
}

fn by_name(columns: &[ColumnSpec], header: &[String]) -> Result<Layout, LayoutError> {
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let fields = names::resolve(&names, header).map_err(|m| match m {
        Mismatch::Missing(missing) => LayoutError::MissingColumn {
            column: columns[missing[0]].name.clone(),
            header: header.to_vec(),
        },
        Mismatch::Ambiguous { wanted, have } => LayoutError::AmbiguousColumn {
            column: columns[wanted].name.clone(),
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
            first: columns[first].name.clone(),
            second: columns[second].name.clone(),
            field: header[have].clone(),
        },
    })?;
    Ok(Layout {
        columns: columns.to_vec(),
        fields: fields.into_iter().map(|f| f as u32).collect(),
        field_count: header.len() as u32,
    })
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
        fields: (0..header.len() as u32).collect(),
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
        assert_eq!((l.fields, l.field_count), (vec![2, 0], 3));
        assert_eq!(l.columns, cols(&["b", "ID"]));
        // Exact wins over case-insensitive.
        let l = layout(Some(&cols(&["Id"])), Some(&h(&["ID", "Id"]))).unwrap();
        assert_eq!(l.fields, vec![1]);
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
        assert_eq!(l.fields, vec![2]);
        // Duplicates only matter when they make the match ambiguous.
        let l = layout(Some(&cols(&["b"])), Some(&h(&["a", "a", "b"]))).unwrap();
        assert_eq!(l.fields, vec![2]);
        let e = layout(Some(&cols(&["a"])), Some(&h(&["b", "a", "a"]))).unwrap_err();
        assert!(matches!(e, LayoutError::AmbiguousColumn { .. }), "{e}");
        let e = layout(Some(&cols(&["x"])), Some(&h(&["X", "b", "X"]))).unwrap_err();
        assert!(
            e.to_string().contains("\"X\" (field 1), \"X\" (field 3)"),
            "{e}"
        );
        // Case-insensitive is Unicode-aware.
        let l = layout(Some(&cols(&["größe"])), Some(&h(&["GRÖSSE", "Größe"]))).unwrap();
        assert_eq!(l.fields, vec![1]);
        let l = layout(Some(&cols(&["ÉTAT"])), Some(&h(&["état"]))).unwrap();
        assert_eq!(l.fields, vec![0]);
        let e = layout(Some(&cols(&["a", "A"])), Some(&h(&["a", "b"]))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "columns \"a\" and \"A\" both match header field \"a\""
        );
    }

    #[test]
    fn by_position_and_from_header() {
        let l = layout(Some(&cols(&["a", "b"])), None).unwrap();
        assert_eq!((l.fields, l.field_count), (vec![0, 1], 2));
        let l = layout(None, Some(&h(&["a", "b"]))).unwrap();
        assert_eq!(
            l.columns,
            vec![ColumnSpec::text("a"), ColumnSpec::text("b")]
        );
        assert_eq!((l.fields, l.field_count), (vec![0, 1], 2));
        let e = layout(None, Some(&h(&["a", "", "b"]))).unwrap_err();
        assert_eq!(e.to_string(), "header field 2 has no name");
        let e = layout(None, Some(&h(&["a", "b", "a"]))).unwrap_err();
        assert_eq!(e.to_string(), "header field 3 \"a\" repeats field 1");
        assert_eq!(layout(None, None).unwrap_err(), LayoutError::NoColumns);
    }
}

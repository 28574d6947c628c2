//! `[[jobs.NAME.columns]]`: the column type grammar and the rules on a job's
//! column list (names, uniqueness, date formats).
//!
//! Owns turning `RawColumn`s into `ColumnSpec`s. Must not look at files or
//! other jobs; whether a header is required is decided by the caller.

use std::collections::HashMap;

use chrono::format::{Fixed, Item, StrftimeItems};
use toml::Spanned;

use super::error::Problem;
use super::raw::{OneOrMany, RawColumn};
use crate::format::fixed::{Position, Trim};
use crate::format::{ColumnSpec, ColumnType};

const TYPES: &str =
    "int, bigint, decimal(p,s), float, text, varchar(n), bool, date, timestamp or timestamptz";

/// Validates a job's configured columns (`job` is the key prefix `jobs.NAME`).
pub(crate) fn columns(job: &str, raw: Spanned<Vec<RawColumn>>) -> Result<Vec<ColumnSpec>, Problem> {
    let span = raw.span();
    let raw = raw.into_inner();
    if raw.is_empty() {
        return Err(Problem::new(
            format!("{job}.columns"),
            Some(span),
            "no columns listed: list at least one, or remove `columns` to take them from each file's header",
        ));
    }
    // Lowercased name -> index of its first use.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, col) in raw.into_iter().enumerate() {
        let key = format!("{job}.columns[{i}]");
        let name_span = col.name.span();
        let spec = column(&key, col)?;
        if let Some(first) = seen.insert(spec.name.to_lowercase(), i) {
            return Err(Problem::new(
                format!("{key}.name"),
                Some(name_span),
                format!(
                    "duplicate column name {:?}: columns[{first}] already uses it (names are compared ignoring case)",
                    spec.name
                ),
            ));
        }
        out.push(spec);
    }
    Ok(out)
}

/// Per column (by index): its position and its own trim.
pub(crate) type FixedColumns = (Vec<Option<Position>>, Vec<Option<Trim>>);

/// Each column's `position` and own `trim` (fixed width), by column index:
/// a position is required there unless the column has a `constant`, and
/// both are refused for other kinds. `max` is the job's `max_record_bytes`,
/// past which no byte of a record lies.
pub(crate) fn fixed_columns(
    job: &str,
    raw: Option<&Spanned<Vec<RawColumn>>>,
    fixed: bool,
    max: u32,
) -> Result<FixedColumns, Problem> {
    let Some(raw) = raw else {
        return Ok((Vec::new(), Vec::new()));
    };
    let mut out = Vec::with_capacity(raw.get_ref().len());
    let mut trims = Vec::with_capacity(raw.get_ref().len());
    for (i, col) in raw.get_ref().iter().enumerate() {
        let key = format!("{job}.columns[{i}].trim");
        trims.push(match (&col.trim, fixed) {
            (Some(t), true) => Some(super::format::fixed_trim(&key, t)?),
            (Some(t), false) => {
                return Err(Problem::new(
                    key,
                    Some(t.span()),
                    "a column's `trim` only applies to kind = \"fixed\" formats (a CSV format's \
                     `trim` is the format's)",
                ));
            }
            (None, _) => None,
        });
        let key = format!("{job}.columns[{i}].position");
        out.push(match (&col.position, fixed) {
            (Some(p), true) => Some(
                Position::parse(p.get_ref(), max)
                    .map_err(|m| Problem::new(&key, Some(p.span()), m))?,
            ),
            (Some(p), false) => {
                return Err(Problem::new(
                    key,
                    Some(p.span()),
                    "`position` only applies to kind = \"fixed\" formats",
                ));
            }
            (None, true) if col.constant.is_none() => {
                return Err(Problem::new(
                    key,
                    Some(col.name.span()),
                    format!(
                        "column {:?} has no `position`: each fixed-width column needs one, like \
                         position = \"1:10\" (bytes 1 to 10), or a `constant`",
                        col.name.get_ref()
                    ),
                ));
            }
            (None, _) => None,
        });
    }
    Ok((out, trims))
}

fn column(key: &str, raw: RawColumn) -> Result<ColumnSpec, Problem> {
    let name = column_name(key, &raw.name)?;
    let ty = parse_column_type(raw.ty.get_ref())
        .map_err(|m| Problem::new(format!("{key}.type"), Some(raw.ty.span()), m))?;
    let formats = match raw.format {
        None => Vec::new(),
        Some(f) => date_formats(key, ty, raw.ty.get_ref(), f)?,
    };
    if let Some(c) = &raw.constant {
        for (set, what) in [
            (raw.from.is_some(), "from"),
            (raw.default.is_some(), "default"),
            (raw.null_if.is_some(), "null_if"),
        ] {
            if set {
                return Err(Problem::new(
                    format!("{key}.constant"),
                    Some(c.span()),
                    format!(
                        "a column with a `constant` takes nothing from the record: remove `{what}`"
                    ),
                ));
            }
        }
    }
    if let Some(f) = &raw.from
        && f.get_ref().is_empty()
    {
        return Err(Problem::new(
            format!("{key}.from"),
            Some(f.span()),
            "empty `from`: name the field, key, JSON Pointer or group the column comes from",
        ));
    }
    let spec = ColumnSpec {
        name,
        ty,
        nullable: raw.nullable.unwrap_or(true),
        formats,
        from: raw.from.map(Spanned::into_inner),
        null_if: raw.null_if.map(|n| n.into_inner().into_vec()),
        default: None,
        constant: None,
    };
    // A default or constant that its own column would reject is a
    // configuration error, not a reject on every row.
    let value = |what: &str, v: Option<Spanned<String>>| -> Result<Option<String>, Problem> {
        let Some(v) = v else { return Ok(None) };
        crate::format::check_value(&spec, v.get_ref().as_bytes())
            .map(|()| Some(v.get_ref().clone()))
            .map_err(|m| Problem::new(format!("{key}.{what}"), Some(v.span()), m))
    };
    let default = value("default", raw.default)?;
    let constant = value("constant", raw.constant)?;
    Ok(ColumnSpec {
        default,
        constant,
        ..spec
    })
}

fn column_name(key: &str, name: &Spanned<String>) -> Result<String, Problem> {
    let text = name.get_ref();
    let problem = |m: &str| Err(Problem::new(format!("{key}.name"), Some(name.span()), m));
    if text.is_empty() {
        return problem("empty column name: expected the target column's name");
    }
    if text.contains('\0') {
        return problem("invalid column name: it contains a NUL character");
    }
    Ok(text.clone())
}

/// A `format` is only meaningful for date and timestamp columns and must be a
/// chrono strftime format (or a list of them, tried in order); a
/// timestamptz format must read an offset, a timestamp format must not.
fn date_formats(
    key: &str,
    ty: ColumnType,
    ty_text: &str,
    f: Spanned<OneOrMany>,
) -> Result<Vec<String>, Problem> {
    let span = f.span();
    let problem = |m: String| Problem::new(format!("{key}.format"), Some(span.clone()), m);
    if !matches!(
        ty,
        ColumnType::Date | ColumnType::Timestamp | ColumnType::TimestampTz
    ) {
        return Err(problem(format!(
            "`format` only applies to date and timestamp columns, not {ty_text:?}"
        )));
    }
    let formats = f.into_inner().into_vec();
    if formats.is_empty() {
        return Err(problem(
            "empty format list: give at least one strftime format, or remove `format` for ISO 8601"
                .into(),
        ));
    }
    for f in &formats {
        if f.is_empty() {
            return Err(problem(
                "empty format: expected a strftime format like \"%d/%m/%Y\"".into(),
            ));
        }
        let items: Vec<Item> = StrftimeItems::new(f).collect();
        if items.iter().any(|item| matches!(item, Item::Error)) {
            return Err(problem(format!(
                "invalid date format {f:?}: expected a chrono strftime format like \"%d/%m/%Y %H:%M\""
            )));
        }
        let offset = items.iter().any(|item| {
            matches!(
                item,
                Item::Fixed(
                    Fixed::TimezoneOffset
                        | Fixed::TimezoneOffsetColon
                        | Fixed::TimezoneOffsetDoubleColon
                        | Fixed::TimezoneOffsetTripleColon
                        | Fixed::TimezoneOffsetColonZ
                        | Fixed::TimezoneOffsetZ
                        | Fixed::RFC2822
                        | Fixed::RFC3339
                        | Fixed::Internal(_)
                )
            )
        });
        match ty {
            ColumnType::TimestampTz if !offset => {
                return Err(problem(format!(
                    "format {f:?} reads no time zone offset (%z, %:z): a timestamptz column stores an instant, so each value must carry its offset"
                )));
            }
            ColumnType::Timestamp | ColumnType::Date if offset => {
                return Err(problem(format!(
                    "format {f:?} reads a time zone offset, which a {ty} column cannot keep: use a timestamptz column"
                )));
            }
            _ => {}
        }
    }
    Ok(formats)
}

/// Parses a column type such as `decimal(12, 2)` (case-insensitive).
pub(crate) fn parse_column_type(text: &str) -> Result<ColumnType, String> {
    let lower = text.trim().to_ascii_lowercase();
    let (name, args) = split_args(&lower)
        .ok_or_else(|| format!("invalid column type {text:?}: unbalanced parentheses"))?;
    let args = args
        .iter()
        .map(|a| {
            a.parse::<u32>()
                .map_err(|_| format!("invalid column type {text:?}: {a:?} is not a number"))
        })
        .collect::<Result<Vec<u32>, String>>()?;
    match (name, args.as_slice()) {
        ("int" | "integer", []) => Ok(ColumnType::Int),
        ("bigint", []) => Ok(ColumnType::BigInt),
        ("float" | "double", []) => Ok(ColumnType::Float),
        ("text", []) => Ok(ColumnType::Text { max_chars: None }),
        ("bool" | "boolean", []) => Ok(ColumnType::Bool),
        ("date", []) => Ok(ColumnType::Date),
        ("timestamp" | "timestamp without time zone", []) => Ok(ColumnType::Timestamp),
        ("timestamptz" | "timestamp with time zone", []) => Ok(ColumnType::TimestampTz),
        ("decimal" | "numeric", [p]) => decimal(text, *p, 0),
        ("decimal" | "numeric", [p, s]) => decimal(text, *p, *s),
        ("decimal" | "numeric", _) => Err(format!(
            "invalid column type {text:?}: expected decimal(precision, scale), like decimal(12,2)"
        )),
        ("varchar", [n]) if *n >= 1 => Ok(ColumnType::Text {
            max_chars: Some(*n),
        }),
        ("varchar", _) => Err(format!(
            "invalid column type {text:?}: expected varchar(n) with n >= 1, like varchar(50)"
        )),
        (
            "int" | "integer" | "bigint" | "float" | "double" | "text" | "bool" | "boolean"
            | "date" | "timestamp" | "timestamptz",
            _,
        ) => Err(format!(
            "invalid column type {text:?}: {name} takes no parameters"
        )),
        _ => Err(format!("unknown column type {text:?}: expected {TYPES}")),
    }
}

fn decimal(text: &str, precision: u32, scale: u32) -> Result<ColumnType, String> {
    if !(1..=38).contains(&precision) {
        return Err(format!(
            "invalid column type {text:?}: decimal precision must be 1..=38, got {precision}"
        ));
    }
    if scale > precision {
        return Err(format!(
            "invalid column type {text:?}: decimal scale {scale} is larger than precision {precision}"
        ));
    }
    // Both are at most 38 here, so they fit a u8.
    Ok(ColumnType::Decimal {
        precision: precision as u8,
        scale: scale as u8,
    })
}

/// `"decimal( 12 , 2 )"` -> `("decimal", ["12", "2"])`; `"text"` -> `("text", [])`.
fn split_args(s: &str) -> Option<(&str, Vec<&str>)> {
    let Some(open) = s.find('(') else {
        return (!s.contains(')')).then_some((s, Vec::new()));
    };
    let inner = s[open + 1..].strip_suffix(')')?;
    if inner.contains(['(', ')']) {
        return None;
    }
    Some((
        s[..open].trim_end(),
        inner.split(',').map(str::trim).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types() {
        let ok = |s: &str| parse_column_type(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ok("INT"), ColumnType::Int);
        assert_eq!(ok("integer"), ColumnType::Int);
        assert_eq!(ok("BigInt"), ColumnType::BigInt);
        assert_eq!(ok("double"), ColumnType::Float);
        assert_eq!(ok("boolean"), ColumnType::Bool);
        assert_eq!(ok("text"), ColumnType::Text { max_chars: None });
        assert_eq!(
            ok("VARCHAR( 20 )"),
            ColumnType::Text {
                max_chars: Some(20)
            }
        );
        assert_eq!(
            ok("numeric(12, 2)"),
            ColumnType::Decimal {
                precision: 12,
                scale: 2
            }
        );
        assert_eq!(
            ok("decimal(5)"),
            ColumnType::Decimal {
                precision: 5,
                scale: 0
            }
        );
        assert_eq!(
            ok("decimal(38,38)"),
            ColumnType::Decimal {
                precision: 38,
                scale: 38
            }
        );
        assert_eq!(ok("timestamp"), ColumnType::Timestamp);
        assert_eq!(ok("Timestamp With Time Zone"), ColumnType::TimestampTz);
        assert_eq!(ok("timestamptz"), ColumnType::TimestampTz);
        for bad in [
            "",
            "string",
            "decimal",
            "decimal(0)",
            "decimal(39,0)",
            "decimal(3,4)",
            "decimal(1,2,3)",
            "decimal(a,b)",
            "varchar",
            "varchar(0)",
            "int(4)",
            "decimal(12,2",
            "text)",
        ] {
            assert!(parse_column_type(bad).is_err(), "{bad:?} should fail");
        }
    }
}

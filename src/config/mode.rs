//! `mode` and `key` of a job: plain inserts, or upserts on key columns.
//!
//! Owns these two keys' rules only; the column list itself is `columns`'.

use toml::Spanned;

use super::error::Problem;
use super::model::WriteMode;
use super::raw::{Mode, RawColumn};

type Key = Option<Spanned<Vec<Spanned<String>>>>;

pub(crate) fn mode(
    k: &str,
    mode: Option<Spanned<Mode>>,
    key: Key,
    columns: Option<&Spanned<Vec<RawColumn>>>,
) -> Result<WriteMode, Problem> {
    let upsert = mode.as_ref().is_some_and(|m| *m.get_ref() == Mode::Upsert);
    if !upsert {
        if let Some(key) = key {
            return Err(Problem::new(
                format!("{k}.key"),
                Some(key.span()),
                "`key` is only for mode = \"upsert\"",
            ));
        }
        return Ok(WriteMode::Insert);
    }
    let mode_span = mode.map(|m| m.span());
    let Some(key) = key else {
        return Err(Problem::new(
            format!("{k}.mode"),
            mode_span,
            "mode = \"upsert\" needs `key`: the columns that identify a row, like key = [\"id\"]",
        ));
    };
    let key_span = key.span();
    let names = key.into_inner();
    if names.is_empty() {
        return Err(Problem::new(
            format!("{k}.key"),
            Some(key_span),
            "empty key: name at least one column",
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for n in names {
        let (span, name) = (n.span(), n.into_inner());
        let problem = |m: String| Err(Problem::new(format!("{k}.key"), Some(span.clone()), m));
        if name.is_empty() || name.contains('\0') {
            return problem("invalid column name in key".into());
        }
        if out.iter().any(|o| o.eq_ignore_ascii_case(&name)) {
            return problem(format!("column {name:?} is twice in the key"));
        }
        // With configured columns, a key must be one of them (spelled as the
        // column is); without, the header decides at run time.
        let name = match columns {
            Some(cols) => {
                let found = cols
                    .get_ref()
                    .iter()
                    .find(|c| c.name.get_ref().eq_ignore_ascii_case(&name));
                match found {
                    Some(c) => c.name.get_ref().clone(),
                    None => {
                        let known: Vec<&str> = cols
                            .get_ref()
                            .iter()
                            .map(|c| c.name.get_ref().as_str())
                            .collect();
                        return problem(format!(
                            "key column {name:?} is not among the columns ({})",
                            known.join(", ")
                        ));
                    }
                }
            }
            None => name,
        };
        out.push(name);
    }
    Ok(WriteMode::Upsert { key: out })
}

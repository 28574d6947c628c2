//! What `check` prints about a job's records: its format, each column with
//! where its value comes from, and with `--sample N` the first N records of
//! each file as they would load or be rejected. Printing only: the reading
//! and parsing are `supervisor::sample`'s.

use crate::config::Job;
use crate::format::{
    Cell, ColumnSpec, DECIMAL_TEXT_BUF, Field, Format, Layout, Rows, decimal_text, display,
};
use crate::logging::Escaped;
use crate::supervisor::sample;

/// The format line and one line per configured column.
pub(super) fn job(job: &Job) {
    println!("    format: {}", job.format.describe());
    let Some(columns) = &job.columns else {
        return;
    };
    let extra = extra_column(job);
    for c in columns {
        let from = match (&c.constant, &c.from) {
            _ if Some(c.name.as_str()) == extra => {
                "the keys no other column takes, as a JSON object".to_string()
            }
            (Some(v), _) => format!("constant {v:?}"),
            (None, Some(f)) => format!("from {f:?}"),
            (None, None) => format!("from {:?}", c.name),
        };
        println!("    column {}{}", spec(c), rules(c, &from));
    }
}

/// JSON Lines: the column that receives the keys no other column takes.
fn extra_column(job: &Job) -> Option<&str> {
    match &job.format {
        Format::Jsonl(j) => j.extra_column(),
        _ => None,
    }
}

fn spec(c: &ColumnSpec) -> String {
    let null = if c.nullable { "" } else { " NOT NULL" };
    format!("{} {}{null}", c.name, c.ty)
}

/// ` <- from "x", null_if [...], default "0", formats [...]`
fn rules(c: &ColumnSpec, from: &str) -> String {
    let mut s = format!(" <- {from}");
    if let Some(n) = &c.null_if {
        s += &format!(", null_if {n:?}");
    }
    if let Some(d) = &c.default {
        s += &format!(", default {d:?}");
    }
    if !c.formats.is_empty() {
        s += &format!(", format {:?}", c.formats);
    }
    s
}

/// `--sample N`: each file of the job's folder, its layout and records.
/// Returns whether every file could be read and mapped.
pub(super) fn samples(job: &Job, n: usize) -> bool {
    let files = match sample::files(job) {
        Ok(f) => f,
        Err(e) => {
            println!("    sample: {e}");
            return !matches!(
                job.source,
                crate::config::Source::Dir(_) | crate::config::Source::Tail(_)
            );
        }
    };
    if files.is_empty() {
        println!("    sample: no file matches");
    }
    let mut ok = true;
    for path in files {
        let s = sample::sample(job, &path, n);
        let name = s.file.display();
        let sample = match s.outcome {
            Ok(sample) => sample,
            Err(e) => {
                println!("    sample {name}: FAILED: {}", Escaped(&e));
                ok = false;
                continue;
            }
        };
        let p = &sample.parsed;
        println!(
            "    sample {name}: {} record(s): {} would load, {} rejected",
            p.records,
            p.rows.len(),
            p.rejects.len()
        );
        let extra = extra_column(job);
        for (c, f) in sample.layout.columns.iter().zip(&sample.layout.fields) {
            let from = match Some(c.name.as_str()) == extra {
                true => "the keys no other column takes, as a JSON object".to_string(),
                false => field(&job.format, f, c),
            };
            println!("      column {}{}", spec(c), rules(c, &from));
        }
        // Rows and rejects in the order of their lines.
        let mut lines: Vec<(u64, String)> = (0..p.rows.len())
            .map(|i| (p.rows.origins[i].line, row(&sample.layout, &p.rows, i)))
            .collect();
        lines.extend(p.rejects.iter().map(|r| {
            let column = r
                .column
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            (r.line, format!("REJECTED {}{column}: {}", r.code, r.reason))
        }));
        lines.sort_by_key(|(line, _)| *line);
        for (line, text) in lines {
            println!("      line {line}: {}", Escaped(&text));
        }
        if let Some(why) = sample.stopped {
            println!("      (sample stopped: {why})");
        }
    }
    ok
}

fn field(format: &Format, f: &Field, c: &ColumnSpec) -> String {
    match (format, f) {
        (Format::Regex(r), Field::At(i)) => {
            let groups = r.groups();
            match groups.iter().find(|(g, _)| *g == *i as usize) {
                Some((_, name)) => format!("group {name:?}"),
                None => format!("group {i}"),
            }
        }
        (Format::Regex(_), Field::Path(p)) => format!("key {:?}", p.join("/")),
        (
            _,
            Field::Span {
                start,
                end: u32::MAX,
            },
        ) => format!("bytes {}:*", start + 1),
        (_, Field::At(i)) => format!("field {}", i + 1),
        (_, Field::Path(p)) => format!("JSON {:?}", pointer(p)),
        (_, Field::Span { start, end }) => format!("bytes {}:{}", start + 1, end),
        (_, Field::Constant) => format!("constant {:?}", c.constant.as_deref().unwrap_or("")),
        (_, Field::Absent) if c.default.is_some() => "not in this file".into(),
        (_, Field::Absent) => "not in this file: NULL".into(),
        (_, Field::Message(_)) => format!("message {}", c.from.as_deref().unwrap_or("")),
    }
}

/// JSON Pointer text of `tokens` (RFC 6901 escapes).
fn pointer(tokens: &[String]) -> String {
    tokens
        .iter()
        .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// `name=value name=NULL ...` for row `i`.
fn row(layout: &Layout, rows: &Rows, i: usize) -> String {
    let mut out = String::new();
    for (c, cell) in layout.columns.iter().zip(rows.row(i)) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&c.name);
        out.push('=');
        match *cell {
            Cell::Null => out.push_str("NULL"),
            Cell::Text { start, len } => out.push_str(&format!("{:?}", rows.text_of(start, len))),
            Cell::Decimal { mantissa, scale } => {
                let mut buf = [0u8; DECIMAL_TEXT_BUF];
                out.push_str(decimal_text(&mut buf, mantissa, scale));
            }
            other => display(&mut out, &other),
        }
    }
    out
}

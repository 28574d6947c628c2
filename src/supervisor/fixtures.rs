//! Test fixtures of the supervisor's unit tests: a validated job reading
//! `<dir>/in`, with its reject folder `<dir>/rejects` and SQLite sink.

use std::path::Path;

use crate::config::{self, Job};

/// Job `j`; `source` adds keys to its `[jobs.j.source]` table.
pub fn job(dir: &Path, source: &str) -> Job {
    std::fs::create_dir_all(dir.join("in")).unwrap();
    let text = format!(
        "[daemon]\nstate_dir = \"state\"\n[sinks.s]\nkind = \"sqlite\"\npath = \"t.db\"\n\
         [jobs.j]\nsink = \"s\"\nreject_dir = \"rejects\"\nmax_errors = 1\n\
         [jobs.j.source]\nkind = \"dir\"\npath = \"in\"\n{source}\n"
    );
    let mut cfg = config::parse(&text, &dir.join("c.toml")).unwrap();
    cfg.jobs.remove("j").unwrap()
}

/// A batch of `a.csv` (source `src`) holding `data` from byte `start`; its id
/// is `start`.
pub fn batch(start: u64, data: &[u8]) -> crate::protocol::Batch {
    crate::protocol::Batch {
        id: start,
        source: "src".into(),
        file: "a.csv".into(),
        start,
        end: start + data.len() as u64,
        first_line: 2,
        records: 1,
        layout: crate::format::Layout {
            columns: vec![],
            fields: vec![],
            field_count: 1,
        },
        verdict: None,
        data: data.to_vec(),
        stream: None,
    }
}

//! `ingestd check --sample N` with the real binary: each job's format and
//! columns with where each value comes from, then for each file of the
//! landing folder (compressed ones decompressed) its first N records parsed
//! as a worker would, without any database (the sink points at a folder
//! that does not exist): rows as they would load, rejects with line and
//! reason, a file whose header does not map named with the reason, and
//! nothing loaded, moved or written.

use crate::support::config::{DAEMON, sink};
use crate::support::*;

trials![
    sample_parses_each_file_without_a_database,
    a_reader_that_goes_away_ends_check_quietly,
];

const JOB: &str = r#"
[jobs.j]
sink = "s"
table = "t"

[jobs.j.source]
kind = "dir"
path = "in"
pattern = "*.csv*"

[[jobs.j.columns]]
name = "id"
type = "int"
nullable = false

[[jobs.j.columns]]
name = "amount"
type = "decimal(8,2)"
from = "Betrag"
null_if = ["NA"]

[[jobs.j.columns]]
name = "channel"
type = "text"
constant = "web"
"#;

fn sample_parses_each_file_without_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("in")).unwrap();
    let config = d.join("ingestd.toml");
    let sink = sink("s", "kind = \"sqlite\"\npath = \"missing/t.db\"");
    std::fs::write(&config, format!("{DAEMON}{sink}{JOB}")).unwrap();
    let a = "id,Betrag\n1,12.5\n2,NA\n\nx,1\n4,2\n5,3\n";
    std::fs::write(d.join("in/a.csv"), a).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, a.as_bytes()).unwrap();
    std::fs::write(d.join("in/b.csv.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(d.join("in/c.csv"), "id,amount\n1,2\n").unwrap();
    let ran = cli::ingestd(["check", "--sample", "3", "--config"])
        .arg(&config)
        .run()
        .expect(1);
    let out = &ran.stdout;
    for want in [
        "    format: csv (header, delimiter ',', quote '\"', null \"\")\n",
        "    column amount decimal(8,2) <- from \"Betrag\", null_if [\"NA\"]\n",
        "    column channel text <- constant \"web\"\n",
        "      column amount decimal(8,2) <- field 2, null_if [\"NA\"]\n",
        "      line 2: id=1 amount=12.50 channel=\"web\"\n",
        "      line 3: id=2 amount=NULL channel=\"web\"\n",
        "      line 5: REJECTED bad_int (id): id: \"x\" is not an int\n",
        "c.csv: FAILED: its fields do not map onto the columns: column \"Betrag\" is not in the \
         header (fields: id, amount)\n",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{}", ran.output());
    }
    // Both a.csv and its compressed copy: 3 records each, line 6 not read.
    assert_eq!(
        out.matches("3 record(s): 2 would load, 1 rejected").count(),
        2,
        "{out}"
    );
    assert!(!out.contains("line 6"), "{out}");
    assert!(!d.join("missing").exists() && !d.join("state").exists());
    assert!(d.join("in/a.csv").exists() && d.join("in/b.csv.gz").exists());
}

/// `ingestd check ... | head -1`: the pipe closes early; check ends by
/// SIGPIPE as any filter does, not with a panic on stderr.
fn a_reader_that_goes_away_ends_check_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("in")).unwrap();
    let config = d.join("ingestd.toml");
    let sink = sink("s", "kind = \"sqlite\"\npath = \"t.db\"");
    std::fs::write(&config, format!("{DAEMON}{sink}{JOB}")).unwrap();
    // Enough output to outlast the pipe's buffer.
    let many: String = (0..20_000).map(|i| format!("{i},{i}\n")).collect();
    std::fs::write(d.join("in/a.csv"), format!("id,Betrag\n{many}")).unwrap();
    let mut child = std::process::Command::new(bin())
        .args(["check", "--sample", "20000", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut out, &mut first).unwrap();
    drop(out);
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(done.status.signal(), Some(13), "{:?} {stderr}", done.status);
}

//! Bad configuration, through the real binary: the message names the file,
//! line, column and key path, and the exit code is the configuration one.

use crate::support::*;

trials![
    the_good_config_passes,
    unknown_key,
    wrong_type,
    job_naming_a_missing_sink,
    bad_path,
];

const GOOD: &str = r#"[sinks.local]
kind = "sqlite"
path = "out/t.db"

[jobs.orders]
sink = "local"

[jobs.orders.source]
kind = "dir"
path = "in"
"#;

/// Runs `ingestd check` (and `run --once`) on `text`; returns stderr.
fn check(text: &str) -> String {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("in")).unwrap();
    let cfg = d.path().join("bad.toml");
    std::fs::write(&cfg, text).unwrap();
    let err = cli::check(&cfg).expect(78).stderr;
    cli::run_once(&cfg).expect(78);
    err.replace(&format!("{}/", d.path().display()), "")
}

fn the_good_config_passes() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("in")).unwrap();
    let cfg = d.path().join("ok.toml");
    std::fs::write(&cfg, GOOD).unwrap();
    cli::check(&cfg).expect(0);
    assert!(
        !d.path().join("out").exists(),
        "check must not create anything"
    );
}

fn unknown_key() {
    let err = check(&GOOD.replace("path = \"in\"", "path = \"in\"\npatern = \"*.csv\""));
    assert!(err.contains("bad.toml:11:1"), "{err}");
    assert!(err.contains("jobs.orders.source"), "{err}");
    assert!(err.contains("patern"), "{err}");
}

fn wrong_type() {
    let err = check(&GOOD.replace("sink = \"local\"", "sink = \"local\"\nworkers = \"two\""));
    assert!(err.contains("bad.toml:7:11"), "{err}");
    assert!(err.contains("jobs.orders.workers"), "{err}");
}

fn job_naming_a_missing_sink() {
    let err = check(&GOOD.replace("sink = \"local\"", "sink = \"remote\""));
    assert!(err.contains("bad.toml:6:8"), "{err}");
    assert!(err.contains("jobs.orders.sink"), "{err}");
    assert!(err.contains("remote") && err.contains("local"), "{err}");
}

fn bad_path() {
    let err = check(&GOOD.replace("path = \"in\"", "path = \"no/such/dir\""));
    assert!(err.contains("bad.toml:10:8"), "{err}");
    assert!(err.contains("jobs.orders.source.path"), "{err}");
    assert!(err.contains("no/such/dir"), "{err}");
}

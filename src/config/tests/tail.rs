//! `kind = "tail"`: the followed files, their rotated copies, defaults, and
//! the errors of each key.

use std::time::Duration;

use super::Fixture;
use crate::config::{Source, StartAt, TailSource};

fn tail(source: &str) -> String {
    format!(
        "[sinks.local]\nkind = \"sqlite\"\npath = \"db/test.db\"\n\n[jobs.app]\nsink = \"local\"\n\
         \n[jobs.app.source]\nkind = \"tail\"\n{source}\n[[jobs.app.columns]]\nname = \"line\"\n\
         type = \"text\"\n\n[jobs.app.format]\nkind = \"regex\"\npattern = \"(?P<line>.*)\"\n"
    )
}

fn source(fx: &Fixture, text: &str) -> TailSource {
    match &fx.ok(&tail(text)).jobs["app"].source {
        Source::Tail(t) => t.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_path_or_a_pattern_with_defaults() {
    let fx = Fixture::new();
    let t = source(&fx, "path = \"landing/app.log\"\n");
    assert_eq!(
        t,
        TailSource {
            dir: fx.conf_dir().join("landing"),
            names: "app.log".into(),
            rotated: vec!["app.log.*".into(), "app.log-*".into()],
            start_at: StartAt::Beginning,
            fingerprint_lines: 1,
            partial_timeout: Some(Duration::from_secs(60)),
            rotate_wait: Duration::from_secs(10),
            idle_close: Duration::from_secs(300),
            max_open_files: 64,
            poll_interval: Duration::from_secs(1),
        }
    );
    // Glob characters in a file name given as `path` are that name.
    assert_eq!(
        source(&fx, "path = \"landing/a[1].log\"\n").names,
        "a[[]1[]].log"
    );
    let t = source(
        &fx,
        "pattern = \"landing/app-*.log\"\nrotated = [\"old-*\"]\nstart_at = \"end\"\n\
         partial_timeout = \"0s\"\nmax_open_files = 2\n",
    );
    assert_eq!(t.names, "app-*.log");
    assert_eq!(t.rotated, ["old-*"]);
    assert_eq!(t.start_at, StartAt::End);
    assert_eq!(
        t.partial_timeout, None,
        "0s: a partial line waits for its newline"
    );
    assert_eq!(t.max_open_files, 2);
}

#[test]
fn errors_name_the_key() {
    let fx = Fixture::new();
    let err = |text: &str| fx.err(&tail(text));
    assert!(
        err("").contains("missing key `path` or `pattern`"),
        "{}",
        err("")
    );
    let both = err("path = \"landing/a.log\"\npattern = \"landing/*.log\"\n");
    assert!(
        both.contains("jobs.app.source.pattern: a tail source takes `path`"),
        "{both}"
    );
    let dir = err("path = \"landing\"\n");
    assert!(
        dir.contains("is a directory: a tail source follows files"),
        "{dir}"
    );
    let glob_dir = err("pattern = \"land*/a.log\"\n");
    assert!(
        glob_dir.contains("only the file name may be a glob"),
        "{glob_dir}"
    );
    let missing = err("path = \"nowhere/a.log\"\n");
    assert!(missing.contains("jobs.app.source.path"), "{missing}");
    let dir_key = err("path = \"landing/a.log\"\non_done = \"keep\"\n");
    assert!(
        dir_key.contains("key `on_done` is not valid for source kind `tail` (only for kind `dir`)"),
        "{dir_key}"
    );
    let lines = err("path = \"landing/a.log\"\nfingerprint_lines = 0\n");
    assert!(
        lines.contains("fingerprint_lines: must be between 1 and 100"),
        "{lines}"
    );
    let poll = err("path = \"landing/a.log\"\npoll_interval = \"0s\"\n");
    assert!(
        poll.contains("poll_interval: must be more than 0s"),
        "{poll}"
    );
}

#[test]
fn tail_keys_are_refused_on_a_dir_source() {
    let fx = Fixture::new();
    let text = super::MINIMAL.replace(
        "path = \"landing\"\n",
        "path = \"landing\"\nrotate_wait = \"1s\"\n",
    );
    let got = fx.err(&text);
    assert!(
        got.contains("key `rotate_wait` is not valid for source kind `dir` (only for kind `tail`)"),
        "{got}"
    );
}

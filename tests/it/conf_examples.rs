//! Every example configuration in `conf/` is valid as shipped: `ingestd
//! check` (no database touched) accepts it and can read its landing
//! folders, and with `--sample` every sample file it would load parses
//! without rejects — an example that loads nothing, or only rejects, would
//! teach the wrong thing.

use std::path::Path;

use crate::support::*;

trials![every_example_in_conf_checks_and_its_samples_parse];

fn every_example_in_conf_checks_and_its_samples_parse() {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    let mut seen = 0;
    for entry in std::fs::read_dir(&conf).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        seen += 1;
        let ran = cli::ingestd(["check", "--sample", "1000", "--config"])
            .arg(&path)
            .run()
            .expect(0);
        assert!(
            ran.stdout.contains("configuration valid") && ran.stdout.ends_with(": ok\n"),
            "{}",
            ran.output()
        );
        assert!(!ran.stdout.contains("REJECTED"), "{}", ran.output());
        assert!(!ran.stdout.contains("no file matches"), "{}", ran.output());
    }
    assert!(seen >= 3, "only {seen} examples in {}", conf.display());
}

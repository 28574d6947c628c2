//! The systemd unit, checked by systemd's own tools (Debian 12: systemd 252):
//! `systemd-analyze verify` says nothing and exits 0 with the binary at the
//! unit's path, and `systemd-analyze security --offline=true` rates its
//! exposure at 3.0 or lower.

use std::path::Path;
use std::process::Command;

use crate::support::*;

trials![
    systemd_analyze_verify_is_silent[SystemdAnalyze],
    exposure_is_at_most_three[SystemdAnalyze],
];

/// The unit with its binary path pointing at the binary under test.
fn unit_copy(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/ingestd.service"
    ))
    .unwrap();
    assert!(
        text.contains("ExecStart=/usr/bin/ingestd run"),
        "the unit's ExecStart path changed"
    );
    let path = dir.join("ingestd.service");
    std::fs::write(&path, text.replace("/usr/bin/ingestd", bin())).unwrap();
    path
}

fn systemd_analyze_verify_is_silent() {
    let d = tempfile::tempdir().unwrap();
    let unit = unit_copy(d.path());
    let o = Command::new("systemd-analyze")
        // The man page exists once the package is installed: not here.
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "verify failed:\n{out}{err}");
    // verify exits 0 on unknown keys: any output at all is a finding.
    assert!(
        out.trim().is_empty() && err.trim().is_empty(),
        "verify said:\n{out}{err}"
    );
}

fn exposure_is_at_most_three() {
    let d = tempfile::tempdir().unwrap();
    let unit = unit_copy(d.path());
    let o = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no exposure line:\n{text}"));
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the score in {line:?}"));
    assert!(score <= 3.0, "exposure {score} > 3.0:\n{text}");
}

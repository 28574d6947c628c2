//! The systemd unit, checked by systemd's own tools (Debian 12: systemd 252):
//! `systemd-analyze verify` says nothing and exits 0 with the binary at the
//! unit's path, and `systemd-analyze security --offline=true` rates its
//! exposure at 3.0 or lower.

mod common;

use std::path::Path;
use std::process::Command;

fn analyze() -> Option<&'static str> {
    let found = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "systemd-analyze is missing: .ci/run installs Debian's systemd"
        );
        eprintln!("skipped: systemd-analyze is not installed");
        return None;
    }
    Some("systemd-analyze")
}

/// The unit with its binary path pointing at the binary under test.
fn unit_copy(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/ingestd.service"
    ))
    .unwrap();
    assert!(
        text.contains("/usr/local/bin/ingestd"),
        "the unit's ExecStart path changed"
    );
    let path = dir.join("ingestd.service");
    std::fs::write(&path, text.replace("/usr/local/bin/ingestd", common::bin())).unwrap();
    path
}

#[test]
fn systemd_analyze_verify_is_silent() {
    let Some(tool) = analyze() else { return };
    let d = tempfile::tempdir().unwrap();
    let unit = unit_copy(d.path());
    let o = Command::new(tool)
        .arg("verify")
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

#[test]
fn exposure_is_at_most_three() {
    let Some(tool) = analyze() else { return };
    let d = tempfile::tempdir().unwrap();
    let unit = unit_copy(d.path());
    let o = Command::new(tool)
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

//! What a reload (SIGHUP) changes, decided from the running jobs and the new
//! configuration: jobs to start, jobs to drain and drop, jobs to drain and
//! start again with their new settings. A job that stopped on an error is
//! restarted by a reload even when its settings did not change (the operator
//! fixed the cause: created the table, granted the privilege).

use std::collections::BTreeMap;

use crate::config::{Daemon, Job};

#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    Start(String),
    Stop(String),
    Restart(String),
}

/// `running`: the jobs now running (name -> (settings, stopped on an error)).
pub fn plan(running: &BTreeMap<String, (&Job, bool)>, new: &BTreeMap<String, Job>) -> Vec<Change> {
    let mut out = Vec::new();
    for (name, (job, failed)) in running {
        match new.get(name) {
            None => out.push(Change::Stop(name.clone())),
            Some(n) if n != *job || *failed => out.push(Change::Restart(name.clone())),
            Some(_) => {}
        }
    }
    for name in new.keys() {
        if !running.contains_key(name) {
            out.push(Change::Start(name.clone()));
        }
    }
    out
}

/// `[daemon]` keys whose change only a restart applies.
pub fn needs_restart(old: &Daemon, new: &Daemon) -> Vec<&'static str> {
    let mut keys = Vec::new();
    if old.state_dir != new.state_dir {
        keys.push("state_dir");
    }
    if old.runtime_dir != new.runtime_dir {
        keys.push("runtime_dir");
    }
    if old.log_file != new.log_file {
        keys.push("log_file");
    }
    if old.metrics_listen != new.metrics_listen {
        keys.push("metrics_listen");
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn jobs(d: &tempfile::TempDir, text: &str) -> BTreeMap<String, Job> {
        std::fs::create_dir_all(d.path().join("in")).unwrap();
        let head = "[sinks.s]\nkind = \"sqlite\"\npath = \"t.db\"\n";
        config::parse(&format!("{head}{text}"), &d.path().join("c.toml"))
            .unwrap()
            .jobs
    }

    #[test]
    fn starts_stops_and_restarts_by_name() {
        let src = "[jobs.{n}.source]\nkind = \"dir\"\npath = \"in\"\n";
        let job = |n: &str, extra: &str| {
            format!(
                "[jobs.{n}]\nsink = \"s\"\n{extra}\n{}",
                src.replace("{n}", n)
            )
        };
        let d = tempfile::tempdir().unwrap();
        let old = jobs(
            &d,
            &format!("{}{}{}", job("a", ""), job("b", ""), job("c", "")),
        );
        let new = jobs(
            &d,
            &format!(
                "{}{}{}",
                job("a", ""),
                job("b", "workers = 3"),
                job("d", "")
            ),
        );
        let running: BTreeMap<String, (&Job, bool)> =
            old.iter().map(|(k, v)| (k.clone(), (v, false))).collect();
        assert_eq!(
            plan(&running, &new),
            vec![
                Change::Restart("b".into()),
                Change::Stop("c".into()),
                Change::Start("d".into())
            ]
        );
        // A stopped job is restarted even when unchanged.
        let mut running = running;
        running.insert("a".into(), (&old["a"], true));
        assert!(plan(&running, &new).contains(&Change::Restart("a".into())));
    }
}

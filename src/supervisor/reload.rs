//! What a reload (SIGHUP) changes, decided from the running jobs and the new
//! configuration: jobs to start, jobs to drain and drop, jobs to drain and
//! start again with their new settings. A job that stopped on an error is
//! restarted by a reload even when its settings did not change (the operator
//! fixed the cause: created the table, granted the privilege).

use std::collections::BTreeMap;
use std::sync::Arc;

use tracing::{error, info, warn};

use crate::config::{self, Daemon, Job};

use super::event_loop::Supervisor;
use super::job::JobContext;

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

/// Applying a reload to the running supervisor.
impl Supervisor {
    pub(super) fn reload(&mut self) {
        self.notify.reloading();
        info!(config = %self.config_path.display(), "SIGHUP: reloading the configuration");
        let new = match config::load(&self.config_path) {
            Ok(c) => c,
            Err(e) => {
                error!("reload failed, the running configuration stays: {e}");
                self.notify
                    .ready("reload failed; running the previous configuration");
                return;
            }
        };
        for key in needs_restart(&self.config.daemon, &new.daemon) {
            warn!("daemon.{key} changed: it takes effect on the next start");
        }
        let mut ctx = JobContext::clone(&self.ctx);
        ctx.rescan = new.daemon.rescan_interval;
        self.ctx = Arc::new(ctx);
        let running: BTreeMap<String, (&Job, bool)> = self
            .jobs
            .iter()
            .flatten()
            .filter(|j| !j.is_draining())
            .map(|j| (j.name().to_string(), (j.settings(), j.failure().is_some())))
            .collect();
        let changes = plan(&running, &new.jobs);
        for change in &changes {
            match change {
                Change::Start(name) => self.start_or_queue(new.jobs[name].clone()),
                Change::Stop(name) => self.retire(name, None),
                Change::Restart(name) => self.retire(name, Some(new.jobs[name].clone())),
            }
        }
        // A job dropped by an earlier reload and still draining: its pending
        // replacement follows the newest configuration.
        for (i, replacement) in &mut self.retiring {
            if let Some(Some(j)) = self.jobs.get(*i) {
                *replacement = new.jobs.get(j.name()).cloned();
            }
        }
        info!(changes = ?changes, "configuration reloaded");
        // Keys only a restart applies keep their running values.
        let mut cfg = new;
        let old = &self.config.daemon;
        cfg.daemon.state_dir.clone_from(&old.state_dir);
        cfg.daemon.runtime_dir.clone_from(&old.runtime_dir);
        cfg.daemon.log_file.clone_from(&old.log_file);
        cfg.daemon.metrics_listen = old.metrics_listen;
        self.config = cfg;
        self.notify.ready(&self.status_line());
    }

    /// Starts a job now, or once a draining job of the same name is gone.
    fn start_or_queue(&mut self, job: Job) {
        let draining = self
            .retiring
            .iter_mut()
            .find(|(i, _)| self.jobs[*i].as_ref().is_some_and(|j| j.name() == job.name));
        match draining {
            Some((_, replacement)) => *replacement = Some(job),
            None => {
                let name = job.name.clone();
                if let Err(e) = self.start_job(job) {
                    error!(job = %name, "cannot start the job: {e}");
                }
            }
        }
    }

    fn retire(&mut self, name: &str, replacement: Option<Job>) {
        let found = self.jobs.iter().position(|j| {
            j.as_ref()
                .is_some_and(|j| j.name() == name && !j.is_draining())
        });
        if let Some(i) = found {
            if let Some(j) = self.jobs[i].as_mut() {
                j.begin_drain();
            }
            self.retiring.push((i, replacement));
        }
    }

    /// Drops drained jobs (starting their replacements).
    pub(super) fn retire_finished(&mut self) {
        let mut i = 0;
        while i < self.retiring.len() {
            let index = self.retiring[i].0;
            let Some(job) = self.jobs[index].as_mut() else {
                self.retiring.remove(i);
                continue;
            };
            if job.in_flight() == 0 {
                job.shut_down_workers();
            }
            if job.workers_alive() > 0 || job.ending() > 0 {
                i += 1;
                continue;
            }
            let mut job = self.jobs[index].take().expect("checked");
            job.abandon_files("the job was reloaded");
            self.reports.extend(job.take_reports());
            info!(job = %job.name(), "job stopped by the reload");
            let (_, replacement) = self.retiring.remove(i);
            if let Some(r) = replacement {
                self.start_or_queue(r);
            }
        }
    }
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

//! `[daemon]`: where the daemon keeps its state and socket, how it stops,
//! logs and reports. Every key has a default.
//!
//! Owns these keys' rules; creates nothing (the paths are checked, not made).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::error::Problem;
use super::model::Daemon;
use super::paths::{absolute, check_output_dir, check_output_file, resolve};
use super::raw::{Dur, RawDaemon};
use super::validate::{Env, duration};

pub(crate) fn daemon(raw: Option<RawDaemon>, base: &Path, env: &Env) -> Result<Daemon, Problem> {
    let raw = raw.unwrap_or_default();
    let key = "daemon.state_dir";
    let (state_dir, span, origin) = match (&raw.state_dir, &env.state_directory) {
        (Some(v), _) => (resolve(base, key, v)?, Some(v.span()), ""),
        (None, Some(env_dir)) => (absolute(env_dir), None, " (from $STATE_DIRECTORY)"),
        (None, None) => (absolute(&base.join("var/state")), None, " (the default)"),
    };
    check_output_dir(&state_dir).map_err(|m| Problem::new(key, span, format!("{m}{origin}")))?;
    let key = "daemon.runtime_dir";
    let (runtime_dir, span) = match (&raw.runtime_dir, &env.runtime_directory) {
        (Some(v), _) => (resolve(base, key, v)?, Some(v.span())),
        (None, Some(env_dir)) => (absolute(env_dir), None),
        (None, None) => (state_dir.clone(), None),
    };
    check_output_dir(&runtime_dir).map_err(|m| Problem::new(key, span, m))?;
    let log_file = match &raw.log_file {
        Some(v) => {
            let key = "daemon.log_file";
            let p = resolve(base, key, v)?;
            check_output_file(&p).map_err(|m| Problem::new(key, Some(v.span()), m))?;
            Some(p)
        }
        None => None,
    };
    let metrics_listen = match &raw.metrics_listen {
        Some(v) => Some(v.get_ref().parse::<SocketAddr>().map_err(|_| {
            Problem::new(
                "daemon.metrics_listen",
                Some(v.span()),
                format!(
                    "{:?} is not an address and port, like \"127.0.0.1:9464\"",
                    v.get_ref()
                ),
            )
        })?),
        None => None,
    };
    Ok(Daemon {
        state_dir,
        rescan_interval: positive("rescan_interval", &raw.rescan_interval, 30)?,
        runtime_dir,
        drain_timeout: positive("drain_timeout", &raw.drain_timeout, 60)?,
        progress_interval: duration(raw.progress_interval.as_ref(), Duration::from_secs(30)),
        log_file,
        metrics_listen,
    })
}

fn positive(name: &str, v: &Option<Spanned<Dur>>, default_s: u64) -> Result<Duration, Problem> {
    let d = duration(v.as_ref(), Duration::from_secs(default_s));
    if d.is_zero() {
        return Err(Problem::new(
            format!("daemon.{name}"),
            v.as_ref().map(Spanned::span),
            format!("must be longer than 0s, like \"{default_s}s\""),
        ));
    }
    Ok(d)
}

//! Talking to systemd (`Type=notify`): READY=1 once every job's workers are
//! up, STATUS= a one-line summary, WATCHDOG=1 from the event loop itself (so
//! a stuck loop stops it), RELOADING=1/READY=1 around a reload, STOPPING=1.
//! Without NOTIFY_SOCKET every call is a no-op.
//!
//! Owns the notification protocol's timing; the loop decides what to say.

use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tracing::debug;

pub struct Notifier {
    ready: bool,
    watchdog: Option<Duration>,
    last_watchdog: Instant,
    last_status: String,
}

impl Notifier {
    pub fn new() -> Self {
        Notifier {
            ready: false,
            watchdog: sd_notify::watchdog_enabled(),
            last_watchdog: Instant::now(),
            last_status: String::new(),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.ready
    }

    pub fn ready(&mut self, status: &str) {
        self.ready = true;
        send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    pub fn status(&mut self, status: &str) {
        if status != self.last_status {
            self.last_status = status.to_string();
            send(&[NotifyState::Status(status)]);
        }
    }

    /// Sends WATCHDOG=1 when half the interval systemd asked for has passed.
    pub fn tick(&mut self) {
        if let Some(every) = self.watchdog
            && self.last_watchdog.elapsed() >= every / 2
        {
            self.last_watchdog = Instant::now();
            send(&[NotifyState::Watchdog]);
        }
    }

    pub fn reloading(&mut self) {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => send(&[NotifyState::Reloading, now]),
            Err(_) => send(&[NotifyState::Reloading]),
        }
    }

    pub fn stopping(&mut self) {
        send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        debug!("sd_notify: {e}");
    }
}

//! Signals: handlers only record them (signal-hook); a thread forwards them as
//! plain numbers to the supervisor's event loop, which does the work.

use std::thread::JoinHandle;

use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::{Handle, Signals};

/// The forwarding thread; `stop` ends it.
pub struct SignalForwarder {
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

impl SignalForwarder {
    pub fn stop(mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Forwards SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGCHLD to `deliver`
/// (which returns false once nobody listens).
pub fn forward_signals(
    deliver: impl Fn(i32) -> bool + Send + 'static,
) -> std::io::Result<SignalForwarder> {
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD])?;
    let handle = signals.handle();
    let thread = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if !deliver(sig) {
                    break;
                }
            }
        })?;
    Ok(SignalForwarder {
        handle,
        thread: Some(thread),
    })
}

/// For commands whose output goes to a pager or `head` (`check`,
/// `status`): a reader that goes away ends the process quietly, as it ends
/// any Unix filter, instead of `println!` panicking on EPIPE. Never for the
/// daemon or workers, whose pipes are handled as errors.
pub fn default_sigpipe() {
    // SAFETY: SIG_DFL installs no handler, so no code runs in signal
    // context; it is called at the start of a command, before any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

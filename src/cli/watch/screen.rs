//! The live view on a terminal: the alternate screen in raw mode, redrawn
//! at each report and on resize, until `q`, Esc or Ctrl-C (or SIGTERM,
//! SIGINT or SIGHUP from outside), then the terminal as it was.
//!
//! Owns the terminal and the keys; what is drawn is `view.rs`'s. The
//! daemon is asked on a thread of its own, so that a daemon slow to answer
//! (up to the query's timeout) never delays a key: `q` quits at once.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::Local;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use super::view::Model;
use super::{REFRESH, Ticks};
use crate::cli::exit;

/// How long a wait for a key may last before the answers are looked at.
const KEY_POLL: Duration = Duration::from_millis(100);

pub fn run(socket: &Path) -> u8 {
    // A signal from outside ends the loop like `q`, so that the terminal
    // is restored rather than left in raw mode by the default action.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&stop)) {
            eprintln!("ingestd: cannot handle signal {sig}: {e}");
            return exit::FAILURE;
        }
    }
    let answers = ask_every_second(socket);
    // Also puts in a panic hook that restores the terminal first.
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            eprintln!("ingestd: cannot take over the terminal: {e}");
            return exit::FAILURE;
        }
    };
    let mut model = Model::new(socket.to_path_buf());
    let result = (|| -> std::io::Result<()> {
        let mut dirty = true;
        loop {
            while let Ok((at, answer)) = answers.try_recv() {
                model.update(at, answer);
                dirty = true;
            }
            if dirty {
                terminal.draw(|f| f.render_widget(&model, f.area()))?;
                dirty = false;
            }
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            if !event::poll(KEY_POLL)? {
                continue;
            }
            match event::read()? {
                Event::Key(k) if k.kind == KeyEventKind::Press => match k.code {
                    KeyCode::Char('q' | 'Q') | KeyCode::Esc => return Ok(()),
                    // Raw mode turns Ctrl-C into a key, not a SIGINT.
                    KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                        return Ok(());
                    }
                    _ => {}
                },
                Event::Resize(..) => dirty = true,
                _ => {}
            }
        }
    })();
    drop(terminal);
    ratatui::restore();
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("ingestd: the terminal failed: {e}");
            exit::FAILURE
        }
    }
}

/// A thread that asks the daemon each second and sends each answer (or
/// failure) with its time; it ends when the receiver is gone.
fn ask_every_second(
    socket: &Path,
) -> mpsc::Receiver<(
    chrono::DateTime<Local>,
    Result<crate::status::StatusReport, crate::status::StatusError>,
)> {
    let (tx, rx) = mpsc::channel();
    let socket = socket.to_path_buf();
    std::thread::spawn(move || {
        let mut ticks = Ticks::new(Instant::now(), REFRESH);
        loop {
            let answer = crate::status::query(&socket);
            if tx.send((Local::now(), answer)).is_err() {
                return;
            }
            std::thread::sleep(ticks.until_next(Instant::now()));
        }
    });
    rx
}

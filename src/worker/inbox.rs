//! The worker's input from the supervisor: frames in order, and waits
//! (`Pause`, the back-off between attempts) that watch the pipe, so a stop
//! request (Shutdown, or the end of the pipe) ends a wait at once instead of
//! after it (30 s when a disk is full).
//!
//! Owns reading the pipe after `Hello`. Frames that arrive during a wait are
//! kept, in order, for after it: the supervisor sends batches within the
//! job's credit only (`in_flight`) and nothing but control frames before
//! `Ready`, so what is kept is bounded by the configuration.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufReader;
use std::time::{Duration, Instant};

use tracing::warn;

use crate::protocol::{FrameError, FrameReader, ToWorker};

use super::retry::{Pause, Stopped};

pub struct Inbox {
    rx: FrameReader<BufReader<File>>,
    /// Read during a wait, not handled yet.
    kept: VecDeque<ToWorker>,
    /// A stop was seen (Shutdown kept, the end of the pipe, a broken pipe).
    stopping: bool,
}

impl Inbox {
    pub fn new(rx: FrameReader<BufReader<File>>) -> Self {
        Inbox {
            rx,
            kept: VecDeque::new(),
            stopping: false,
        }
    }

    /// The next frame; `None` at the end of the pipe.
    pub fn next(&mut self) -> Result<Option<ToWorker>, FrameError> {
        match self.kept.pop_front() {
            Some(msg) => Ok(Some(msg)),
            None => self.rx.read(),
        }
    }
}

impl Pause for Inbox {
    fn pause(&mut self, wait: Duration) -> Result<(), Stopped> {
        let deadline = Instant::now() + wait;
        while !self.stopping {
            let left = deadline.saturating_duration_since(Instant::now());
            let read = match self.rx.wait(left) {
                Ok(false) => return Ok(()),
                Ok(true) => self.rx.read::<ToWorker>(),
                Err(e) => Err(e),
            };
            match read {
                Ok(Some(ToWorker::Shutdown)) => {
                    self.kept.push_back(ToWorker::Shutdown);
                    self.stopping = true;
                }
                Ok(Some(msg)) => self.kept.push_back(msg),
                Ok(None) => self.stopping = true,
                // A broken pipe is the supervisor's end too.
                Err(e) => {
                    warn!("reading from the supervisor while waiting to retry: {e}");
                    self.stopping = true;
                }
            }
        }
        Err(Stopped)
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::OwnedFd;

    use super::*;
    use crate::protocol::FrameWriter;

    fn inbox() -> (Inbox, FrameWriter<std::io::PipeWriter>) {
        let (rd, wr) = std::io::pipe().unwrap();
        let rx = FrameReader::new(BufReader::new(File::from(OwnedFd::from(rd))));
        (Inbox::new(rx), FrameWriter::new(wr))
    }

    #[test]
    fn a_wait_keeps_what_arrives_and_ends_at_a_stop_request() {
        let (mut inbox, mut tx) = inbox();
        let t0 = Instant::now();
        assert_eq!(inbox.pause(Duration::from_millis(30)), Ok(()));
        assert!(t0.elapsed() >= Duration::from_millis(30));
        tx.write(&ToWorker::ReopenLog).unwrap();
        assert_eq!(inbox.pause(Duration::from_millis(30)), Ok(()), "not a stop");
        tx.write(&ToWorker::Shutdown).unwrap();
        let t0 = Instant::now();
        assert_eq!(inbox.pause(Duration::from_secs(30)), Err(Stopped));
        assert!(t0.elapsed() < Duration::from_secs(1));
        // Stopped for good; the frames come out in order.
        assert_eq!(inbox.pause(Duration::from_secs(30)), Err(Stopped));
        assert_eq!(inbox.next().unwrap(), Some(ToWorker::ReopenLog));
        assert_eq!(inbox.next().unwrap(), Some(ToWorker::Shutdown));
    }

    #[test]
    fn the_end_of_the_pipe_is_a_stop_request() {
        let (mut inbox, tx) = inbox();
        drop(tx);
        assert_eq!(inbox.pause(Duration::from_secs(30)), Err(Stopped));
        assert_eq!(inbox.next().unwrap(), None);
    }
}

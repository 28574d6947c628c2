//! Length-prefixed postcard frames over a byte stream (a pipe).

use std::io::{self, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use serde::{Serialize, de::DeserializeOwned};

/// Largest frame either side accepts: a batch's byte cap (64 MiB) plus
/// headroom. Answers stay under it by construction (`notes::bound`).
pub const MAX_FRAME: usize = 80 << 20;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("reading a frame: {0}")]
    Read(#[source] io::Error),
    #[error("writing a frame: {0}")]
    Write(#[source] io::Error),
    #[error("a frame of {len} bytes is larger than the {limit}-byte limit")]
    TooLarge { len: usize, limit: usize },
    #[error("decoding a frame: {0}")]
    Decode(#[source] postcard::Error),
    #[error("encoding a frame: {0}")]
    Encode(#[source] postcard::Error),
}

/// Reads frames; `Ok(None)` is a clean end of stream between frames.
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
}

impl<R: Read> FrameReader<R> {
    pub fn new(inner: R) -> Self {
        FrameReader {
            inner,
            buf: Vec::new(),
        }
    }

    pub fn read<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        let mut len = [0u8; 4];
        // A clean EOF is only allowed before the first byte of a frame.
        let mut got = 0;
        while got < 4 {
            match self.inner.read(&mut len[got..]) {
                Ok(0) if got == 0 => return Ok(None),
                Ok(0) => return Err(FrameError::Read(io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FrameError::Read(e)),
            }
        }
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_FRAME {
            let limit = MAX_FRAME;
            return Err(FrameError::TooLarge { len, limit });
        }
        self.buf.clear();
        self.buf.resize(len, 0);
        self.inner
            .read_exact(&mut self.buf)
            .map_err(FrameError::Read)?;
        let msg = postcard::from_bytes(&self.buf).map_err(FrameError::Decode)?;
        // Do not keep a large batch's buffer around between frames.
        if self.buf.capacity() > 4 << 20 {
            self.buf = Vec::new();
        }
        Ok(Some(msg))
    }
}

impl<R: Read + AsFd> FrameReader<BufReader<R>> {
    /// Waits at most `timeout` for input: true as soon as reading would find
    /// a byte (buffered or in the pipe) or the end of the stream, false when
    /// the time ran out. A reader with a deadline (a worker in back-off, the
    /// probe) uses it before `read`, which then waits only for the rest of a
    /// frame the writer is already writing.
    pub fn wait(&self, timeout: Duration) -> Result<bool, FrameError> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        if !self.inner.buffer().is_empty() {
            return Ok(true);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // Rounded up, so that a wait never ends before its time.
            let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            let mut fds = [PollFd::new(self.inner.get_ref().as_fd(), PollFlags::POLLIN)];
            match poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            ) {
                // POLLIN, POLLHUP (the writer closed) or POLLERR: `read` says which.
                Ok(n) if n > 0 => return Ok(true),
                Ok(_) => return Ok(false),
                Err(nix::errno::Errno::EINTR) if !left.is_zero() => {}
                Err(nix::errno::Errno::EINTR) => return Ok(false),
                Err(e) => return Err(FrameError::Read(e.into())),
            }
        }
    }
}

/// Writes frames, one `write_all` per frame.
pub struct FrameWriter<W> {
    inner: W,
    buf: Vec<u8>,
    limit: usize,
}

impl<W: Write> FrameWriter<W> {
    pub fn new(inner: W) -> Self {
        Self::with_limit(inner, MAX_FRAME)
    }

    /// A writer refusing frames over `limit` (at most `MAX_FRAME`): for
    /// tests of what happens to an answer that does not fit.
    pub fn with_limit(inner: W, limit: usize) -> Self {
        FrameWriter {
            inner,
            buf: Vec::new(),
            limit: limit.min(MAX_FRAME),
        }
    }

    /// Encodes and writes `msg`; nothing is written when it is too large,
    /// so the stream stays usable for another message.
    pub fn write<T: Serialize>(&mut self, msg: &T) -> Result<(), FrameError> {
        self.buf.clear();
        self.buf.extend_from_slice(&[0; 4]);
        let buf = std::mem::take(&mut self.buf);
        self.buf = postcard::to_extend(msg, buf).map_err(FrameError::Encode)?;
        let len = self.buf.len() - 4;
        if len > self.limit {
            self.buf = Vec::new();
            let limit = self.limit;
            return Err(FrameError::TooLarge { len, limit });
        }
        self.buf[..4].copy_from_slice(&(len as u32).to_le_bytes());
        self.inner.write_all(&self.buf).map_err(FrameError::Write)?;
        self.inner.flush().map_err(FrameError::Write)?;
        if self.buf.capacity() > 4 << 20 {
            self.buf = Vec::new();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_clean_eof() {
        let mut out = Vec::new();
        let mut w = FrameWriter::new(&mut out);
        w.write(&(1u32, "a".to_string())).unwrap();
        w.write(&vec![7u8; 100_000]).unwrap();
        let mut r = FrameReader::new(&out[..]);
        assert_eq!(r.read::<(u32, String)>().unwrap(), Some((1, "a".into())));
        assert_eq!(r.read::<Vec<u8>>().unwrap().unwrap().len(), 100_000);
        assert!(r.read::<Vec<u8>>().unwrap().is_none());
    }

    #[test]
    fn oversized_length_is_refused_before_allocating() {
        let bytes = (u32::MAX).to_le_bytes();
        let mut r = FrameReader::new(&bytes[..]);
        assert!(matches!(
            r.read::<Vec<u8>>(),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_frame_over_the_limit_is_not_written_and_the_next_one_is() {
        let mut out = Vec::new();
        let mut w = FrameWriter::with_limit(&mut out, 100);
        let e = w.write(&vec![1u8; 200]).expect_err("too large");
        assert!(
            matches!(
                e,
                FrameError::TooLarge {
                    len: 202,
                    limit: 100
                }
            ),
            "{e}"
        );
        w.write(&"small").expect("fits");
        let mut r = FrameReader::new(&out[..]);
        assert_eq!(r.read::<String>().unwrap().as_deref(), Some("small"));
        assert!(r.read::<String>().unwrap().is_none());
    }

    #[test]
    fn wait_sees_buffered_frames_written_frames_and_the_end() {
        let (rd, wr) = std::io::pipe().unwrap();
        let mut r = FrameReader::new(BufReader::new(rd));
        let t0 = Instant::now();
        assert!(!r.wait(Duration::from_millis(50)).unwrap(), "nothing yet");
        assert!(t0.elapsed() >= Duration::from_millis(50));
        let mut w = FrameWriter::new(wr);
        w.write(&1u8).unwrap();
        w.write(&2u8).unwrap();
        assert!(r.wait(Duration::from_secs(5)).unwrap());
        assert_eq!(r.read::<u8>().unwrap(), Some(1));
        // The second frame may sit in the reader's buffer, not the pipe.
        assert!(r.wait(Duration::ZERO).unwrap());
        assert_eq!(r.read::<u8>().unwrap(), Some(2));
        drop(w);
        assert!(
            r.wait(Duration::from_secs(5)).unwrap(),
            "the end is input too"
        );
        assert_eq!(r.read::<u8>().unwrap(), None);
    }

    #[test]
    fn eof_inside_a_frame_is_an_error() {
        let mut out = Vec::new();
        FrameWriter::new(&mut out).write(&"hello").unwrap();
        out.truncate(out.len() - 2);
        let mut r = FrameReader::new(&out[..]);
        assert!(matches!(r.read::<String>(), Err(FrameError::Read(_))));
    }
}

//! What an input holds, in the positions records and ledger ranges count:
//! a plain file's bytes, or the decompressed bytes of a gzip or zstd file.
//! Read once from the start by the cutter, and again later at positions
//! (the bytes of rejected records, `.rest`): a plain file by positional
//! reads, a compressed one by decompressing again from its start, a chunk
//! at a time, so memory never depends on the file.
//!
//! Owns the codecs and reading by position; which codec a file has is the
//! job's `compression` (by extension under `auto`). A decoding failure (a
//! corrupt or truncated archive) is `Corrupt`: the file is set aside, what
//! was loaded from it before stays loaded.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use crate::config::Compression;

/// How a file's bytes are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Plain,
    Gzip,
    Zstd,
}

impl Codec {
    /// The codec of the file named `name` under the job's setting.
    pub fn of(compression: Compression, name: &Path) -> Codec {
        let ext = name.extension().and_then(|e| e.to_str()).unwrap_or("");
        match compression {
            Compression::None => Codec::Plain,
            Compression::Gzip => Codec::Gzip,
            Compression::Zstd => Codec::Zstd,
            Compression::Auto => match ext {
                "gz" => Codec::Gzip,
                "zst" | "zstd" => Codec::Zstd,
                _ => Codec::Plain,
            },
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Codec::Plain => "plain",
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
        }
    }

    /// Compresses what is written into `out` the same way (for `.rest`).
    pub fn encoder<W: Write>(self, out: W) -> io::Result<Encoder<W>> {
        Ok(match self {
            Codec::Plain => Encoder::Plain(out),
            Codec::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                out,
                flate2::Compression::fast(),
            )),
            Codec::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(out, 3)?),
        })
    }
}

/// A writer in a codec; `finish` writes the codec's trailer.
pub enum Encoder<W: Write> {
    Plain(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    /// Ends the stream and returns the writer under it.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Plain(mut w) => w.flush().map(|()| w),
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Plain(w) => w.write(buf),
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Plain(w) => w.flush(),
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
        }
    }
}

/// The file could not be decompressed.
#[derive(Debug, thiserror::Error)]
#[error(
    "the {codec} data is corrupt or truncated ({detail}), {at} bytes into its decompressed content"
)]
pub struct Corrupt {
    pub codec: &'static str,
    pub at: u64,
    pub detail: String,
}

/// An input's content: its descriptor, how it is stored, and how many of
/// its stored bytes belong to it (the size it was identified with).
#[derive(Clone)]
pub struct Content {
    file: Arc<File>,
    codec: Codec,
    stored: u64,
}

impl Content {
    pub fn new(file: Arc<File>, codec: Codec, stored: u64) -> Self {
        Content {
            file,
            codec,
            stored,
        }
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Its bytes from position 0. A plain file's end short of the stored
    /// size is `Shrank` (see `identity`); a compressed one's decoding
    /// failure is `Corrupt`.
    pub fn reader(&self) -> Box<dyn Read + Send> {
        let stored = super::identity::Bounded::new(self.file.clone(), self.stored);
        match self.codec {
            Codec::Plain => Box::new(stored),
            Codec::Gzip => self.decoding(Box::new(flate2::read::MultiGzDecoder::new(stored))),
            Codec::Zstd => match zstd::stream::read::Decoder::new(stored) {
                Ok(d) => self.decoding(Box::new(d)),
                Err(e) => Box::new(Failing(Some(e))),
            },
        }
    }

    fn decoding(&self, inner: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
        Box::new(Decoding {
            inner,
            codec: self.codec.name(),
            at: 0,
        })
    }

    /// Reads it forward from position 0, skipping and copying.
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor {
            content: self,
            reader: None,
            at: 0,
        }
    }

    /// Copies `[offset, offset + len)` of the content into `out` (`None`:
    /// to its end); returns how many bytes there were.
    pub fn copy_range(
        &self,
        offset: u64,
        len: Option<u64>,
        out: &mut dyn Write,
    ) -> io::Result<u64> {
        let mut c = self.cursor();
        c.skip_to(offset)?;
        c.copy(len, out)
    }

    /// The ranges `(offset, len)` (sorted by offset, not overlapping), in
    /// one pass, each of which must be there.
    pub fn read_ranges(&self, ranges: &[(u64, u64)]) -> io::Result<Vec<Vec<u8>>> {
        let mut c = self.cursor();
        let mut out = Vec::with_capacity(ranges.len());
        for &(offset, len) in ranges {
            c.skip_to(offset)?;
            let mut bytes = Vec::with_capacity(len.min(1 << 20) as usize);
            if c.copy(Some(len), &mut bytes)? != len {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the input ends before byte {}", offset + len),
                ));
            }
            out.push(bytes);
        }
        Ok(out)
    }
}

/// A forward reader of a content: a plain file by positional reads (as it
/// is now: what was appended since it was taken is there, what it no
/// longer holds is not), a compressed one by decompressing.
pub struct Cursor<'a> {
    content: &'a Content,
    reader: Option<Box<dyn Read + Send>>,
    at: u64,
}

impl Cursor<'_> {
    /// Moves forward to `pos` (never back).
    pub fn skip_to(&mut self, pos: u64) -> io::Result<()> {
        if pos <= self.at {
            return Ok(());
        }
        if self.content.codec != Codec::Plain {
            let r = self.reader.get_or_insert_with(|| self.content.reader());
            io::copy(&mut r.take(pos - self.at), &mut io::sink())?;
        }
        self.at = pos;
        Ok(())
    }

    /// Copies `len` bytes (`None`: to the end) into `out`; returns how many
    /// there were.
    pub fn copy(&mut self, len: Option<u64>, out: &mut dyn Write) -> io::Result<u64> {
        let end = len.map_or(u64::MAX, |l| self.at.saturating_add(l));
        let n = if self.content.codec == Codec::Plain {
            let mut buf = vec![0u8; 1 << 20];
            let mut at = self.at;
            while at < end {
                let want = (end - at).min(buf.len() as u64) as usize;
                let n = self.content.file.read_at(&mut buf[..want], at)?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n])?;
                at += n as u64;
            }
            at - self.at
        } else {
            let r = self.reader.get_or_insert_with(|| self.content.reader());
            io::copy(&mut r.take(end - self.at), out)?
        };
        self.at += n;
        Ok(n)
    }
}

/// A decoder whose errors say where and what.
struct Decoding {
    inner: Box<dyn Read + Send>,
    codec: &'static str,
    at: u64,
}

impl Read for Decoding {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.at += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            // A plain file that shrank under the decoder says so itself.
            Err(e)
                if e.get_ref()
                    .is_some_and(|i| i.is::<super::identity::Shrank>()) =>
            {
                Err(e)
            }
            Err(e) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                Corrupt {
                    codec: self.codec,
                    at: self.at,
                    detail: e.to_string(),
                },
            )),
        }
    }
}

/// A reader that fails once with the error it was made with.
struct Failing(Option<io::Error>);

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(self.0.take().unwrap_or_else(|| io::Error::other("failed")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Vec<u8> {
        (0..50_000u32)
            .flat_map(|i| format!("{i},row {i}\n").into_bytes())
            .collect()
    }

    fn stored(codec: Codec, bytes: &[u8]) -> Content {
        let mut f = tempfile::tempfile().unwrap();
        let mut enc = codec.encoder(&mut f).unwrap();
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap();
        let size = f.metadata().unwrap().len();
        Content::new(Arc::new(f), codec, size)
    }

    #[test]
    fn every_codec_reads_back_the_same_content_whole_and_by_range() {
        let d = data();
        for codec in [Codec::Plain, Codec::Gzip, Codec::Zstd] {
            let c = stored(codec, &d);
            let mut all = Vec::new();
            c.reader().read_to_end(&mut all).unwrap();
            assert_eq!(all, d, "{codec:?}");
            assert_eq!(
                c.read_ranges(&[(123_456, 1000)]).unwrap(),
                [&d[123_456..124_456]]
            );
            let mut tail = Vec::new();
            c.copy_range(d.len() as u64 - 10, None, &mut tail).unwrap();
            assert_eq!(tail, &d[d.len() - 10..]);
            assert!(
                c.read_ranges(&[(d.len() as u64 - 5, 10)]).is_err(),
                "past the end"
            );
        }
    }

    #[test]
    fn a_truncated_or_corrupt_archive_is_corrupt_not_short() {
        let d = data();
        for codec in [Codec::Gzip, Codec::Zstd] {
            let whole = stored(codec, &d);
            for cut in [whole.stored / 2, whole.stored - 3] {
                let c = Content::new(whole.file.clone(), codec, cut);
                let e = c.reader().read_to_end(&mut Vec::new()).unwrap_err();
                let corrupt = e.get_ref().and_then(|e| e.downcast_ref::<Corrupt>());
                assert!(corrupt.is_some(), "{codec:?} cut at {cut}: {e}");
            }
        }
    }

    #[test]
    fn auto_goes_by_extension() {
        let of = |c, n: &str| Codec::of(c, Path::new(n));
        assert_eq!(of(Compression::Auto, "a.csv.gz"), Codec::Gzip);
        assert_eq!(of(Compression::Auto, "a.csv.zst"), Codec::Zstd);
        assert_eq!(of(Compression::Auto, "a.csv"), Codec::Plain);
        assert_eq!(of(Compression::None, "a.csv.gz"), Codec::Plain);
        assert_eq!(of(Compression::Gzip, "a.csv"), Codec::Gzip);
    }
}

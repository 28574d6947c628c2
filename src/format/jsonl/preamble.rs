//! The start of a JSON Lines file: an optional UTF-8 BOM and `skip_lines`
//! lines (`format::lines`), then the keys of its first object, which name
//! the columns of a job that lists none. Supervisor side; it gets the first
//! bytes of a file from its caller and opens nothing itself.
//!
//! The first object is the first line that is a valid record: lines before
//! it stay data (the workers reject them), so one bad first line does not
//! cost the file.

use super::JsonlFormat;
use super::strict;
use crate::format::csv::preamble::MAX_PREAMBLE;
use crate::format::error::FormatError;
use crate::format::{Preamble, lines};

/// Reads the preamble from `head`, the first bytes of a file. `Ok(None)`:
/// more bytes are needed (only when not `at_eof`). `header` is the first
/// object's keys; empty when no line of the first `MAX_PREAMBLE` bytes is a
/// valid object; `None` when the file holds no line but blank ones.
pub fn read_preamble(
    fmt: &JsonlFormat,
    head: &[u8],
    at_eof: bool,
) -> Result<Option<Preamble>, FormatError> {
    let Some(mut pre) = lines::read_preamble(fmt.skip_lines, head, at_eof)? else {
        return Ok(None);
    };
    let data = &head[pre.data_start as usize..];
    let (mut members, mut out) = (Vec::new(), String::new());
    let mut any = false;
    for line in lines::split(data) {
        if line.len == line.text.len() && !at_eof {
            // The last line, not complete yet.
            break;
        }
        any = true;
        let Ok(text) = strict::object(line.text, &mut members) else {
            continue;
        };
        let valid = members
            .iter()
            .all(|(_, raw)| strict::value(text, raw, &mut out).is_ok());
        if valid {
            pre.header = Some(members.iter().map(|(k, _)| k.to_string()).collect());
            return Ok(Some(pre));
        }
    }
    if at_eof {
        pre.header = any.then(Vec::new);
    } else if head.len() >= MAX_PREAMBLE {
        pre.header = Some(Vec::new());
    } else {
        return Ok(None);
    }
    Ok(Some(pre))
}

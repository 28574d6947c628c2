//! TEMPORARY stand-ins with the agreed signatures; replaced by the real modules.
#![allow(unused_variables, dead_code)]
use super::*;
use crate::protocol::RejectNote;

pub struct RecordScanner;
pub struct RecordEnd {
    pub end: usize,
    pub lines: u64,
}
pub enum Tail {
    Empty,
    Record,
    UnterminatedQuote,
}
impl RecordScanner {
    pub fn new(fmt: &CsvFormat) -> Self {
        todo!()
    }
    pub fn scan(&mut self, chunk: &[u8], out: &mut Vec<RecordEnd>) {
        todo!()
    }
    pub fn finish(&mut self) -> Tail {
        todo!()
    }
}
pub struct Preamble {
    pub data_start: u64,
    pub first_line: u64,
    pub header: Option<Vec<String>>,
}
#[derive(Debug, thiserror::Error)]
#[error("x")]
pub struct FormatError;
#[derive(Debug, thiserror::Error)]
#[error("x")]
pub struct LayoutError;
pub fn read_preamble(
    fmt: &CsvFormat,
    head: &[u8],
    at_eof: bool,
) -> Result<Option<Preamble>, FormatError> {
    todo!()
}
pub fn layout(
    columns: Option<&[ColumnSpec]>,
    header: Option<&[String]>,
) -> Result<Layout, LayoutError> {
    todo!()
}
pub struct Parsed {
    pub rows: Rows,
    pub rejects: Vec<RejectNote>,
    pub records: u64,
}
pub fn parse_batch(
    fmt: &CsvFormat,
    layout: &Layout,
    start: u64,
    first_line: u64,
    data: &[u8],
) -> Parsed {
    todo!()
}

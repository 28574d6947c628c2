//! Loading one batch: parse it into typed rows (rejecting bad records), then
//! write rows and ledger row in one transaction, retrying what can be retried.
//! The answer's notes are the ones the sink fitted into the ledger row
//! (`protocol::notes`), so it is bounded like the row and equal to it.

use std::time::Instant;

use tracing::{debug, warn};

use super::retry::{Pause, RetryError, retrying};
use super::sink::{Sink, SinkError, WriteOutcome, WriteRequest};
use crate::config::WriteMode;
use crate::format::{self, ColumnSpec, Format, Parsed, Rows};
use crate::protocol::{Batch, BatchDone, ErrorClass, LedgerRange, RejectNote, WorkerSetup, notes};

pub struct Loader {
    job: String,
    table: String,
    create_table: bool,
    mode: WriteMode,
    format: Format,
    sink: Box<dyn Sink>,
    /// How long to go on retrying a failing step (`None`: for ever).
    give_up: Option<std::time::Duration>,
    /// Column sets whose table has been checked (or created) already.
    ensured: Vec<Vec<ColumnSpec>>,
}

impl Loader {
    pub fn new(setup: &WorkerSetup, sink: Box<dyn Sink>) -> Self {
        Loader {
            job: setup.job.clone(),
            table: setup.table.clone(),
            create_table: setup.create_table,
            mode: setup.mode.clone(),
            format: setup.format.clone(),
            sink,
            give_up: setup.give_up_after,
            ensured: Vec::new(),
        }
    }

    pub fn into_sink(self) -> Box<dyn Sink> {
        self.sink
    }

    /// The committed ranges of `source`, retrying transient failures.
    pub fn committed(
        &mut self,
        source: &str,
        pause: &mut dyn Pause,
    ) -> Result<Vec<LedgerRange>, RetryError> {
        let (sink, job) = (&mut self.sink, &self.job);
        retrying(self.give_up, pause, || sink.committed(job, source))
    }

    /// Checks the table and columns without creating the table.
    pub fn check(&mut self, columns: &[ColumnSpec]) -> Result<(), SinkError> {
        let (sink, table, mode) = (&mut self.sink, &self.table, &self.mode);
        sink.ensure_table(table, columns, false, mode)
    }

    /// Loads `batch`, waiting through `pause` between attempts.
    pub fn load(&mut self, batch: &Batch, pause: &mut dyn Pause) -> Result<BatchDone, RetryError> {
        let t0 = Instant::now();
        self.ensure_table(&batch.layout.columns, pause)?;
        let parsed = match &batch.verdict {
            Some(v) => Parsed {
                rows: Rows::new(batch.layout.columns.len()),
                rejects: vec![RejectNote {
                    offset: batch.start,
                    len: batch.end - batch.start,
                    line: batch.first_line,
                    records: batch.records,
                    column: None,
                    code: v.code.clone(),
                    reason: v.reason.clone(),
                }],
                records: u64::from(batch.records),
            },
            None => match &self.format {
                Format::Csv(csv) => format::parse_batch(
                    csv,
                    &batch.layout,
                    batch.start,
                    batch.first_line,
                    &batch.data,
                ),
            },
        };
        let done = self.write(batch, &parsed.rows, parsed.rejects, pause)?;
        debug!(
            batch = batch.id,
            file = %batch.file,
            loaded = done.loaded,
            rejected = done.rejects.len(),
            already = done.already,
            ms = t0.elapsed().as_millis() as u64,
            "batch done"
        );
        Ok(done)
    }

    fn ensure_table(
        &mut self,
        columns: &[ColumnSpec],
        pause: &mut dyn Pause,
    ) -> Result<(), RetryError> {
        if self.ensured.iter().any(|c| c == columns) {
            return Ok(());
        }
        let (sink, table, create, mode) =
            (&mut self.sink, &self.table, self.create_table, &self.mode);
        retrying(self.give_up, pause, || {
            sink.ensure_table(table, columns, create, mode)
        })?;
        self.ensured.push(columns.to_vec());
        Ok(())
    }

    fn write(
        &mut self,
        batch: &Batch,
        rows: &Rows,
        mut rejects: Vec<RejectNote>,
        pause: &mut dyn Pause,
    ) -> Result<BatchDone, RetryError> {
        let req = WriteRequest {
            job: &self.job,
            table: &self.table,
            mode: &self.mode,
            columns: &batch.layout.columns,
            rows,
            source: &batch.source,
            start: batch.start,
            end: batch.end,
            first_line: batch.first_line,
            rejects: &[],
        };
        let (sink, give_up) = (&mut self.sink, self.give_up);
        let first = retrying(give_up, pause, || {
            sink.write(&WriteRequest {
                rejects: &rejects,
                ..req
            })
        });
        let outcome = match first {
            // A data error the sink could not pin on single rows: every row of
            // the batch is rejected with it, so nothing is lost silently.
            Err(RetryError::Sink(e)) if e.class() == ErrorClass::Data => {
                warn!(batch = batch.id, "rejecting the whole batch: {e}");
                // One copy per row: cut it to its share before copying.
                let mut reason = e.to_string();
                let share = notes::REASONS_BUDGET / (rejects.len() + rows.len()).max(1);
                notes::cut(&mut reason, share.min(notes::REASON_MAX));
                rejects.extend(rows.origins.iter().map(|o| RejectNote {
                    offset: o.offset,
                    len: u64::from(o.len),
                    line: o.line,
                    records: 1,
                    column: None,
                    code: "batch_error".into(),
                    reason: reason.clone(),
                }));
                rejects.sort_by_key(|r| r.offset);
                let empty = Rows::new(rows.width);
                let req = WriteRequest {
                    rows: &empty,
                    rejects: &rejects,
                    ..req
                };
                retrying(give_up, pause, || sink.write(&req))?
            }
            other => other?,
        };
        Ok(match outcome {
            // Every note, fitted, as the ledger row holds them.
            WriteOutcome::Committed { loaded, rejects } => BatchDone {
                id: batch.id,
                loaded,
                rejects,
                already: false,
            },
            WriteOutcome::AlreadyCommitted(range) => BatchDone {
                id: batch.id,
                loaded: range.loaded,
                rejects: range.rejects,
                already: true,
            },
        })
    }
}

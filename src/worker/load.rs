//! Loading one batch: parse it into typed rows (rejecting bad records), then
//! write rows and ledger row in one transaction, retrying what can be retried.
//! The answer's notes are the ones the sink fitted into the ledger row
//! (`protocol::notes`), so it is bounded like the row and equal to it.
//! Rows are written under the table's own column names (`Sink::ensure_table`).
//! In a job whose columns come from the header, columns that do not fit the
//! table (`SinkError::Columns`) refuse the batch (`Loaded::Refused`): its
//! file is set aside, the job goes on; any other failure is the job's.

use std::time::Instant;

use tracing::{debug, info, warn};

use super::retry::{Pause, RetryError, retrying};
use super::sink::{Sink, SinkError, WriteOutcome, WriteRequest};
use crate::config::WriteMode;
use crate::format::{self, ColumnSpec, Format, Parsed, Rows};
use crate::protocol::{
    Batch, BatchDone, ErrorClass, Forgot, LedgerRange, LedgerSource, RejectNote, WorkerSetup, notes,
};

pub struct Loader {
    job: String,
    table: String,
    create_table: bool,
    mode: WriteMode,
    format: Format,
    /// The job's columns come from each file's header: columns that do not
    /// fit the table are that file's problem, not the job's.
    header_columns: bool,
    sink: Box<dyn Sink>,
    /// How long to go on retrying a failing step (`None`: for ever).
    give_up: Option<std::time::Duration>,
    /// Column sets whose table has been checked (or created), latest last.
    ensured: Vec<Ensured>,
}

/// A column set checked against the table, and what writes then name.
struct Ensured {
    columns: Vec<ColumnSpec>,
    /// The same columns under the table's own names (`Sink::ensure_table`).
    target: Vec<ColumnSpec>,
    /// The job's mode with the upsert key under the table's names.
    mode: WriteMode,
}

/// Column sets a worker remembers: files' headers may differ, and each
/// would otherwise be kept for the worker's life.
const ENSURED_KEPT: usize = 16;

/// What became of a batch.
pub enum Loaded {
    Done(BatchDone),
    /// Not written: the file's header does not fit the table (the reason
    /// says how). Its file is set aside; the job goes on.
    Refused(String),
}

impl Loader {
    pub fn new(setup: &WorkerSetup, sink: Box<dyn Sink>) -> Self {
        Loader {
            job: setup.job.clone(),
            table: setup.table.clone(),
            create_table: setup.create_table,
            mode: setup.mode.clone(),
            format: setup.format.clone(),
            header_columns: setup.header_columns,
            sink,
            give_up: setup.give_up_after,
            ensured: Vec::new(),
        }
    }

    pub fn into_sink(self) -> Box<dyn Sink> {
        self.sink
    }

    /// The committed ranges of `source` into the job's table, retrying
    /// transient failures.
    pub fn committed(
        &mut self,
        source: &str,
        pause: &mut dyn Pause,
    ) -> Result<Vec<LedgerRange>, RetryError> {
        let (sink, job, table) = (&mut self.sink, &self.job, &self.table);
        retrying(self.give_up, pause, || sink.committed(job, table, source))
    }

    /// Gives the job's ledger rows from before targets were recorded the
    /// job's table (`Sink::claim_legacy`), before any ledger question.
    pub fn claim_legacy(&mut self, pause: &mut dyn Pause) -> Result<(), RetryError> {
        let (sink, job, table) = (&mut self.sink, &self.job, &self.table);
        let rows = retrying(self.give_up, pause, || sink.claim_legacy(job, table))?;
        if rows > 0 {
            info!(rows, table = %table, "ledger rows written before the ledger recorded targets now count for the job's table");
        }
        Ok(())
    }

    /// What the ledger holds for the job, per source (only `source`, when
    /// given): `ingestd ledger`. Each attempt folds the rows afresh.
    pub fn list_ledger(
        &mut self,
        source: Option<&str>,
        pause: &mut dyn Pause,
    ) -> Result<Vec<LedgerSource>, RetryError> {
        let (sink, job) = (&mut self.sink, &self.job);
        retrying(self.give_up, pause, || {
            let mut lister = super::sink::ledger::list::Lister::default();
            sink.list_ledger(job, source, &mut |row| lister.push(row))?;
            Ok(lister.finish())
        })
    }

    /// The `target` the ledger names the job's table by.
    pub fn target(&self) -> String {
        self.sink.target(&self.table)
    }

    /// Deletes the job's ledger rows of `source` for its table if there are
    /// `expected` of them: `ingestd ledger forget`.
    pub fn forget(
        &mut self,
        source: &str,
        expected: u64,
        pause: &mut dyn Pause,
    ) -> Result<Forgot, RetryError> {
        let (sink, job, table) = (&mut self.sink, &self.job, &self.table);
        retrying(self.give_up, pause, || {
            sink.forget(job, table, source, expected)
        })
    }

    /// Checks the table and columns without creating the table.
    pub fn check(&mut self, columns: &[ColumnSpec]) -> Result<(), SinkError> {
        let (sink, table, mode) = (&mut self.sink, &self.table, &self.mode);
        sink.ensure_table(table, columns, false, mode).map(drop)
    }

    /// Loads `batch`, waiting through `pause` between attempts.
    pub fn load(&mut self, batch: &Batch, pause: &mut dyn Pause) -> Result<Loaded, RetryError> {
        let t0 = Instant::now();
        let ensured = match self.ensure_table(&batch.layout.columns, pause) {
            Ok(i) => i,
            Err(RetryError::Sink(e @ SinkError::Columns { .. })) if self.header_columns => {
                let reason = match self.format {
                    // Without columns, a JSON Lines file's first object
                    // names them, as a header does.
                    Format::Jsonl(_) => format!(
                        "the keys of its first JSON object do not fit {e}; fix the file (or the \
                         table), then drop the file in again"
                    ),
                    _ => format!(
                        "the header does not fit {e}; fix the header (or the table), then drop \
                         the file in again"
                    ),
                };
                warn!(batch = batch.id, file = %batch.file, "batch refused: {reason}");
                return Ok(Loaded::Refused(reason));
            }
            Err(e) => return Err(e),
        };
        if let Some(msgs) = &batch.stream {
            let mut parsed = match &batch.verdict {
                Some(v) => Parsed {
                    rows: Rows::new(batch.layout.columns.len()),
                    rejects: super::messages::verdict_notes(batch, msgs, v),
                    records: u64::from(batch.records),
                },
                None => super::messages::parse(&self.format, batch, msgs),
            };
            if batch.verdict.is_none() {
                super::messages::to_sequences(&mut parsed, msgs, &batch.data);
            }
            let done = self.write_stream(ensured, batch, &msgs.seqs, parsed, pause)?;
            debug!(
                batch = batch.id,
                loaded = done.loaded,
                rejected = done.rejects.len(),
                held = done.held.len(),
                ms = t0.elapsed().as_millis() as u64,
                "stream batch done"
            );
            return Ok(Loaded::Done(done));
        }
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
            None => {
                self.format
                    .parse_batch(&batch.layout, batch.start, batch.first_line, &batch.data)
            }
        };
        let done = self.write(ensured, batch, &parsed.rows, parsed.rejects, pause)?;
        debug!(
            batch = batch.id,
            file = %batch.file,
            loaded = done.loaded,
            rejected = done.rejects.len(),
            already = done.already,
            ms = t0.elapsed().as_millis() as u64,
            "batch done"
        );
        Ok(Loaded::Done(done))
    }

    /// Checks (or creates) the table for `columns`; returns where in
    /// `ensured` their target names are.
    fn ensure_table(
        &mut self,
        columns: &[ColumnSpec],
        pause: &mut dyn Pause,
    ) -> Result<usize, RetryError> {
        if let Some(i) = self.ensured.iter().position(|e| e.columns == columns) {
            return Ok(i);
        }
        let (sink, table, create, mode) =
            (&mut self.sink, &self.table, self.create_table, &self.mode);
        let names = retrying(self.give_up, pause, || {
            sink.ensure_table(table, columns, create, mode)
        })?;
        let target: Vec<ColumnSpec> = columns
            .iter()
            .zip(names)
            .map(|(c, name)| ColumnSpec { name, ..c.clone() })
            .collect();
        let mode = match &self.mode {
            WriteMode::Insert => WriteMode::Insert,
            WriteMode::Upsert { key } => WriteMode::Upsert {
                key: key_names(key, columns, &target),
            },
        };
        if self.ensured.len() >= ENSURED_KEPT {
            self.ensured.remove(0);
        }
        self.ensured.push(Ensured {
            columns: columns.to_vec(),
            target,
            mode,
        });
        Ok(self.ensured.len() - 1)
    }

    fn write(
        &mut self,
        ensured: usize,
        batch: &Batch,
        rows: &Rows,
        mut rejects: Vec<RejectNote>,
        pause: &mut dyn Pause,
    ) -> Result<BatchDone, RetryError> {
        let ensured = &self.ensured[ensured];
        let req = WriteRequest {
            job: &self.job,
            table: &self.table,
            mode: &ensured.mode,
            columns: &ensured.target,
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
                held: Vec::new(),
            },
            WriteOutcome::AlreadyCommitted(range) => BatchDone {
                id: batch.id,
                loaded: range.loaded,
                rejects: range.rejects,
                already: true,
                held: Vec::new(),
            },
        })
    }

    /// A stream's batch (`deliver::stream`): what the ledger holds of it
    /// already is left out and reported in `held`.
    fn write_stream(
        &mut self,
        ensured: usize,
        batch: &Batch,
        seqs: &[u64],
        parsed: Parsed,
        pause: &mut dyn Pause,
    ) -> Result<BatchDone, RetryError> {
        let ensured = &self.ensured[ensured];
        let mut rejects = parsed.rejects;
        let req = WriteRequest {
            job: &self.job,
            table: &self.table,
            mode: &ensured.mode,
            columns: &ensured.target,
            rows: &parsed.rows,
            source: &batch.source,
            start: batch.start,
            end: batch.end,
            first_line: 1,
            rejects: &[],
        };
        let (sink, give_up) = (&mut self.sink, self.give_up);
        let first = retrying(give_up, pause, || {
            sink.write_stream(
                &WriteRequest {
                    rejects: &rejects,
                    ..req
                },
                seqs,
            )
        });
        let out = match first {
            // As for a file's batch: a data error the sink could not pin on
            // single rows rejects every row, so nothing is lost silently.
            Err(RetryError::Sink(e)) if e.class() == ErrorClass::Data => {
                warn!(batch = batch.id, "rejecting the whole batch: {e}");
                let mut reason = e.to_string();
                let share = notes::REASONS_BUDGET / (rejects.len() + parsed.rows.len()).max(1);
                notes::cut(&mut reason, share.min(notes::REASON_MAX));
                rejects.extend(parsed.rows.origins.iter().map(|o| RejectNote {
                    offset: o.offset,
                    len: u64::from(o.len),
                    line: o.line,
                    records: 1,
                    column: None,
                    code: "batch_error".into(),
                    reason: reason.clone(),
                }));
                rejects.sort_by_key(|r| r.offset);
                let empty = Rows::new(parsed.rows.width);
                let req = WriteRequest {
                    rows: &empty,
                    rejects: &rejects,
                    ..req
                };
                retrying(give_up, pause, || sink.write_stream(&req, seqs))?
            }
            other => other?,
        };
        Ok(BatchDone {
            id: batch.id,
            already: out.loaded == 0 && out.rejects.is_empty() && !out.held.is_empty(),
            loaded: out.loaded,
            rejects: out.rejects,
            held: out.held,
        })
    }
}

/// The upsert `key` under the table's names: each key column is the job
/// column it names (`format::names`), as the sinks checked it.
fn key_names(key: &[String], columns: &[ColumnSpec], target: &[ColumnSpec]) -> Vec<String> {
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    match format::names::resolve(key, &names) {
        Ok(at) => at.into_iter().map(|i| target[i].name.clone()).collect(),
        // The sink refused such a key already; keep it as configured.
        Err(_) => key.to_vec(),
    }
}

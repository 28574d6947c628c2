//! Finding the bad rows of a failed statement exactly, inside the batch's
//! transaction: the rows are tried in contiguous runs, each under a
//! savepoint; a run that fails is rolled back to its savepoint and narrowed
//! until the failing row is found. A row is rejected only when it fails
//! right after every row before it that will be committed.
//!
//! A failed COPY names the tuple it was reading (`COPY t, line N` in the
//! error's context), so the next run is the N-1 rows before it (which pass),
//! then that row alone: three statements per bad row instead of a bisection
//! (one when N is 1: the first row of a run fails after exactly the rows kept,
//! as it would alone).
//! Errors raised after the rows (deferred checks, the upsert's INSERT ...
//! SELECT) name no line; those runs are halved.
//!
//! Owns the run sizes and the savepoints. Must not know what a run does:
//! the caller's `attempt` does it (COPY of tuples, or an upsert of a range).

use postgres::Client;

use super::classify::Fail;
use crate::protocol::ErrorClass;

/// Tries `[0, n)` in runs; returns the rows that failed alone (or first in
/// their run), with why, in order. A failure that is not of the data class ends it (the caller rolls
/// the whole transaction back).
pub fn isolate(
    client: &mut Client,
    n: usize,
    mut attempt: impl FnMut(&mut Client, usize, usize) -> Result<(), Fail>,
) -> Result<Vec<(usize, Fail)>, Fail> {
    let mut bad = Vec::new();
    let (mut pos, mut run) = (0, n.max(1));
    // How far apart the bad rows found so far are: after one is rejected, the
    // next run is about that long, so dense bad rows cost short runs and a
    // lone bad row in a big batch costs one long run.
    let mut spacing = n.max(1);
    let mut attempts = 0u32;
    // The row a failed COPY named, when the rows before it are being tried.
    let mut suspect = None;
    while pos < n {
        let end = (pos + run).min(n);
        attempts += 1;
        savepoint(client, "SAVEPOINT ingestd_try")?;
        match attempt(client, pos, end) {
            Ok(()) => {
                savepoint(client, "RELEASE SAVEPOINT ingestd_try")?;
                pos = end;
                // Right after the rows before a named row: that row alone.
                run = if suspect == Some(pos) {
                    1
                } else {
                    run.saturating_mul(2)
                };
            }
            Err(f) if f.class == ErrorClass::Data => {
                savepoint(client, "ROLLBACK TO SAVEPOINT ingestd_try")?;
                let size = end - pos;
                match (size, f.copy_line()) {
                    // Alone, or the first row of its run: it failed right
                    // after the rows already kept, as it would alone (the
                    // server reads and checks a COPY's rows in order).
                    (1, _) | (_, Some(1)) => {
                        spacing = if size == 1 { spacing } else { 0 };
                        bad.push((pos, f));
                        pos += 1;
                        run = (spacing * 2).max(16);
                    }
                    // The row the server was reading: try the rows before it
                    // (they passed), then it alone.
                    (_, Some(line)) if line <= size => {
                        spacing = line - 1;
                        suspect = Some(pos + line - 1);
                        run = line - 1;
                    }
                    _ => run = size / 2,
                }
            }
            Err(f) => return Err(f),
        }
    }
    tracing::debug!(rows = n, bad = bad.len(), attempts, "bad rows isolated");
    Ok(bad)
}

fn savepoint(client: &mut Client, sql: &str) -> Result<(), Fail> {
    client.batch_execute(sql).map_err(|e| Fail::from_pg(&e))
}

//! One reader per followed file's key at a time: a reader asks the ledger
//! for its key first; while another input of the job holds that key (a
//! file read until it was truncated, whose batches are not all answered),
//! the question waits. So a `copytruncate` copy, or a file taken again, is
//! read from the ledger only once everything read before under its key is
//! committed or dropped, and no two readers cut the same bytes at once
//! (the ledger alone could not tell two batches of different boundaries
//! apart while both are in flight).
//!
//! Owns the holders and the parked questions; the questions themselves go
//! through the job's queue.

use std::collections::HashMap;

use crossbeam_channel::Sender;

use crate::protocol::LedgerRange;
use crate::supervisor::event::FileId;

type Reply = Sender<Vec<LedgerRange>>;

#[derive(Default)]
pub struct Keys {
    holders: HashMap<String, FileId>,
    parked: Vec<(FileId, String, Reply)>,
}

impl Keys {
    /// `file` asks about `key`: the question back to ask now, or the
    /// holder it waits for.
    pub fn ask(
        &mut self,
        file: FileId,
        key: String,
        reply: Reply,
    ) -> Result<(String, Reply), FileId> {
        match self.holders.get(&key) {
            Some(&holder) if holder != file => {
                self.parked.push((file, key, reply));
                Err(holder)
            }
            _ => {
                self.holders.insert(key.clone(), file);
                Ok((key, reply))
            }
        }
    }

    /// `file` is over: the questions that may be asked now.
    pub fn release(&mut self, file: FileId) -> Vec<(String, Reply)> {
        self.holders.retain(|_, holder| *holder != file);
        let mut now = Vec::new();
        let mut i = 0;
        while i < self.parked.len() {
            if self.holders.contains_key(&self.parked[i].1) {
                i += 1;
                continue;
            }
            let (waiter, key, reply) = self.parked.remove(i);
            self.holders.insert(key.clone(), waiter);
            now.push((key, reply));
        }
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_reader_of_a_key_waits_for_the_first() {
        let mut keys = Keys::default();
        let (tx, _rx) = crossbeam_channel::unbounded();
        assert!(keys.ask(1, "tail:a".into(), tx.clone()).is_ok());
        assert!(
            keys.ask(2, "tail:b".into(), tx.clone()).is_ok(),
            "another key"
        );
        let parked = |r: Result<_, FileId>| r.err();
        assert_eq!(parked(keys.ask(3, "tail:a".into(), tx.clone())), Some(1));
        assert_eq!(parked(keys.ask(4, "tail:a".into(), tx.clone())), Some(1));
        assert!(keys.release(2).is_empty());
        let now = keys.release(1);
        assert_eq!(now.len(), 1, "one at a time");
        assert!(keys.ask(5, "tail:a".into(), tx).is_err());
        assert_eq!(keys.release(3).len(), 1);
        assert_eq!(keys.release(4).len(), 1);
        assert!(keys.release(5).is_empty());
    }
}

//! What a job has for its workers and no worker has taken yet: batches
//! (a dead worker's first, then the cutter's) and the cutter's ledger
//! questions, each answered by whichever worker gets it.
//!
//! Owns the order of that work; which worker gets it is the job's choice.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crossbeam_channel::Sender;

use crate::protocol::{Batch, LedgerRange};
use crate::supervisor::event::FileId;

/// A cutter's question: which ranges of `source` are committed?
pub struct Question {
    pub source: String,
    reply: Sender<Vec<LedgerRange>>,
    /// The answer's parts received so far (a long answer comes in several).
    parts: Vec<LedgerRange>,
}

#[derive(Default)]
pub struct Queue {
    /// Batches waiting for a worker, in sending order.
    pending: VecDeque<(FileId, Arc<Batch>)>,
    /// Questions not yet sent, oldest first.
    asking: VecDeque<(u64, Question)>,
    /// Questions sent to a worker and not yet answered.
    asked: HashMap<u64, Question>,
    next_question: u64,
}

impl Queue {
    pub fn push(&mut self, file: FileId, batch: Batch) {
        self.pending.push_back((file, Arc::new(batch)));
    }

    /// A dead worker's batches, oldest first: they go before anything else.
    pub fn put_back(&mut self, mut batches: VecDeque<(FileId, Arc<Batch>)>) {
        while let Some(b) = batches.pop_back() {
            self.pending.push_front(b);
        }
    }

    pub fn pop(&mut self) -> Option<(FileId, Arc<Batch>)> {
        self.pending.pop_front()
    }

    /// Drops the waiting batches of `file`; returns how many.
    pub fn drop_file(&mut self, file: FileId) -> u64 {
        let before = self.pending.len();
        self.pending.retain(|(f, _)| *f != file);
        (before - self.pending.len()) as u64
    }

    pub fn batches(&self) -> usize {
        self.pending.len()
    }

    /// Queues a cutter's question; answered through `reply`.
    pub fn ask(&mut self, source: String, reply: Sender<Vec<LedgerRange>>) {
        self.next_question += 1;
        let parts = Vec::new();
        self.asking.push_back((
            self.next_question,
            Question {
                source,
                reply,
                parts,
            },
        ));
    }

    /// The next question to send, if any; `sent` or `unsent` must follow.
    pub fn next_question(&mut self) -> Option<(u64, Question)> {
        self.asking.pop_front()
    }

    pub fn sent(&mut self, id: u64, q: Question) {
        self.asked.insert(id, q);
    }

    /// No worker could take it: it stays first.
    pub fn unsent(&mut self, id: u64, q: Question) {
        self.asking.push_front((id, q));
    }

    /// A worker sent part of its answer to question `id`; the rest follows.
    pub fn part(&mut self, id: u64, ranges: Vec<LedgerRange>) {
        if let Some(q) = self.asked.get_mut(&id) {
            q.parts.extend(ranges);
        }
    }

    /// A worker answered question `id` (the last part of its answer).
    pub fn answer(&mut self, id: u64, ranges: Vec<LedgerRange>) {
        if let Some(mut q) = self.asked.remove(&id) {
            q.parts.extend(ranges);
            // The cutter may be gone (stopped): nobody to tell.
            let _ = q.reply.send(q.parts);
        }
    }

    /// Questions a dead worker had, in the order it got them: asked again
    /// first, and answered again from the start.
    pub fn ask_again(&mut self, ids: Vec<u64>) {
        for id in ids.into_iter().rev() {
            if let Some(mut q) = self.asked.remove(&id) {
                q.parts.clear();
                self.asking.push_front((id, q));
            }
        }
    }

    /// Forgets everything (the job stops taking work).
    pub fn clear(&mut self) {
        self.pending.clear();
        self.asking.clear();
        self.asked.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(id: u64) -> Batch {
        crate::supervisor::fixtures::batch(id, b"")
    }

    #[test]
    fn a_dead_workers_batches_go_first_in_their_order() {
        let mut q = Queue::default();
        q.push(1, batch(1));
        q.push(2, batch(2));
        let orphans: VecDeque<_> = [(1, Arc::new(batch(7))), (1, Arc::new(batch(8)))].into();
        q.put_back(orphans);
        let ids: Vec<u64> = std::iter::from_fn(|| q.pop()).map(|(_, b)| b.id).collect();
        assert_eq!(ids, [7, 8, 1, 2]);
    }

    #[test]
    fn dropping_a_file_counts_its_batches() {
        let mut q = Queue::default();
        for (f, id) in [(1, 1), (2, 2), (1, 3)] {
            q.push(f, batch(id));
        }
        assert_eq!(q.drop_file(1), 2);
        assert_eq!(q.batches(), 1);
    }

    #[test]
    fn questions_are_answered_once_and_asked_again_after_a_death() {
        let mut q = Queue::default();
        let (tx, rx) = crossbeam_channel::unbounded();
        q.ask("a".into(), tx.clone());
        q.ask("b".into(), tx);
        let (ia, qa) = q.next_question().unwrap();
        let (ib, qb) = q.next_question().unwrap();
        assert_eq!((qa.source.as_str(), qb.source.as_str()), ("a", "b"));
        q.sent(ia, qa);
        q.sent(ib, qb);
        // The worker holding both died: asked again, in their order, first.
        q.ask_again(vec![ia, ib]);
        let (again, question) = q.next_question().unwrap();
        assert_eq!((again, question.source.as_str()), (ia, "a"));
        q.sent(again, question);
        q.answer(ia, vec![]);
        q.answer(ia, vec![]); // a late second answer is ignored
        assert_eq!(rx.try_iter().count(), 1);
    }

    fn range(start: u64) -> LedgerRange {
        LedgerRange {
            start,
            end: start + 10,
            first_line: 1,
            loaded: 1,
            rejected: 0,
            rejects: vec![],
        }
    }

    #[test]
    fn an_answer_in_parts_reaches_the_cutter_whole_and_once() {
        let mut q = Queue::default();
        let (tx, rx) = crossbeam_channel::unbounded();
        q.ask("a".into(), tx);
        let (id, question) = q.next_question().unwrap();
        q.sent(id, question);
        q.part(id, vec![range(0), range(10)]);
        // Its worker died after one part: the question starts over.
        q.ask_again(vec![id]);
        let (again, question) = q.next_question().unwrap();
        q.sent(again, question);
        q.part(again, vec![range(0)]);
        q.part(again, vec![range(10)]);
        assert!(rx.try_recv().is_err(), "nothing before the last part");
        q.answer(again, vec![range(20)]);
        let got: Vec<u64> = rx.try_recv().unwrap().iter().map(|r| r.start).collect();
        assert_eq!(got, [0, 10, 20]);
        q.part(again, vec![range(30)]); // late: ignored
        assert!(rx.try_recv().is_err());
    }
}

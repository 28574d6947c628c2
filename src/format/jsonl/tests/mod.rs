//! Tests of JSON Lines reading: the strict reader's verdicts and reasons
//! (`strict.rs`), pointers (`pointer.rs`), batches into rows (`parse.rs`),
//! preambles (`preamble.rs`), and the JSONTestSuite corpus
//! (`conformance.rs`). Test code only.

mod bench;
mod conformance;
mod mutate;
mod parse;
mod pointer;
mod preamble;
mod strict;

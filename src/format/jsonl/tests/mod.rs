//! Tests of JSON Lines reading: the strict reader's verdicts and reasons
//! (`strict.rs`), pointers (`pointer.rs`), and the JSONTestSuite corpus
//! (`conformance.rs`). Test code only.

mod conformance;
mod pointer;
mod strict;

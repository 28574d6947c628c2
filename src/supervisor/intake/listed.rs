//! The inputs of `ingestd load`: the files named on the command line, or
//! standard input. All are announced at start, then the source is exhausted;
//! the files stay where they are whatever happens to them.
//!
//! Owns that list only; reading is the cutter's.

use std::path::PathBuf;

use tracing::warn;

use super::{Announce, Fate, Found, Input, Source};

pub struct Listed {
    job: String,
    inputs: Vec<Input>,
}

impl Listed {
    pub fn files(job: &str, paths: &[PathBuf]) -> Self {
        Listed {
            job: job.to_string(),
            inputs: paths.iter().cloned().map(Input::File).collect(),
        }
    }

    pub fn stdin(job: &str) -> Self {
        Listed {
            job: job.to_string(),
            inputs: vec![Input::Stdin],
        }
    }
}

impl Source for Listed {
    fn start(&mut self, mut announce: Announce) -> std::io::Result<()> {
        for input in std::mem::take(&mut self.inputs) {
            if !announce(Found::Input(input)) {
                return Ok(());
            }
        }
        announce(Found::Exhausted);
        Ok(())
    }

    fn accept(&mut self, _input: &Input) -> bool {
        true
    }

    fn settle(&mut self, input: &Input, fate: &Fate) {
        // Named by the user: never moved; the reject files say the rest.
        if let Fate::SetAside { reason } = fate {
            warn!(job = %self.job, file = %input.name(), "file stopped: {reason}");
        }
    }

    fn stop(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announces_every_input_then_exhausted_and_never_moves_them() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a.csv"), d.path().join("b.csv"));
        std::fs::write(&a, "x\n").unwrap();
        let mut src = Listed::files("j", &[a.clone(), b.clone()]);
        let (tx, rx) = crossbeam_channel::unbounded();
        src.start(Box::new(move |f| tx.send(f).is_ok())).unwrap();
        let got: Vec<Found> = rx.try_iter().collect();
        let want = [Input::File(a.clone()), Input::File(b)].map(Found::Input);
        assert_eq!(got[..2], want);
        assert_eq!(got[2], Found::Exhausted);
        let input = Input::File(a.clone());
        assert!(src.accept(&input) && src.accept(&input));
        src.settle(&input, &Fate::SetAside { reason: "r".into() });
        src.settle(&input, &Fate::Loaded);
        assert!(a.exists());
    }
}

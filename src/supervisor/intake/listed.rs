//! The inputs of `ingestd load`: the files named on the command line, or
//! standard input. All are announced at start, then the source is exhausted;
//! the files stay where they are whatever happens to them.
//!
//! Owns that list only; reading is the cutter's.

use std::path::PathBuf;

use super::{Accept, Announce, Disposal, Fate, Found, Input, Kept, OnLoaded, Source};

pub struct Listed {
    inputs: Vec<Input>,
}

impl Listed {
    pub fn files(paths: &[PathBuf]) -> Self {
        Listed {
            inputs: paths.iter().cloned().map(Input::File).collect(),
        }
    }

    pub fn stdin(name: Option<String>) -> Self {
        Listed {
            inputs: vec![Input::Stdin { name }],
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

    fn accept(&mut self, _input: &Input) -> Accept {
        Accept::Take
    }

    /// Named by the user: never moved; the reject files say the rest.
    fn disposal(&self) -> Disposal {
        Disposal {
            loaded: OnLoaded::Keep,
            aside: None,
        }
    }

    fn settled(&mut self, _input: &Input, _fate: &Fate, _kept: Option<Kept>) {}

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
        let mut src = Listed::files(&[a.clone(), b.clone()]);
        let (tx, rx) = crossbeam_channel::unbounded();
        src.start(Box::new(move |f| tx.send(f).is_ok())).unwrap();
        let got: Vec<Found> = rx.try_iter().collect();
        let want = [Input::File(a.clone()), Input::File(b)].map(Found::Input);
        assert_eq!(got[..2], want);
        assert_eq!(got[2], Found::Exhausted);
        let input = Input::File(a.clone());
        assert_eq!(src.accept(&input), Accept::Take);
        assert_eq!(src.accept(&input), Accept::Take);
        let disposal = src.disposal();
        assert_eq!((disposal.loaded, disposal.aside), (OnLoaded::Keep, None));
    }
}

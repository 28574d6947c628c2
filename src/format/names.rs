//! The one rule by which ingestd matches names to names: configured columns
//! to a file's header fields (`layout`), and a job's columns (a header's
//! fields) to a target table's columns, in every sink. Exactly first; else
//! ignoring case (Unicode lower case), but only when that is unambiguous:
//! a name that matches several, or one that another name already takes,
//! is an error, never a guess. So no value is ever written to a column it
//! was not meant for, nor two values to one column.
//!
//! Owns the rule and its outcome; callers word the errors for their side.
//! Pure: no files, no databases.

/// Why `resolve` found no mapping. Indexes are into its `wanted` and `have`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// These of `wanted` match nothing, not even ignoring case.
    Missing(Vec<usize>),
    /// `wanted` matches several of `have` equally well: all exactly, or
    /// (none exactly) all ignoring case.
    Ambiguous { wanted: usize, have: Vec<usize> },
    /// `second` would take `have`, which `first` takes already (exactly,
    /// or ignoring case before it).
    Shared {
        first: usize,
        second: usize,
        have: usize,
    },
}

/// For each of `wanted`, the index of the one of `have` it names.
pub fn resolve<W: AsRef<str>, H: AsRef<str>>(
    wanted: &[W],
    have: &[H],
) -> Result<Vec<usize>, Mismatch> {
    let mut taken: Vec<Option<usize>> = vec![None; have.len()];
    let mut found: Vec<Option<usize>> = vec![None; wanted.len()];
    let mut take = |w: usize, h: usize, found: &mut [Option<usize>]| match taken[h] {
        Some(first) => Err(Mismatch::Shared {
            first,
            second: w,
            have: h,
        }),
        None => {
            taken[h] = Some(w);
            found[w] = Some(h);
            Ok(())
        }
    };
    // Exact names first, all of them: an exact match is never taken away
    // by a name that only matches ignoring case.
    for (w, name) in wanted.iter().enumerate() {
        let exact = positions(have, |h| h == name.as_ref());
        match exact.as_slice() {
            [] => {}
            [h] => take(w, *h, &mut found)?,
            _ => {
                return Err(Mismatch::Ambiguous {
                    wanted: w,
                    have: exact,
                });
            }
        }
    }
    let folded: Vec<String> = have.iter().map(|h| h.as_ref().to_lowercase()).collect();
    let mut missing = Vec::new();
    for (w, name) in wanted.iter().enumerate() {
        if found[w].is_some() {
            continue;
        }
        let lower = name.as_ref().to_lowercase();
        let loose = positions(&folded, |h| *h == lower);
        match loose.as_slice() {
            [] => missing.push(w),
            [h] => take(w, *h, &mut found)?,
            _ => {
                return Err(Mismatch::Ambiguous {
                    wanted: w,
                    have: loose,
                });
            }
        }
    }
    match missing.is_empty() {
        true => Ok(found.into_iter().flatten().collect()),
        false => Err(Mismatch::Missing(missing)),
    }
}

fn positions<H: AsRef<str>>(have: &[H], pred: impl Fn(&str) -> bool) -> Vec<usize> {
    (0..have.len())
        .filter(|&i| pred(have[i].as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(wanted: &[&str], have: &[&str]) -> Result<Vec<usize>, Mismatch> {
        resolve(wanted, have)
    }

    #[test]
    fn exact_then_ignoring_case() {
        assert_eq!(r(&["b", "a"], &["a", "b"]), Ok(vec![1, 0]));
        assert_eq!(r(&["ID", "Name"], &["id", "name"]), Ok(vec![0, 1]));
        // Exact wins over case-insensitive, whatever the order.
        assert_eq!(r(&["Id"], &["ID", "Id"]), Ok(vec![1]));
        assert_eq!(r(&["x"], &["X", "b", "x"]), Ok(vec![2]));
        // Both spellings exist: each takes its own.
        assert_eq!(r(&["a", "A"], &["A", "a"]), Ok(vec![1, 0]));
        // Unicode lower case, not ASCII only.
        assert_eq!(r(&["ÉTAT"], &["état"]), Ok(vec![0]));
        assert_eq!(r(&["größe"], &["GRÖSSE", "Größe"]), Ok(vec![1]));
        // Fewer wanted than there are: the rest is not asked for.
        assert_eq!(r(&["b"], &["a", "a", "b"]), Ok(vec![2]));
        assert_eq!(r(&[] as &[&str], &["a"]), Ok(vec![]));
    }

    #[test]
    fn a_name_another_takes_exactly_is_not_taken_again_ignoring_case() {
        // `b,A,a` onto (a, b): "a" is column a's exact name; "A" only
        // matches it ignoring case.
        assert_eq!(
            r(&["b", "A", "a"], &["a", "b"]),
            Err(Mismatch::Shared {
                first: 2,
                second: 1,
                have: 0
            })
        );
        // `a,A` onto (a): the same, in the other order.
        assert_eq!(
            r(&["a", "A"], &["a"]),
            Err(Mismatch::Shared {
                first: 0,
                second: 1,
                have: 0
            })
        );
        // `a,b,B` onto (a, b).
        assert_eq!(
            r(&["a", "b", "B"], &["a", "b"]),
            Err(Mismatch::Shared {
                first: 1,
                second: 2,
                have: 1
            })
        );
        // Two that only match ignoring case: the first one asked takes it.
        assert_eq!(
            r(&["ID", "Id"], &["id"]),
            Err(Mismatch::Shared {
                first: 0,
                second: 1,
                have: 0
            })
        );
        // Exactly the same name twice.
        assert_eq!(
            r(&["a", "a"], &["a"]),
            Err(Mismatch::Shared {
                first: 0,
                second: 1,
                have: 0
            })
        );
    }

    #[test]
    fn several_candidates_are_ambiguous_and_missing_ones_are_all_named() {
        assert_eq!(
            r(&["id"], &["ID", "x", "Id"]),
            Err(Mismatch::Ambiguous {
                wanted: 0,
                have: vec![0, 2]
            })
        );
        assert_eq!(
            r(&["a"], &["b", "a", "a"]),
            Err(Mismatch::Ambiguous {
                wanted: 0,
                have: vec![1, 2]
            })
        );
        assert_eq!(
            r(&["a", "c", "b", "d"], &["a", "b"]),
            Err(Mismatch::Missing(vec![1, 3]))
        );
        // An ambiguity is reported before what is missing.
        assert!(matches!(
            r(&["zz", "id"], &["ID", "Id"]),
            Err(Mismatch::Ambiguous { wanted: 1, .. })
        ));
    }
}

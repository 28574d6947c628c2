//! Tests of an input's progress and end on real files: counts, reject
//! files, `.rest`, and what `End::run` does with files that changed.

use super::*;
use crate::protocol::LedgerRange;
use crate::supervisor::fixtures::{self, batch};
use crate::supervisor::intake::{Fate, OnLoaded};

fn note(offset: u64, len: u64) -> RejectNote {
    RejectNote {
        offset,
        len,
        line: offset / 4 + 2,
        records: 1,
        column: None,
        code: "bad".into(),
        reason: "bad value".into(),
    }
}

fn disposal(job: &Job, loaded: OnLoaded) -> Disposal {
    Disposal {
        loaded,
        aside: Some(job.reject_dir.clone()),
    }
}

/// `in/a.csv` = header + 4 records of 4 bytes, opened as the cutter does;
/// the range [2, 10) was committed earlier.
fn started(d: &Path, job: &Job) -> (Files, FileId) {
    let path = d.join("in/a.csv");
    std::fs::write(&path, "x\n1,a\n2,b\n3,c\n4,d\n").unwrap();
    let input = Input::File(path);
    let opened = input.open(&d.join("spool"), job.compression).unwrap();
    let mut files = Files::default();
    let (id, _) = files.open(input);
    let prior = LedgerRange {
        start: 2,
        end: 10,
        first_line: 2,
        loaded: 2,
        rejected: 0,
        rejects: vec![],
    };
    let start = FileStart {
        source: opened.key,
        file: opened.file,
        content: opened.content,
        preamble: b"x\n".to_vec(),
        prior: vec![prior],
        prior_rejects: vec![],
        progress: None,
        stream: None,
    };
    let f = files.get_mut(id).unwrap();
    f.started(job, Box::new(start)).unwrap();
    (files, id)
}

/// Ends `a.csv` after its two last records were loaded in this run.
fn loaded(d: &Path, job: &Arc<Job>, on: OnLoaded) -> End {
    let (mut files, id) = started(d, job);
    let f = files.get_mut(id).unwrap();
    f.batch_done(job, &batch(10, b"3,c\n4,d\n"), 2, &[], false)
        .unwrap();
    f.cut(1);
    let f = files.take_complete(id).expect("answered");
    f.into_end(job, None, disposal(job, on))
}

#[test]
fn over_max_errors_it_stops_and_the_rest_file_holds_what_no_run_committed() {
    let d = tempfile::tempdir().unwrap();
    let job = Arc::new(fixtures::job(d.path(), ""));
    let (mut files, id) = started(d.path(), &job);
    let f = files.get_mut(id).unwrap();
    f.batch_done(&job, &batch(10, b"3,c\n"), 0, &[note(10, 4)], false)
        .unwrap();
    assert_eq!(f.stop_if_over(job.max_errors), None, "1 reject, max 1");
    // Its bytes are not in the batch (an oversized range): read from the file.
    let oversized = Batch {
        end: 18,
        ..batch(14, b"")
    };
    f.batch_done(&job, &oversized, 0, &[note(14, 4)], false)
        .unwrap();
    let said = f.stop_if_over(job.max_errors).expect("2 > 1");
    assert!(
        said.starts_with("2 records rejected so far, more than max_errors = 1"),
        "{said}"
    );
    assert_eq!(f.stop_if_over(job.max_errors), None, "stopped once");
    assert!(!files.wants(id));
    assert!(files.take_complete(id).is_none(), "not cut yet");
    files.get_mut(id).unwrap().cut(2);
    let f = files.take_complete(id).expect("both batches answered");
    let ended = f
        .into_end(&job, None, disposal(&job, OnLoaded::Delete))
        .run();
    let reason = "2 records rejected, more than max_errors = 1".to_string();
    assert_eq!(ended.fate, Fate::SetAside { reason });
    let r = &ended.report;
    assert_eq!((r.loaded, r.rejected, r.prior_loaded), (0, 2, 2));
    // Everything was committed by a run: the .rest holds the header only,
    // and is named so that the job's pattern (*) takes it back.
    let rest = std::fs::read(job.reject_dir.join("a.rest.csv")).unwrap();
    assert_eq!(rest, b"x\n");
    let bad = std::fs::read(job.reject_dir.join("a.csv.bad")).unwrap();
    assert_eq!(bad, b"x\n3,c\n4,d\n");
    assert!(job.reject_dir.join("a.csv").exists(), "moved aside");
}

#[test]
fn the_reason_counts_answers_after_the_stop_and_other_runs_count_apart() {
    let d = tempfile::tempdir().unwrap();
    let job = Arc::new(fixtures::job(d.path(), ""));
    let (mut files, id) = started(d.path(), &job);
    let f = files.get_mut(id).unwrap();
    let two = RejectNote {
        records: 2,
        ..note(10, 4)
    };
    f.batch_done(&job, &batch(10, b"3,c\n"), 0, &[two], false)
        .unwrap();
    let said = f.stop_if_over(job.max_errors).expect("2 > 1");
    assert!(said.starts_with("2 records rejected so far"), "{said}");
    // Answered after the stop, and found committed by another run.
    f.batch_done(&job, &batch(14, b"4,d\n"), 0, &[note(14, 4)], true)
        .unwrap();
    f.cut(2);
    let f = files.take_complete(id).expect("both answered");
    let ended = f.into_end(&job, None, disposal(&job, OnLoaded::Keep)).run();
    let reason = "3 records rejected (1 of them by other runs), more than max_errors = 1";
    assert_eq!(
        ended.fate,
        Fate::SetAside {
            reason: reason.into()
        }
    );
    let r = &ended.report;
    assert_eq!((r.loaded, r.rejected), (0, 2), "this run's own");
    assert_eq!(
        (r.prior_loaded, r.prior_rejected),
        (2, 1),
        "earlier and other runs'"
    );
}

#[test]
fn an_unchanged_file_is_archived_or_deleted_and_a_changed_one_never() {
    let d = tempfile::tempdir().unwrap();
    let job = Arc::new(fixtures::job(d.path(), ""));
    let path = d.path().join("in/a.csv");
    let archive = d.path().join("archive");
    let ended = loaded(d.path(), &job, OnLoaded::Archive(archive.clone())).run();
    assert_eq!(
        (ended.fate, ended.report.outcome),
        (Fate::Loaded, Outcome::Done)
    );
    assert!(!path.exists() && archive.join("a.csv").exists());
    // Archived again under the same name: beside it, never over it.
    let ended = loaded(d.path(), &job, OnLoaded::Archive(archive.clone())).run();
    assert_eq!(ended.fate, Fate::Loaded);
    assert_eq!(std::fs::read_dir(&archive).unwrap().count(), 2);

    // Appended to after it was taken: set aside, the new bytes in .rest.
    let end = loaded(d.path(), &job, OnLoaded::Delete);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, b"5,e\n").unwrap();
    let ended = end.run();
    assert!(
        matches!(&ended.fate, Fate::SetAside { reason } if reason.contains("grew from 18 to 22")),
        "{:?}",
        ended.fate
    );
    let rest = std::fs::read(job.reject_dir.join("a.rest.csv")).unwrap();
    assert_eq!(rest, b"x\n5,e\n");
    assert!(!path.exists() && job.reject_dir.join("a.csv").exists());

    // Rewritten in place: set aside as it is, no .rest.
    let end = loaded(d.path(), &job, OnLoaded::Delete);
    std::fs::write(&path, "x\n9,z\n").unwrap();
    let ended = end.run();
    assert!(
        matches!(&ended.fate, Fate::SetAside { reason } if reason.contains("changed after it was taken"))
    );
    assert!(!job.reject_dir.join("a.rest2.csv").exists());

    // Renamed over: ours is loaded; the new one is left to be taken.
    let end = loaded(d.path(), &job, OnLoaded::Delete);
    std::fs::write(d.path().join("in/b.tmp"), "x\n7,g\n").unwrap();
    std::fs::rename(d.path().join("in/b.tmp"), &path).unwrap();
    let ended = end.run();
    assert_eq!(ended.fate, Fate::Loaded);
    assert!(ended.retake);
    assert_eq!(std::fs::read(&path).unwrap(), b"x\n7,g\n");

    // Kept: stays, with what it was.
    let ended = loaded(d.path(), &job, OnLoaded::Keep).run();
    assert!(ended.kept.is_some() && path.exists());
}

#[test]
fn outcomes_and_fates() {
    let d = tempfile::tempdir().unwrap();
    let job = Arc::new(fixtures::job(d.path(), ""));
    let keep = || disposal(&job, OnLoaded::Keep);
    // Nothing new, everything committed before: already loaded.
    let (mut files, id) = started(d.path(), &job);
    files.get_mut(id).unwrap().cut(0);
    let ended = files
        .take_complete(id)
        .unwrap()
        .into_end(&job, None, keep())
        .run();
    assert_eq!(ended.report.outcome, Outcome::AlreadyLoaded);
    assert_eq!(ended.fate, Fate::Loaded);
    // Unreadable: tried again later; an unusable header: set aside.
    for (set_aside, want) in [
        (false, Fate::Unfinished),
        (true, Fate::SetAside { reason: "r".into() }),
    ] {
        let (mut files, id) = started(d.path(), &job);
        files
            .get_mut(id)
            .unwrap()
            .cut_failed("r".into(), set_aside, 0);
        let ended = files
            .take_complete(id)
            .unwrap()
            .into_end(&job, None, keep())
            .run();
        assert_eq!(ended.fate, want);
    }
    // The run ends first.
    let (mut files, _) = started(d.path(), &job);
    let left = files.take_all().into_iter().next().unwrap();
    let ended = left.into_end(&job, Some("stop".into()), keep()).run();
    assert_eq!(ended.fate, Fate::Unfinished);
    assert_eq!(
        ended.report.outcome,
        Outcome::Unfinished {
            reason: "stop".into()
        }
    );
}

#[test]
fn a_refused_batch_stops_the_file_and_sets_it_aside_with_the_reason() {
    let d = tempfile::tempdir().unwrap();
    let job = Arc::new(fixtures::job(d.path(), ""));
    let (mut files, id) = started(d.path(), &job);
    let f = files.get_mut(id).unwrap();
    assert!(
        f.refused("the header does not fit".into()),
        "the first refusal"
    );
    assert!(!f.refused("again".into()), "a second batch's refusal");
    assert!(f.stop.load(Ordering::Relaxed), "the cutter stops");
    assert!(!files.wants(id), "its other batches are not sent");
    let f = files.get_mut(id).unwrap();
    f.dropped(1);
    f.cut(3);
    let ended = files
        .take_complete(id)
        .expect("two refused and one dropped: all answered")
        .into_end(&job, None, disposal(&job, OnLoaded::Delete))
        .run();
    let reason = "the header does not fit".to_string();
    assert_eq!(
        ended.fate,
        Fate::SetAside {
            reason: reason.clone()
        }
    );
    assert_eq!(ended.report.outcome, Outcome::SetAside { reason });
    assert_eq!((ended.report.loaded, ended.report.rejected), (0, 0));
    assert!(job.reject_dir.join("a.csv").exists(), "moved aside");
    // [2, 10) was committed by an earlier run: the rest holds the others.
    let rest = std::fs::read(job.reject_dir.join("a.rest.csv")).unwrap();
    assert_eq!(rest, b"x\n3,c\n4,d\n");
}

#[test]
fn committed_ranges_are_kept_merged() {
    let mut c = Vec::new();
    for r in [
        (10, 20),
        (30, 40),
        (20, 30),
        (50, 60),
        (0, 5),
        (5, 10),
        (45, 55),
    ] {
        super::followed::cover(&mut c, r);
    }
    assert_eq!(c, [(0, 40), (45, 60)]);
}

#[test]
fn a_followed_files_rejects_carry_its_key() {
    assert_eq!(
        super::followed::reject_name("a.csv", "a.csv:123:abc"),
        "a.csv"
    );
    let key = format!("tail:{}", "0123456789abcdef".repeat(4));
    assert_eq!(
        super::followed::reject_name("app.log", &key),
        "app.log.0123456789ab"
    );
}

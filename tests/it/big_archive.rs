//! A 2 GiB file archived across filesystems (landing folder on a tmpfs, the
//! archive on disk, so the move is a copy) while `ingestd status` is asked
//! every 100 ms: every answer comes within a second, including while the
//! copy runs, because the copy runs off the event loop. The file's records
//! are already in the ledger (as after a crash between commit and archive),
//! so the run is about the file's end, not about loading it.

use std::fs;
use std::io::Write;
use std::time::{Duration, Instant};

use crate::support::*;

trials![a_two_gib_archive_across_filesystems_leaves_status_answering[Tmpfs]];

const LINE: usize = 1 << 20;
const LINES: u64 = 2048;

fn a_two_gib_archive_across_filesystems_leaves_status_answering() {
    let shm = tempfile::tempdir_in("/dev/shm").unwrap();
    let land = shm.path().join("in");
    fs::create_dir_all(&land).unwrap();
    let s = Setup::new("", "", "on_done = \"archive\"");
    let archive = s.path("archive");
    s.edit(|t| {
        t.replace(
            "path = \"in\"\n",
            &format!(
                "path = {:?}\narchive_dir = {:?}\n",
                land.display().to_string(),
                archive.display().to_string()
            ),
        )
    });
    // The table and the ledger, made by a first load.
    let tiny = s.path("tiny.csv");
    write_orders(&tiny, 1, 1, 1);
    cli::load(&s.config, "orders", &[&tiny]).expect(0);

    // The big file, its identity as ingestd computes it (name, size,
    // BLAKE3), and a ledger row saying every record of it is committed.
    let staged = land.join(".big.csv.tmp");
    let mut out = std::io::BufWriter::new(fs::File::create(&staged).unwrap());
    let mut hash = blake3::Hasher::new();
    let mut line = vec![b'7'; LINE];
    line[LINE - 1] = b'\n';
    for chunk in [HEADER.as_bytes()]
        .into_iter()
        .chain(std::iter::repeat_n(&line[..], LINES as usize))
    {
        out.write_all(chunk).unwrap();
        hash.update(chunk);
    }
    drop(out);
    let size = HEADER.len() as u64 + LINES * LINE as u64;
    let hex: String = hash.finalize().as_bytes()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let key = format!("big.csv:{size}:{hex}");
    rusqlite::Connection::open(&s.db)
        .unwrap()
        .execute(
            "INSERT INTO ingestd_ledger (job, source, start_off, end_off, first_line, rows_loaded, \
             rows_rejected, rejects, worker_pid, committed_at) VALUES ('orders', ?1, ?2, ?3, 2, ?4, 0, '[]', 0, 'x')",
            rusqlite::params![key, HEADER.len() as i64, size as i64, LINES as i64],
        )
        .unwrap();
    fs::rename(&staged, land.join("big.csv")).unwrap();

    let mut d = Daemon::start(&["run", "--config", s.cfg()], &s.path("d.log"));
    let (mut slowest, mut asked, mut during_copy) = (Duration::ZERO, 0, 0);
    let t0 = Instant::now();
    let archived = archive.join("big.csv");
    loop {
        let copying = archived.exists() && land.join("big.csv").exists();
        let t = Instant::now();
        let st = ingestd(["status", "--json", "--config", s.cfg()]).run();
        let took = t.elapsed();
        if st.code == Some(0) {
            asked += 1;
            slowest = slowest.max(took);
            during_copy += usize::from(copying);
        } else {
            // Only before the daemon listens.
            assert!(asked == 0, "status failed: {}", st.output());
        }
        if !land.join("big.csv").exists() && d.log_text().contains("file already loaded") {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(180), "{}", d.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    d.stop(Duration::from_secs(30));
    assert_eq!(
        fs::metadata(&archived).unwrap().len(),
        size,
        "archived whole"
    );
    assert!(
        during_copy > 0,
        "no status asked while the copy ran ({asked} in all)"
    );
    assert!(
        slowest < Duration::from_secs(1),
        "a status answer took {slowest:?}"
    );
    assert_eq!(sqlite_rows(&s.db, "orders"), 1, "nothing loaded twice");
}

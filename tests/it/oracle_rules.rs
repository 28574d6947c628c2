//! The Oracle sink's rules on a real database, with the real binary (when
//! `INGESTD_TEST_ORACLE_CONNECT`, `_USER` and `_PASSWORD` are set; ignored,
//! with the reason, otherwise). One test per rule, each on tables of its
//! own (dropped at its end, with its ledger rows):
//!
//! * ISO dates and decimals from a header-only file into DATE, NUMBER and
//!   TIMESTAMP load exactly while the client's NLS settings say
//!   `DD-MON-RR` and a decimal comma (the binds are typed; and what the
//!   database converts itself, a trigger here, sees the session's ISO
//!   settings);
//! * a trigger's RAISE_APPLICATION_ERROR (ORA-20001) rejects its row only;
//! * a deferred foreign key violation rejects its row (SET CONSTRAINTS ALL
//!   IMMEDIATE), not the job at COMMIT;
//! * an upsert into a table without a unique key on the key is refused with
//!   the `CREATE UNIQUE INDEX` to run, which then makes it work;
//! * CHAR keys match on a second load (no duplicate, no ORA-00001);
//! * a 10,000-character CLOB value and a 3,000-character VARCHAR2 value go
//!   through MERGE, twice;
//! * `schema = "OWNER"` loads into another schema, whose ledger is a synonym
//!   (`INGESTD_TEST_ORACLE_SCHEMA`);
//! * `check --connect` with a wrong port, a wrong service or an unreachable
//!   host is a configuration error within `connect_timeout`, naming the ORA
//!   code and the connect string.

use std::time::{Duration, Instant};

use crate::support::oracle::{OracleDb, other_schema};
use crate::support::rejects::{lines_and_codes, notes};
use crate::support::*;

trials![
    iso_dates_and_decimals_load_exactly_whatever_the_clients_nls_settings_say[Oracle],
    a_trigger_raising_an_application_error_rejects_only_its_row[Oracle],
    a_deferred_foreign_key_violation_rejects_its_row_not_the_job[Oracle],
    upsert_is_refused_without_a_unique_key_and_the_named_index_fixes_it[Oracle],
    char_keys_match_on_a_second_load[Oracle],
    long_texts_and_clobs_go_through_merge[Oracle],
    a_schema_of_another_owner_with_its_ledger_behind_a_synonym[Oracle, OracleSchema],
    wrong_port_service_or_host_is_a_configuration_error_within_connect_timeout[Oracle],
];

/// Writes `text` as `name` in the test folder; returns its path.
fn file(s: &Setup, name: &str, text: &str) -> std::path::PathBuf {
    let path = s.path(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `ingestd load` of `path` for job `job`, with `env` added.
fn load(s: &Setup, job: &str, path: &std::path::Path, env: &[(&str, &str)]) -> cli::Ran {
    let mut cmd = cli::ingestd(["load", "--config"])
        .arg(&s.config)
        .arg("--job")
        .arg(job)
        .arg(path);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd.run()
}

/// The client's NLS settings of the worst case: German territory (decimal
/// comma), two-digit years with month names. With NLS_LANG set, the Oracle
/// client sends NLS_DATE_FORMAT and the others at logon.
const HOSTILE_NLS: [(&str, &str); 4] = [
    ("NLS_LANG", "GERMAN_GERMANY.AL32UTF8"),
    ("NLS_DATE_FORMAT", "DD-MON-RR"),
    ("NLS_TIMESTAMP_FORMAT", "DD-MON-RR HH.MI.SSXFF AM"),
    ("NLS_NUMERIC_CHARACTERS", ",."),
];

fn iso_dates_and_decimals_load_exactly_whatever_the_clients_nls_settings_say() {
    let db = OracleDb::get();
    let t = OracleDb::unique("ingestd_nls");
    db.clean(&t, &t);
    db.exec(&format!(
        "CREATE TABLE \"{t}\" (\"id\" NUMBER(10) PRIMARY KEY, \"amount\" NUMBER(14,2), \
         \"day\" DATE, \"at\" TIMESTAMP(6), \"shown\" VARCHAR2(100 CHAR))"
    ));
    // What the database converts from text itself uses the session's NLS
    // settings: ingestd's ISO ones, not the client's.
    db.exec(&format!(
        "CREATE TRIGGER \"{t}_t\" BEFORE INSERT ON \"{t}\" FOR EACH ROW BEGIN \
         :new.\"shown\" := TO_CHAR(:new.\"day\") || '|' || TO_CHAR(:new.\"amount\"); END;"
    ));
    let s = db.header_setup(&t, &t, "workers = 1\n", "");
    let csv = file(
        &s,
        "nls.csv",
        "id,amount,day,at\n\
         1,12.50,2024-02-29,2024-02-29 10:11:12.345678\n\
         2,-0.05,1999-12-31,1999-12-31T23:59:59\n\
         3,1234567890.12,2000-01-01,2000-01-01 00:00\n",
    );
    let out = load(&s, &t, &csv, &HOSTILE_NLS).expect(0).stdout;
    assert!(out.contains("3 rows loaded, 0 rejected"), "{out}");
    let rows = db.rows(&format!(
        "SELECT \"id\", TO_CHAR(\"amount\", 'FM9999999999990.00', 'NLS_NUMERIC_CHARACTERS=''.,'''), \
         TO_CHAR(\"day\", 'YYYY-MM-DD HH24:MI:SS'), TO_CHAR(\"at\", 'YYYY-MM-DD HH24:MI:SS.FF6'), \
         \"shown\" FROM \"{t}\" ORDER BY \"id\""
    ));
    let want = [
        [
            "1",
            "12.50",
            "2024-02-29 00:00:00",
            "2024-02-29 10:11:12.345678",
            "2024-02-29 00:00:00|12.5",
        ],
        [
            "2",
            "-0.05",
            "1999-12-31 00:00:00",
            "1999-12-31 23:59:59.000000",
            "1999-12-31 00:00:00|-.05",
        ],
        [
            "3",
            "1234567890.12",
            "2000-01-01 00:00:00",
            "2000-01-01 00:00:00.000000",
            "2000-01-01 00:00:00|1234567890.12",
        ],
    ];
    assert_eq!(rows, want.map(|r| r.map(String::from).to_vec()).to_vec());
    db.clean(&t, &t);
}

fn a_trigger_raising_an_application_error_rejects_only_its_row() {
    let db = OracleDb::get();
    let t = OracleDb::unique("ingestd_trg");
    db.clean(&t, &t);
    db.exec(&format!(
        "CREATE TABLE \"{t}\" (\"id\" NUMBER(10) PRIMARY KEY, \"v\" VARCHAR2(20 CHAR))"
    ));
    db.exec(&format!(
        "CREATE TRIGGER \"{t}_t\" BEFORE INSERT ON \"{t}\" FOR EACH ROW BEGIN \
         IF :new.\"v\" = 'refuse me' THEN \
         RAISE_APPLICATION_ERROR(-20001, 'refused by the trigger'); END IF; END;"
    ));
    let s = db.header_setup(&t, &t, "workers = 1\n", "");
    let mut text = String::from("id,v\n");
    for i in 1..=100 {
        let v = if i == 50 { "refuse me" } else { "fine" };
        text.push_str(&format!("{i},{v}\n"));
    }
    let csv = file(&s, "trg.csv", &text);
    let out = load(&s, &t, &csv, &[]).expect(3).stdout;
    assert!(out.contains("99 rows loaded, 1 rejected"), "{out}");
    let notes = notes(&s.rejects.join("trg.csv.bad.jsonl"));
    assert_eq!(lines_and_codes(&notes), [(51, "ORA-20001".to_string())]);
    let reason = notes[0]["reason"].as_str().unwrap();
    assert!(reason.contains("refused by the trigger"), "{reason}");
    assert_eq!(
        db.count(&format!("SELECT count(*) FROM \"{t}\" WHERE \"id\" <> 50")),
        99
    );
    db.clean(&t, &t);
}

fn a_deferred_foreign_key_violation_rejects_its_row_not_the_job() {
    let db = OracleDb::get();
    let t = OracleDb::unique("ingestd_dfk");
    let parent = format!("{t}_p");
    db.clean(&t, &t);
    db.clean(&parent, &parent);
    db.exec(&format!(
        "CREATE TABLE \"{parent}\" (\"id\" NUMBER(10) PRIMARY KEY)"
    ));
    db.exec(&format!(
        "INSERT INTO \"{parent}\" SELECT level FROM dual CONNECT BY level <= 2"
    ));
    db.exec(&format!(
        "CREATE TABLE \"{t}\" (\"id\" NUMBER(10) PRIMARY KEY, \"pid\" NUMBER(10) \
         CONSTRAINT \"{t}_fk\" REFERENCES \"{parent}\" (\"id\") DEFERRABLE INITIALLY DEFERRED, \
         \"v\" NUMBER(10) CONSTRAINT \"{t}_ck\" CHECK (\"v\" >= 0) DEFERRABLE INITIALLY DEFERRED)"
    ));
    let s = db.header_setup(&t, &t, "workers = 1\n", "");
    let mut text = String::from("id,pid,v\n");
    for i in 1..=20 {
        let (pid, v) = match i {
            7 => (99, 1),
            12 => (1, -1),
            _ => (1 + i % 2, i),
        };
        text.push_str(&format!("{i},{pid},{v}\n"));
    }
    let csv = file(&s, "dfk.csv", &text);
    let out = load(&s, &t, &csv, &[]).expect(3).stdout;
    assert!(out.contains("18 rows loaded, 2 rejected"), "{out}");
    let notes = notes(&s.rejects.join("dfk.csv.bad.jsonl"));
    assert_eq!(
        lines_and_codes(&notes),
        [(8, "ORA-02291".to_string()), (13, "ORA-02290".to_string())]
    );
    assert_eq!(db.count(&format!("SELECT count(*) FROM \"{t}\"")), 18);
    db.clean(&t, &t);
    db.clean(&parent, &parent);
}

fn upsert_is_refused_without_a_unique_key_and_the_named_index_fixes_it() {
    let db = OracleDb::get();
    let t = OracleDb::unique("ingestd_nokey");
    db.clean(&t, &t);
    db.exec(&format!(
        "CREATE TABLE \"{t}\" (\"id\" NUMBER(10) NOT NULL, \"v\" VARCHAR2(20 CHAR))"
    ));
    let s = db.header_setup(&t, &t, "mode = \"upsert\"\nkey = [\"id\"]\n", "");
    let csv = file(&s, "a.csv", "id,v\n1,one\n2,two\n");
    let out = load(&s, &t, &csv, &[]).expect(78).output();
    let owner = db.own_schema();
    let index = format!("CREATE UNIQUE INDEX \"{t}_KEY\" ON \"{owner}\".\"{t}\" (\"id\")");
    for part in [
        "needs a primary key or unique index on exactly (id) (it has none)",
        "two workers' MERGEs of the same new key can both insert it",
        &index,
    ] {
        assert!(out.contains(part), "no {part:?} in:\n{out}");
    }
    assert_eq!(db.count(&format!("SELECT count(*) FROM \"{t}\"")), 0);
    // The statement named is the fix.
    db.exec(&index);
    load(&s, &t, &csv, &[]).expect(0);
    let again = file(&s, "b.csv", "id,v\n1,uno\n2,dos\n");
    load(&s, &t, &again, &[]).expect(0);
    let rows = db.rows(&format!(
        "SELECT \"id\", \"v\" FROM \"{t}\" ORDER BY \"id\""
    ));
    assert_eq!(
        rows,
        [["1", "uno"], ["2", "dos"]].map(|r| r.map(String::from).to_vec())
    );
    db.clean(&t, &t);
}

fn char_keys_match_on_a_second_load() {
    let db = OracleDb::get();
    let t = OracleDb::unique("ingestd_char");
    db.clean(&t, &t);
    db.exec(&format!(
        "CREATE TABLE \"{t}\" (\"code\" CHAR(5 CHAR) PRIMARY KEY, \"v\" VARCHAR2(20 CHAR))"
    ));
    let s = db.header_setup(&t, &t, "mode = \"upsert\"\nkey = [\"code\"]\n", "");
    let first = file(&s, "a.csv", "code,v\nAB,first\nABC,first\nABCDE,first\n");
    let out = load(&s, &t, &first, &[]).expect(0).stdout;
    assert!(out.contains("3 rows loaded, 0 rejected"), "{out}");
    // Stored blank-padded ('AB   '): a VARCHAR2 'AB' would never match it.
    let second = file(&s, "b.csv", "code,v\nAB,second\nABC,second\nABCDE,second\n");
    let out = load(&s, &t, &second, &[]).expect(0).stdout;
    assert!(out.contains("3 rows loaded, 0 rejected"), "{out}");
    let rows = db.rows(&format!(
        "SELECT RTRIM(\"code\"), \"v\" FROM \"{t}\" ORDER BY \"code\""
    ));
    assert_eq!(
        rows,
        [["AB", "second"], ["ABC", "second"], ["ABCDE", "second"]]
            .map(|r| r.map(String::from).to_vec())
    );
    db.clean(&t, &t);
}

fn long_texts_and_clobs_go_through_merge() {
    let db = OracleDb::get();
    let t = OracleDb::unique("ingestd_lob");
    db.clean(&t, &t);
    db.exec(&format!(
        "CREATE TABLE \"{t}\" (\"id\" NUMBER(10) PRIMARY KEY, \"doc\" CLOB, \
         \"note\" VARCHAR2(4000 BYTE))"
    ));
    let s = db.header_setup(&t, &t, "mode = \"upsert\"\nkey = [\"id\"]\n", "");
    let doc = |c: char| c.to_string().repeat(10_000);
    let note = |c: char| c.to_string().repeat(3_000);
    let csv = |c: char| format!("id,doc,note\n1,{},{}\n2,short,short\n", doc(c), note(c));
    for (name, c) in [("a.csv", 'a'), ("b.csv", 'b')] {
        let path = file(&s, name, &csv(c));
        let out = load(&s, &t, &path, &[]).expect(0).stdout;
        assert!(out.contains("2 rows loaded, 0 rejected"), "{out}");
    }
    let rows = db.rows(&format!(
        "SELECT dbms_lob.getlength(\"doc\"), \
         CASE WHEN dbms_lob.compare(\"doc\", RPAD(TO_CLOB('b'), 10000, 'b')) = 0 THEN 'same' END, \
         LENGTH(\"note\"), CASE WHEN \"note\" = RPAD('b', 3000, 'b') THEN 'same' END \
         FROM \"{t}\" WHERE \"id\" = 1"
    ));
    assert_eq!(
        rows,
        [["10000", "same", "3000", "same"].map(String::from).to_vec()]
    );
    assert_eq!(db.count(&format!("SELECT count(*) FROM \"{t}\"")), 2);
    db.clean(&t, &t);
}

fn a_schema_of_another_owner_with_its_ledger_behind_a_synonym() {
    let db = OracleDb::get();
    let other = other_schema().expect("checked by the harness");
    let own = db.own_schema();
    // The test user's own ledger, which the other schema's synonym names:
    // a first load in the own schema makes sure it exists.
    let mine = OracleDb::unique("ingestd_own");
    db.clean(&mine, &mine);
    let s = db.header_setup(&mine, &mine, "create_table = true\n", "");
    let one = file(&s, "one.csv", "id\n1\n");
    load(&s, &mine, &one, &[]).expect(0);
    db.clean(&mine, &mine);
    db.exec(&format!(
        "CREATE OR REPLACE SYNONYM \"{other}\".INGESTD_LEDGER FOR \"{own}\".INGESTD_LEDGER"
    ));

    let t = OracleDb::unique("ingestd_owner");
    let drop = || {
        let _ = db
            .conn()
            .execute(&format!("DROP TABLE \"{other}\".\"{t}\" PURGE"), &[]);
    };
    drop();
    let s = db.header_setup(
        &t,
        &t,
        "create_table = true\n",
        &format!("schema = {other:?}\n"),
    );
    let csv = file(&s, "o.csv", "id,v\n1,x\n2,y\n");
    let out = load(&s, &t, &csv, &[]).expect(0).stdout;
    assert!(out.contains("2 rows loaded, 0 rejected"), "{out}");
    assert_eq!(
        db.count(&format!("SELECT count(*) FROM \"{other}\".\"{t}\"")),
        2
    );
    // The rows' ledger row is in the ledger the synonym names; the other
    // schema got no ledger table of its own.
    assert_eq!(
        db.count(&format!(
            "SELECT nvl(sum(rows_loaded), 0) FROM \"{own}\".ingestd_ledger WHERE job = '{t}'"
        )),
        2
    );
    assert_eq!(
        db.count(&format!(
            "SELECT count(*) FROM all_tables WHERE owner = '{other}' AND table_name = 'INGESTD_LEDGER'"
        )),
        0
    );
    drop();
    db.clean(&t, &t);
}

/// A job whose sink connects to `connect` with a 3 s connect timeout.
fn probe(db: &OracleDb, connect: &str) -> (cli::Ran, Duration) {
    let t = OracleDb::unique("ingestd_conn");
    let s = db.header_setup(
        &t,
        &t,
        "create_table = true\n",
        "connect_timeout = \"3s\"\n",
    );
    s.edit(|text| {
        text.replace(
            &format!("connect = {:?}", db.connect),
            &format!("connect = {connect:?}"),
        )
    });
    let t0 = Instant::now();
    let ran = cli::ingestd(["check", "--connect", "--config"])
        .arg(&s.config)
        .deadline(Duration::from_secs(60))
        .run();
    (ran, t0.elapsed())
}

fn wrong_port_service_or_host_is_a_configuration_error_within_connect_timeout() {
    let db = OracleDb::get();
    // host:port/service, as the tests' README connect string is.
    let Some((host_port, _service)) = db.connect.split_once('/') else {
        panic!(
            "INGESTD_TEST_ORACLE_CONNECT is not host:port/service: {}",
            db.connect
        )
    };
    let (host, port) = host_port.rsplit_once(':').unwrap_or((host_port, "1521"));
    let closed = free_port();
    let cases = [
        // Refused at once on the database's own host; a remote firewall may
        // drop the packets instead (then the connect timeout).
        (
            format!("{host}:{closed}/FREEPDB1"),
            &["ORA-12541", "ORA-12170"][..],
        ),
        (format!("{host}:{port}/NO_SUCH_SERVICE"), &["ORA-12514"][..]),
        // A documentation address (RFC 5737): nothing answers there.
        (
            "192.0.2.1:1521/FREEPDB1".to_string(),
            &["ORA-12170", "ORA-12543", "ORA-12545"][..],
        ),
    ];
    for (connect, codes) in cases {
        let (ran, took) = probe(&db, &connect);
        let out = ran.output();
        // The probe's own exit code for a pool that cannot open; the class
        // is in the message.
        assert!(matches!(ran.code, Some(1 | 78)), "{connect}: {ran:?}");
        assert!(
            codes.iter().any(|c| out.contains(c)),
            "{connect}: none of {codes:?} in:\n{out}"
        );
        assert!(out.contains(&connect), "{connect} is not named:\n{out}");
        assert!(out.contains(&format!("{connect} as {}", db.user)), "{out}");
        assert!(
            !out.contains(&db.password),
            "the password was printed:\n{out}"
        );
        assert!(
            took < Duration::from_secs(3 + 10),
            "{connect}: {took:?}, more than connect_timeout and a few seconds:\n{out}"
        );
    }
}

//! An Oracle sink's configuration, with the real binary and no server:
//! `ingestd check` refuses a password written into `connect`
//! (`scott/tiger@db`) or `user` (`scott/tiger`) at its file:line:column with
//! exit 78, without repeating it, and the daemon does not start with it.

use crate::support::config::{self, orders_job};
use crate::support::*;

trials![check_refuses_a_password_in_connect_or_user_at_its_place];

/// A config whose only job writes to an Oracle sink with these two keys.
fn with_oracle_sink(s: &Setup, connect: &str, user: &str) {
    std::fs::create_dir_all(s.path("in-ora")).unwrap();
    s.edit(|text| {
        let body = format!(
            "kind = \"oracle\"\nconnect = {connect:?}\nuser = {user:?}\n\
             password_env = \"INGESTD_TEST_ORACLE_PASSWORD\""
        );
        text + &config::sink("ora", &body)
            + &orders_job("ora_orders", "ora", "ORDERS", "in-ora", "", "")
    });
}

/// The 1-based line of the first line of `text` starting with `prefix`.
fn line_of(text: &str, prefix: &str) -> usize {
    text.lines().position(|l| l.starts_with(prefix)).unwrap() + 1
}

fn check_refuses_a_password_in_connect_or_user_at_its_place() {
    let cases = [
        (
            "scott/tiger@dbhost:1521/FREEPDB1",
            "loader",
            "connect = ",
            11,
            "sinks.ora.connect: a password inside the connect string (user/password@...) is refused",
        ),
        (
            "dbhost:1521/FREEPDB1",
            "scott/tiger",
            "user = ",
            8,
            "sinks.ora.user: a password inside `user` (user/password) is refused",
        ),
    ];
    for (connect, user, key, column, message) in cases {
        let s = Setup::new("", "", "");
        with_oracle_sink(&s, connect, user);
        let text = std::fs::read_to_string(&s.config).unwrap();
        let line = line_of(&text, key);
        let ran = cli::check(&s.config).expect(78);
        let want = format!("{}:{line}:{column}: {message}", s.config.display());
        assert!(
            ran.stderr.contains(&want),
            "no {want:?} in:\n{}",
            ran.output()
        );
        assert!(
            ran.stderr
                .contains("password_file, password_env or password_credential"),
            "{}",
            ran.stderr
        );
        assert!(
            !ran.output().contains("tiger"),
            "the password was printed:\n{}",
            ran.output()
        );
        // Nor does the daemon start with it.
        let ran = cli::run_once(&s.config).expect(78);
        assert!(!ran.output().contains("tiger"), "{}", ran.output());
    }
}

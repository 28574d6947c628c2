//! The integration tests: one binary (`cargo test --test it`) driving the
//! real `ingestd` binary, real databases and real signals. One module per
//! area, each listing its tests with `trials!`; `support/` holds what they
//! share. libtest-mimic is the harness so that a test whose server, tool or
//! credentials this machine lacks is reported as ignored, with the reason,
//! instead of passing without having tested anything (see
//! `support::harness`).
//!
//! `cargo test --test it -- NAME` filters as libtest does; trials are named
//! `module::test`.

mod support;

mod big_archive;
mod chaos_pg;
mod chaos_sqlite;
mod check_sample;
mod column_options;
mod compressed;
mod conf_examples;
mod config_error_pg;
mod config_errors;
mod daemon_signals;
mod deadlines;
mod file_lifecycle;
mod fixed_width;
mod headers;
mod headers_pg;
mod hostile_landing;
mod jsonl;
mod jsonl_keys;
mod jsonl_suite;
mod ledger_cmd;
mod ledger_target;
mod long_rejects;
mod messages;
mod nats;
mod nats_auth;
mod nats_message;
mod nats_sqlite;
mod oracle_chaos;
mod oracle_client;
mod oracle_config;
mod oracle_rejects;
mod oracle_rules;
mod pg_sessions;
mod pg_sink;
mod pg_sink_faults;
mod pg_sink_rejects;
mod process_model;
mod quarantine;
mod regex_logs;
mod reject_failures;
mod rejects;
mod rejects_pg;
mod reload;
mod rest_files;
mod secrets;
mod stdin;
mod stray_quote;
mod systemd_unit;
mod tail;
mod tail_chaos;
mod tail_pg;
mod upsert_pg;
mod watch;

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    // The long tests first, so that the short ones fill the other thread
    // around them instead of leaving two long ones for the end.
    let trials = [
        nats::trials(),
        nats_auth::trials(),
        nats_message::trials(),
        nats_sqlite::trials(),
        stray_quote::trials(),
        chaos_pg::trials(),
        big_archive::trials(),
        daemon_signals::trials(),
        deadlines::trials(),
        chaos_sqlite::trials(),
        tail_chaos::trials(),
        tail::trials(),
        tail_pg::trials(),
        hostile_landing::trials(),
        long_rejects::trials(),
        messages::trials(),
        pg_sessions::trials(),
        pg_sink_rejects::trials(),
        pg_sink_faults::trials(),
        pg_sink::trials(),
        oracle_client::trials(),
        oracle_chaos::trials(),
        config_error_pg::trials(),
        config_errors::trials(),
        compressed::trials(),
        column_options::trials(),
        check_sample::trials(),
        conf_examples::trials(),
        reject_failures::trials(),
        rest_files::trials(),
        file_lifecycle::trials(),
        headers::trials(),
        regex_logs::trials(),
        fixed_width::trials(),
        headers_pg::trials(),
        jsonl::trials(),
        jsonl_keys::trials(),
        jsonl_suite::trials(),
        ledger_cmd::trials(),
        ledger_target::trials(),
        oracle_rejects::trials(),
        oracle_rules::trials(),
        oracle_config::trials(),
        process_model::trials(),
        quarantine::trials(),
        rejects::trials(),
        rejects_pg::trials(),
        reload::trials(),
        secrets::trials(),
        stdin::trials(),
        systemd_unit::trials(),
        upsert_pg::trials(),
        watch::trials(),
    ]
    .into_iter()
    .flatten()
    .collect();
    libtest_mimic::run(&args, trials).exit();
}

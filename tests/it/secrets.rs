//! A password given through `password_file` or a systemd credential never
//! shows: not in the daemon's log (supervisor and workers), not in `ingestd
//! status`, not in `check --connect`, not in the error of a job that cannot
//! log in, not in the configuration error for a password written inline.

use std::time::Duration;

use crate::support::config::{DAEMON, orders_job, sink};
use crate::support::pg::{Schema, server};
use crate::support::*;

trials![passwords_never_appear_in_logs_status_or_errors[Pg]];

const IN_FILE: &str = "pw-file-7Qz3xK9v-never-printed";
const IN_CREDENTIAL: &str = "pw-cred-Lm4Rt8Wq-never-printed";
const INLINE: &str = "pw-inline-Hy2Nc5Bd-never-printed";

/// `url` with another user name.
fn with_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.split_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{user}@{host}")
}

fn passwords_never_appear_in_logs_status_or_errors() {
    let schema = Schema::new("secrets");
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    std::fs::write(root.join("pw"), format!("{IN_FILE}\n")).unwrap();
    std::fs::create_dir_all(root.join("creds")).unwrap();
    std::fs::write(root.join("creds/db"), IN_CREDENTIAL).unwrap();
    for dir in ["in_good", "in_bad"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    let good = format!("{}password_file = \"pw\"", schema.sink_toml());
    let bad = format!(
        "kind = \"postgres\"\nurl = \"{}\"\nschema = \"{}\"\npassword_credential = \"db\"",
        with_user(&server().url, "ingestd_no_such_role"),
        schema.name
    );
    let cfg = root.join("ingestd.toml");
    let text = [
        DAEMON.to_string(),
        sink("good", &good),
        sink("bad", &bad),
        orders_job(
            "good",
            "good",
            "orders",
            "in_good",
            "create_table = true",
            "",
        ),
        orders_job("bad", "bad", "orders", "in_bad", "", ""),
    ]
    .concat();
    std::fs::write(&cfg, text).unwrap();
    let creds = root.join("creds");
    let env = [("CREDENTIALS_DIRECTORY", creds.to_str().unwrap())];
    let cfg_s = cfg.to_str().unwrap();
    let mut texts = Vec::new();

    let check = ingestd(["check", "--connect", "--config", cfg_s])
        .env(env[0].0, env[0].1)
        .run();
    texts.push(check.output());

    let mut daemon = Daemon::start_with_env(&["run", "--config", cfg_s], &root.join("d.log"), &env);
    drop_orders(&root.join("in_good"), "a.csv", 500, 1, 1);
    daemon.expect_log("file done", 1, Duration::from_secs(60));
    daemon.expect_log("job stopped", 1, Duration::from_secs(60));
    for args in [
        &["status", "--config", cfg_s][..],
        &["status", "--json", "--config", cfg_s],
    ] {
        texts.push(ingestd(args).run().expect(0).stdout);
    }
    daemon.stop(Duration::from_secs(30));
    texts.push(daemon.log_text());

    // A password written into the URL is refused, without repeating it.
    let inline = root.join("inline.toml");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("ingestd_no_such_role@", &format!("someone:{INLINE}@"));
    std::fs::write(&inline, text).unwrap();
    let refused = cli::check(&inline).expect(78).stderr;
    assert!(refused.contains("password"), "{refused}");
    texts.push(refused);

    // The texts searched do say what happened.
    let all = texts.join("\n");
    assert!(
        all.contains("ingestd_no_such_role"),
        "the failing job's cause is reported:\n{all}"
    );
    assert!(
        all.contains("\"loaded\": 500") || all.contains("loaded 500"),
        "{all}"
    );
    for secret in [IN_FILE, IN_CREDENTIAL, INLINE] {
        assert!(!all.contains(secret), "{secret} was printed:\n{all}");
    }
}

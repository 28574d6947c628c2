//! A password given through `password_file` or a systemd credential never
//! shows: not in the daemon's log (supervisor and workers), not in `ingestd
//! status`, not in `check --connect`, not in the error of a job that cannot
//! log in, not in the configuration error for a password written inline.

mod common;

use std::process::Command;
use std::time::Duration;

use common::pg::Schema;
use common::*;

const IN_FILE: &str = "pw-file-7Qz3xK9v-never-printed";
const IN_CREDENTIAL: &str = "pw-cred-Lm4Rt8Wq-never-printed";
const INLINE: &str = "pw-inline-Hy2Nc5Bd-never-printed";

/// `url` with another user name.
fn with_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.split_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{user}@{host}")
}

#[test]
fn passwords_never_appear_in_logs_status_or_errors() {
    let Some(schema) = Schema::new("secrets") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    std::fs::write(root.join("pw"), format!("{IN_FILE}\n")).unwrap();
    std::fs::create_dir_all(root.join("creds")).unwrap();
    std::fs::write(root.join("creds/db"), IN_CREDENTIAL).unwrap();
    for dir in ["in_good", "in_bad"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    let columns = |job: &str| ORDER_COLUMNS.replace("jobs.orders.", &format!("jobs.{job}."));
    let cfg = root.join("ingestd.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[daemon]
state_dir = "state"

[sinks.good]
{good}password_file = "pw"
[sinks.bad]
kind = "postgres"
url = "{bad_url}"
schema = "{schema}"
password_credential = "db"

[jobs.good]
sink = "good"
table = "orders"
create_table = true
[jobs.good.source]
kind = "dir"
path = "in_good"
settle = "100ms"
{good_cols}
[jobs.bad]
sink = "bad"
table = "orders"
[jobs.bad.source]
kind = "dir"
path = "in_bad"
settle = "100ms"
{bad_cols}"#,
            good = schema.sink_toml(),
            bad_url = with_user(&schema.url, "ingestd_no_such_role"),
            schema = schema.name,
            good_cols = columns("good"),
            bad_cols = columns("bad"),
        ),
    )
    .unwrap();
    let creds = root.join("creds");
    let env = [("CREDENTIALS_DIRECTORY", creds.to_str().unwrap())];
    let cfg_s = cfg.to_str().unwrap();
    let mut texts = Vec::new();

    let check = Command::new(bin())
        .args(["check", "--connect", "--config", cfg_s])
        .envs(env)
        .output()
        .unwrap();
    texts.push(String::from_utf8_lossy(&check.stdout).into_owned());
    texts.push(String::from_utf8_lossy(&check.stderr).into_owned());

    let mut daemon = Daemon::start_with_env(&["run", "--config", cfg_s], &root.join("d.log"), &env);
    drop_orders(&root.join("in_good"), "a.csv", 500, 1, 1);
    assert!(
        daemon.wait_log("file done", 1, Duration::from_secs(60)),
        "{}",
        daemon.log_text()
    );
    assert!(
        daemon.wait_log("job stopped", 1, Duration::from_secs(60)),
        "{}",
        daemon.log_text()
    );
    for args in [
        &["status", "--config", cfg_s][..],
        &["status", "--json", "--config", cfg_s],
    ] {
        let o = Command::new(bin()).args(args).output().unwrap();
        assert!(o.status.success());
        texts.push(String::from_utf8_lossy(&o.stdout).into_owned());
    }
    daemon.signal(15);
    assert_eq!(
        daemon.wait_exit(Duration::from_secs(30)),
        Some(0),
        "{}",
        daemon.log_text()
    );
    texts.push(daemon.log_text());

    // A password written into the URL is refused, without repeating it.
    let inline = root.join("inline.toml");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("ingestd_no_such_role@", &format!("someone:{INLINE}@"));
    std::fs::write(&inline, text).unwrap();
    let o = Command::new(bin())
        .args(["check", "--config"])
        .arg(&inline)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78));
    let refused = String::from_utf8_lossy(&o.stderr).into_owned();
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

//! `[sinks.NAME]` with `kind = "oracle"`: the keys of an Oracle sink, and the
//! refusal of those keys on other sink kinds.
//!
//! Owns the Oracle keys' rules (required keys, pool sizes, folders, the
//! schema, and the refusal of a password written into `user` or `connect`).
//! Must not load the Oracle Client library or look for it: `ingestd check`
//! reports a missing library as a warning (`sink::oracle::client`), because
//! installing it later must not need a configuration change.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::error::Problem;
use super::model::OracleSink;
use super::paths::{check_input_dir, resolve};
use super::pg_url::PASSWORD_PLACES;
use super::raw::{Int, RawSink};
use super::validate::{Numbers, duration};

/// Oracle's longest identifier, in bytes (12.2 and later).
const NAME_MAX_BYTES: usize = 128;

pub(crate) fn oracle(
    key: &str,
    span: Range<usize>,
    raw: RawSink,
    base: &Path,
) -> Result<OracleSink, Problem> {
    refuse_sqlite_keys(key, &raw)?;
    super::postgres::refuse_own_keys(key, &raw, "oracle")?;
    let required = |v: &Option<Spanned<String>>, name: &str, what: &str| match v {
        None => Err(Problem::new(
            key,
            Some(span.clone()),
            format!("missing key `{name}`: an oracle sink needs {what}"),
        )),
        Some(v) if v.get_ref().trim().is_empty() || v.get_ref().contains('\0') => {
            Err(Problem::new(
                format!("{key}.{name}"),
                Some(v.span()),
                format!("expected {what}"),
            ))
        }
        Some(v) => Ok(v.get_ref().clone()),
    };
    let connect = required(
        &raw.connect,
        "connect",
        "its connect string (Easy Connect like \"dbhost:1521/FREEPDB1\", (DESCRIPTION=...) or a TNS alias)",
    )?;
    if let Some(v) = &raw.connect {
        credentials_in_connect(v.get_ref())
            .map_err(|m| Problem::new(format!("{key}.connect"), Some(v.span()), m))?;
    }
    let user = required(&raw.user, "user", "the database user to log in as")?;
    if let Some(v) = &raw.user {
        credentials_in_user(v.get_ref())
            .map_err(|m| Problem::new(format!("{key}.user"), Some(v.span()), m))?;
    }
    let schema = match &raw.schema {
        Some(v) => Some(
            schema_name(v.get_ref())
                .map_err(|m| Problem::new(format!("{key}.schema"), Some(v.span()), m))?,
        ),
        None => None,
    };
    let connect_timeout = duration(raw.connect_timeout.as_ref(), Duration::from_secs(10));
    if connect_timeout < Duration::from_secs(1) {
        return Err(Problem::new(
            format!("{key}.connect_timeout"),
            raw.connect_timeout.as_ref().map(Spanned::span),
            "must be 1s or longer (Oracle counts it in whole seconds)",
        ));
    }
    let password = match super::secret::secret(key, &raw, base)? {
        Some(p) => p,
        None => {
            return Err(Problem::new(
                key,
                Some(span),
                "missing password: an oracle sink needs one of password_file, password_env \
                 or password_credential",
            ));
        }
    };
    // Not required to exist: installing the client later (into this folder)
    // must recover without a configuration change. `check` warns.
    let client_lib_dir = match &raw.client_lib_dir {
        Some(v) => Some(resolve(base, &format!("{key}.client_lib_dir"), v)?),
        None => None,
    };
    let config_dir = match &raw.config_dir {
        Some(v) => {
            let k = format!("{key}.config_dir");
            let dir = resolve(base, &k, v)?;
            check_input_dir(&dir).map_err(|m| Problem::new(&k, Some(v.span()), m))?;
            Some(dir)
        }
        None => None,
    };
    let at = Numbers(key);
    let pool_max: u32 = at.int("pool_max", &raw.pool_max, 1..=1024, 2)?;
    let pool_min: u32 = at.int("pool_min", &raw.pool_min, 0..=1024, 1)?;
    if pool_min > pool_max {
        return Err(Problem::new(
            format!("{key}.pool_min"),
            raw.pool_min.as_ref().map(Spanned::span),
            format!("pool_min ({pool_min}) must not be larger than pool_max ({pool_max})"),
        ));
    }
    Ok(OracleSink {
        connect,
        user,
        password,
        schema,
        connect_timeout,
        client_lib_dir,
        config_dir,
        pool_min,
        pool_max,
        pool_increment: at.int("pool_increment", &raw.pool_increment, 1..=1024, 1)?,
        stmt_cache_size: at.int("stmt_cache_size", &raw.stmt_cache_size, 0..=10_000, 20)?,
    })
}

/// A connect string must not carry a user or password: SQL*Plus's
/// `user/password@db` (or `user@db`) form. An `@` inside a
/// `(DESCRIPTION=...)` or after an Easy Connect parameter is left alone.
/// The message never repeats the value.
fn credentials_in_connect(connect: &str) -> Result<(), String> {
    let Some((before, _)) = connect.split_once('@') else {
        return Ok(());
    };
    if before.contains(['(', '?', '"', '=']) {
        return Ok(());
    }
    Err(match before.contains('/') {
        true => format!(
            "a password inside the connect string (user/password@...) is refused: write only \
             what follows the @ here, the user in `user`, and {PASSWORD_PLACES}"
        ),
        false => "a user inside the connect string (user@...) is refused: write only what \
                  follows the @ here, and the user in `user`"
            .to_string(),
    })
}

/// `user` is the user alone: `scott/tiger` holds a password, `scott@db` a
/// connect string. A proxy user (`loader[target]`) is fine.
fn credentials_in_user(user: &str) -> Result<(), String> {
    if user.contains('/') {
        return Err(format!(
            "a password inside `user` (user/password) is refused: write the user alone, and \
             {PASSWORD_PLACES}"
        ));
    }
    if user.contains('@') {
        return Err(
            "a connect string inside `user` (user@db) is refused: write the user \
                    alone, and the database in `connect`"
                .into(),
        );
    }
    Ok(())
}

/// The owner of the target tables and the ledger, used exactly as written
/// (quoted): Oracle stores unquoted names in upper case, so `SALES`, not
/// `sales`, is the schema created by `CREATE USER sales`.
fn schema_name(v: &str) -> Result<String, String> {
    if v.trim().is_empty() {
        return Err("empty schema name".into());
    }
    if v.contains(['"', '\0']) {
        return Err("a schema name cannot hold a double quote or a NUL character".into());
    }
    if v.len() > NAME_MAX_BYTES {
        return Err(format!(
            "a schema name is at most {NAME_MAX_BYTES} bytes, this one has {}",
            v.len()
        ));
    }
    Ok(v.to_string())
}

/// Refuses the oracle keys on another sink kind, so a typo'd kind does not
/// silently drop the user's settings.
pub(crate) fn refuse(key: &str, raw: &RawSink, kind: &str) -> Result<(), Problem> {
    let text = |v: &Option<Spanned<String>>| v.as_ref().map(Spanned::span);
    let int = |v: &Option<Spanned<Int>>| v.as_ref().map(Spanned::span);
    let present = [
        ("connect", text(&raw.connect)),
        ("user", text(&raw.user)),
        ("client_lib_dir", text(&raw.client_lib_dir)),
        ("config_dir", text(&raw.config_dir)),
        ("pool_min", int(&raw.pool_min)),
        ("pool_max", int(&raw.pool_max)),
        ("pool_increment", int(&raw.pool_increment)),
        ("stmt_cache_size", int(&raw.stmt_cache_size)),
    ];
    not_for(key, kind, "oracle", present)
}

/// The sqlite keys are refused on an oracle sink.
fn refuse_sqlite_keys(key: &str, raw: &RawSink) -> Result<(), Problem> {
    let present = [
        ("path", raw.path.as_ref().map(Spanned::span)),
        ("busy_timeout", raw.busy_timeout.as_ref().map(Spanned::span)),
        ("synchronous", raw.synchronous.as_ref().map(Spanned::span)),
    ];
    not_for(key, "oracle", "sqlite", present)
}

fn not_for<const N: usize>(
    key: &str,
    kind: &str,
    owner: &str,
    present: [(&str, Option<Range<usize>>); N],
) -> Result<(), Problem> {
    match present.into_iter().find(|(_, span)| span.is_some()) {
        Some((name, span)) => Err(Problem::new(
            format!("{key}.{name}"),
            span,
            format!("key `{name}` is not valid for sink kind `{kind}` (only for kind `{owner}`)"),
        )),
        None => Ok(()),
    }
}

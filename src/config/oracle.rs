//! `[sinks.NAME]` with `kind = "oracle"`: the keys of an Oracle sink, and the
//! refusal of those keys on other sink kinds.
//!
//! Owns the Oracle keys' rules (required keys, pool sizes, folders). Must not
//! load the Oracle Client library or look for it: `ingestd check` reports a
//! missing library as a warning (`sink::oracle::client`), because installing
//! it later must not need a configuration change.

use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use super::error::Problem;
use super::model::OracleSink;
use super::paths::{check_input_dir, resolve};
use super::raw::{Int, RawSink};
use super::validate::Numbers;

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
    let user = required(&raw.user, "user", "the database user to log in as")?;
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
        client_lib_dir,
        config_dir,
        pool_min,
        pool_max,
        pool_increment: at.int("pool_increment", &raw.pool_increment, 1..=1024, 1)?,
        stmt_cache_size: at.int("stmt_cache_size", &raw.stmt_cache_size, 0..=10_000, 20)?,
    })
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

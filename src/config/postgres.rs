//! `[sinks.NAME]` with `kind = "postgres"`: where the server is (a URL, or
//! host/port/dbname/user), the schema, TLS, sessions per worker, the connect
//! timeout and where the password is.
//!
//! Owns the URL grammar and every postgres key's rule, and the list of
//! postgres-only keys that other kinds refuse. Must not resolve host names,
//! connect, or read the password: `ingestd check` runs exactly this.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::error::Problem;
use super::model::{PgSslMode, PostgresSink};
use super::paths::resolve;
use super::pg_url::parse_url;
use super::raw::{Int, RawSink, SslMode};
use super::validate::duration;

/// Validates a postgres sink table (`key` is `sinks.NAME`, `span` the table's).
pub(crate) fn sink(
    key: &str,
    span: Range<usize>,
    raw: RawSink,
    base: &Path,
) -> Result<PostgresSink, Problem> {
    refuse_other_keys(key, &raw)?;
    let at = |name: &str, span: Range<usize>, m: String| {
        Problem::new(format!("{key}.{name}"), Some(span), m)
    };
    let from_url = match &raw.url {
        Some(url) => {
            let parsed = parse_url(url.get_ref()).map_err(|m| at("url", url.span(), m))?;
            not_with_url(key, &raw)?;
            Some((url.span(), parsed))
        }
        None => None,
    };
    let (url_span, url) = from_url.unwrap_or_default();
    // The URL's parts, else the keys; a missing one points at the URL or the table.
    let required = |name: &str, from_url: Option<String>, own: &Option<Spanned<String>>| {
        let (value, span, shown) = match (from_url, own) {
            (Some(v), _) => (v, url_span.clone(), "url"),
            (None, Some(v)) => (v.get_ref().clone(), v.span(), name),
            (None, None) if raw.url.is_some() => {
                return Err(at(
                    "url",
                    url_span.clone(),
                    format!(
                        "the URL names no {name}: postgres://USER@HOST:PORT/DBNAME, or ?{name}=..."
                    ),
                ));
            }
            (None, None) => {
                return Err(Problem::new(
                    key,
                    Some(span.clone()),
                    format!(
                        "missing key `{name}`: a postgres sink needs `url`, or `host`, `dbname` and `user`"
                    ),
                ));
            }
        };
        plain_text(&value)
            .map(|()| value)
            .map_err(|m| at(shown, span, format!("{name}: {m}")))
    };
    let host = required("host", url.host, &raw.host)?;
    check_host(&host).map_err(|m| match &raw.host {
        Some(h) => at("host", h.span(), m),
        None => at("url", url_span.clone(), m),
    })?;
    let dbname = required("dbname", url.dbname, &raw.dbname)?;
    let user = required("user", url.user, &raw.user)?;
    let port = match (url.port, &raw.port) {
        (Some(p), _) => p,
        (None, Some(p)) => port(p).map_err(|m| at("port", p.span(), m))?,
        (None, None) => 5432,
    };
    let schema = match &raw.schema {
        Some(s) => {
            let v = s.get_ref();
            if v.is_empty() {
                return Err(at("schema", s.span(), "empty schema name".into()));
            }
            plain_text(v).map_err(|m| at("schema", s.span(), m))?;
            v.clone()
        }
        None => "public".to_string(),
    };
    let sslmode = pick("sslmode", key, url.sslmode, &raw.sslmode)?;
    let sslmode = match sslmode {
        Some(m) => m,
        None => raw
            .sslmode
            .as_ref()
            .map_or(PgSslMode::Prefer, |m| model_mode(*m.get_ref())),
    };
    let socket = host.starts_with('/');
    let mode_span = raw.sslmode.as_ref().map_or(url_span.clone(), Spanned::span);
    if socket && !matches!(sslmode, PgSslMode::Disable | PgSslMode::Prefer) {
        return Err(at(
            "sslmode",
            mode_span,
            format!(
                "sslmode = {} needs a TCP host: TLS is not used over a unix socket ({host})",
                mode_name(sslmode)
            ),
        ));
    }
    let rootcert = pick("sslrootcert", key, url.sslrootcert, &raw.sslrootcert)?;
    let sslrootcert = match (rootcert, &raw.sslrootcert) {
        (Some(text), _) => Some((Spanned::new(url_span.clone(), text), "url")),
        (None, Some(v)) => Some((v.clone(), "sslrootcert")),
        (None, None) => None,
    };
    let sslrootcert = match sslrootcert {
        None => None,
        Some((v, name)) => {
            let k = format!("{key}.{name}");
            if matches!(sslmode, PgSslMode::Disable | PgSslMode::Prefer) {
                return Err(Problem::new(
                    k,
                    Some(v.span()),
                    format!(
                        "sslrootcert is only used with sslmode = require, verify-ca or verify-full (sslmode is {})",
                        mode_name(sslmode)
                    ),
                ));
            }
            let path = resolve(base, &k, &v)?;
            if !path.is_file() {
                return Err(Problem::new(
                    k,
                    Some(v.span()),
                    format!("no readable file at {}", path.display()),
                ));
            }
            Some(path)
        }
    };
    let pool_max = match &raw.pool_max {
        None => 1,
        Some(v) => match v.get_ref().0 {
            n @ 1..=16 => n as u32,
            n => {
                return Err(at(
                    "pool_max",
                    v.span(),
                    format!("must be between 1 and 16, got {n}"),
                ));
            }
        },
    };
    let timeout = pick(
        "connect_timeout",
        key,
        url.connect_timeout,
        &raw.connect_timeout,
    )?;
    let connect_timeout = match timeout {
        Some(t) => t,
        None => duration(raw.connect_timeout.as_ref(), Duration::from_secs(10)),
    };
    if connect_timeout.is_zero() {
        let span = raw.connect_timeout.as_ref().map_or(url_span, Spanned::span);
        return Err(at(
            "connect_timeout",
            span,
            "must be longer than 0s, like \"10s\"".into(),
        ));
    }
    Ok(PostgresSink {
        host,
        port,
        dbname,
        user,
        schema,
        password: super::secret::secret(key, &raw, base)?,
        sslmode,
        sslrootcert,
        pool_max,
        connect_timeout,
    })
}

/// A setting given by the URL or by its own key, never both.
fn pick<T, K>(
    name: &str,
    key: &str,
    from_url: Option<T>,
    own: &Option<Spanned<K>>,
) -> Result<Option<T>, Problem> {
    match (from_url, own) {
        (Some(_), Some(v)) => Err(Problem::new(
            format!("{key}.{name}"),
            Some(v.span()),
            format!("`{name}` is also given in `url`: keep one"),
        )),
        (v, _) => Ok(v),
    }
}

/// Refuses host/port/dbname/user next to `url`: which one wins would be a guess.
fn not_with_url(key: &str, raw: &RawSink) -> Result<(), Problem> {
    let spans = [
        ("host", raw.host.as_ref().map(Spanned::span)),
        ("port", raw.port.as_ref().map(Spanned::span)),
        ("dbname", raw.dbname.as_ref().map(Spanned::span)),
        ("user", raw.user.as_ref().map(Spanned::span)),
    ];
    match spans.into_iter().find(|(_, s)| s.is_some()) {
        Some((name, span)) => Err(Problem::new(
            format!("{key}.{name}"),
            span,
            format!(
                "`{name}` cannot be combined with `url`: give either url or host/port/dbname/user"
            ),
        )),
        None => Ok(()),
    }
}

fn port(v: &Spanned<Int>) -> Result<u16, String> {
    match u16::try_from(v.get_ref().0) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!(
            "must be between 1 and 65535, got {}",
            v.get_ref().0
        )),
    }
}

fn plain_text(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err("must not be empty".into());
    }
    if v.contains('\0') {
        return Err("invalid value: it contains a NUL character".into());
    }
    Ok(())
}

fn check_host(host: &str) -> Result<(), String> {
    if host.contains(',') {
        return Err(format!(
            "several hosts ({host}) are not supported: give one host"
        ));
    }
    if host.chars().any(char::is_whitespace) {
        return Err(format!("invalid host {host:?}: it contains white space"));
    }
    if host.contains('/') && !host.starts_with('/') {
        return Err(format!(
            "invalid host {host:?}: a unix socket folder must be an absolute path"
        ));
    }
    Ok(())
}

fn model_mode(m: SslMode) -> PgSslMode {
    match m {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require => PgSslMode::Require,
        SslMode::VerifyCa => PgSslMode::VerifyCa,
        SslMode::VerifyFull => PgSslMode::VerifyFull,
    }
}

fn mode_name(m: PgSslMode) -> &'static str {
    match m {
        PgSslMode::Disable => "disable",
        PgSslMode::Prefer => "prefer",
        PgSslMode::Require => "require",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::VerifyFull => "verify-full",
    }
}

/// Refuses the keys of a postgres sink on a sink of kind `kind` (sqlite),
/// so a typo'd kind does not silently drop settings. `user`, `pool_max`,
/// `schema` and `connect_timeout` belong to the oracle kind too.
pub(crate) fn refuse_keys(key: &str, raw: &RawSink, kind: &str) -> Result<(), Problem> {
    let shared = "`postgres` or `oracle`";
    refuse(
        key,
        [
            ("user", raw.user.as_ref().map(Spanned::span), shared),
            ("pool_max", raw.pool_max.as_ref().map(Spanned::span), shared),
            ("schema", raw.schema.as_ref().map(Spanned::span), shared),
            (
                "connect_timeout",
                raw.connect_timeout.as_ref().map(Spanned::span),
                shared,
            ),
        ],
        kind,
    )?;
    refuse_own_keys(key, raw, kind)
}

/// Refuses the keys only a postgres sink has (on an oracle sink, say).
pub(crate) fn refuse_own_keys(key: &str, raw: &RawSink, kind: &str) -> Result<(), Problem> {
    let pg = "`postgres`";
    let present = [
        ("url", raw.url.as_ref().map(Spanned::span), pg),
        ("host", raw.host.as_ref().map(Spanned::span), pg),
        ("port", raw.port.as_ref().map(Spanned::span), pg),
        ("dbname", raw.dbname.as_ref().map(Spanned::span), pg),
        ("sslmode", raw.sslmode.as_ref().map(Spanned::span), pg),
        (
            "sslrootcert",
            raw.sslrootcert.as_ref().map(Spanned::span),
            pg,
        ),
    ];
    refuse(key, present, kind)
}

/// The keys of the other kinds (sqlite, and oracle's own) on a postgres sink.
fn refuse_other_keys(key: &str, raw: &RawSink) -> Result<(), Problem> {
    let (sqlite, oracle) = ("`sqlite`", "`oracle`");
    let text = |v: &Option<Spanned<String>>| v.as_ref().map(Spanned::span);
    let int = |v: &Option<Spanned<Int>>| v.as_ref().map(Spanned::span);
    let present = [
        ("path", text(&raw.path), sqlite),
        (
            "busy_timeout",
            raw.busy_timeout.as_ref().map(Spanned::span),
            sqlite,
        ),
        (
            "synchronous",
            raw.synchronous.as_ref().map(Spanned::span),
            sqlite,
        ),
        ("connect", text(&raw.connect), oracle),
        ("client_lib_dir", text(&raw.client_lib_dir), oracle),
        ("config_dir", text(&raw.config_dir), oracle),
        ("pool_min", int(&raw.pool_min), oracle),
        ("pool_increment", int(&raw.pool_increment), oracle),
        ("stmt_cache_size", int(&raw.stmt_cache_size), oracle),
    ];
    refuse(key, present, "postgres")
}

fn refuse<const N: usize>(
    key: &str,
    present: [(&str, Option<Range<usize>>, &str); N],
    kind: &str,
) -> Result<(), Problem> {
    match present.into_iter().find(|(_, span, _)| span.is_some()) {
        Some((name, span, owner)) => Err(Problem::new(
            format!("{key}.{name}"),
            span,
            format!("key `{name}` is not valid for sink kind `{kind}` (only for kind {owner})"),
        )),
        None => Ok(()),
    }
}

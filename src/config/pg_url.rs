//! The `url` of a postgres sink: `postgres[ql]://[user@][host][:port][/dbname][?params]`
//! as libpq reads it, percent-decoded, with a password refused wherever it
//! appears.
//!
//! Owns the URL grammar only; which parts are required and how they combine
//! with the other keys is `postgres.rs`'.

use std::time::Duration;

use super::model::PgSslMode;
use super::units::parse_duration;

const SSLMODES: &str = "disable, prefer, require, verify-ca or verify-full";
const URL_PARAMS: &str = "host, port, dbname, user, sslmode, sslrootcert, connect_timeout";
pub(crate) const PASSWORD_PLACES: &str = "keep it in password_file, password_env or password_credential \
     (systemd LoadCredential=), so the configuration can be read without it";

/// What a URL says; `None` where it says nothing.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct UrlParts {
    pub user: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub dbname: Option<String>,
    pub sslmode: Option<PgSslMode>,
    pub sslrootcert: Option<String>,
    pub connect_timeout: Option<Duration>,
}

/// `postgres[ql]://[user@][host][:port][/dbname][?param=value&...]`, as
/// libpq reads it, percent-decoded. A password (in the user part or as a
/// parameter) is refused.
pub(crate) fn parse_url(url: &str) -> Result<UrlParts, String> {
    let rest = url
        .strip_prefix("postgresql://")
        .or_else(|| url.strip_prefix("postgres://"))
        .ok_or_else(|| format!("{url:?} is not a URL like postgres://USER@HOST:PORT/DBNAME"))?;
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut out = UrlParts::default();
    let hostport = match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => {
            if userinfo.contains(':') {
                return Err(format!(
                    "a password inside the URL is refused: {PASSWORD_PLACES}"
                ));
            }
            out.user = nonempty(decode(userinfo)?);
            hostport
        }
        None => authority,
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or("an IPv6 host opened with '[' is never closed")?;
        match after {
            "" => (h.to_string(), None),
            p => match p.strip_prefix(':') {
                Some(p) => (h.to_string(), Some(p)),
                None => return Err(format!("unexpected {after:?} after the IPv6 host")),
            },
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (decode(h)?, Some(p)),
            None => (decode(hostport)?, None),
        }
    };
    out.host = nonempty(host);
    if let Some(p) = port.filter(|p| !p.is_empty()) {
        out.port = Some(url_port(p)?);
    }
    out.dbname = nonempty(decode(path)?);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("URL parameter {pair:?} has no value (expected name=value)"))?;
        let (k, v) = (decode(k)?, decode(v)?);
        match k.as_str() {
            "host" => out.host = nonempty(v),
            "port" => out.port = Some(url_port(&v)?),
            "dbname" => out.dbname = nonempty(v),
            "user" => out.user = nonempty(v),
            "sslmode" => {
                let mode = match v.as_str() {
                    "disable" => PgSslMode::Disable,
                    "prefer" => PgSslMode::Prefer,
                    "require" => PgSslMode::Require,
                    "verify-ca" => PgSslMode::VerifyCa,
                    "verify-full" => PgSslMode::VerifyFull,
                    _ => return Err(format!("sslmode={v} is not one of {SSLMODES}")),
                };
                out.sslmode = Some(mode);
            }
            "sslrootcert" => out.sslrootcert = nonempty(v),
            "connect_timeout" => {
                let t = match v.parse::<u64>() {
                    Ok(secs) => Duration::from_secs(secs),
                    Err(_) => parse_duration(&v).map_err(|e| format!("connect_timeout: {e}"))?,
                };
                out.connect_timeout = Some(t);
            }
            "password" | "passfile" => {
                return Err(format!(
                    "a password inside the URL is refused: {PASSWORD_PLACES}"
                ));
            }
            "application_name" => {
                return Err(
                    "application_name is set by ingestd itself (ingestd/JOB/wN/PID), so sessions \
                     can be traced to their worker"
                        .into(),
                );
            }
            other => {
                return Err(format!(
                    "unknown URL parameter {other:?} (supported: {URL_PARAMS})"
                ));
            }
        }
    }
    Ok(out)
}

fn nonempty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn url_port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("invalid port {p:?}: expected 1..=65535")),
    }
}

/// Percent-decoding (`%2F` -> `/`); the result must be UTF-8.
fn decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("invalid percent-encoding in {s:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} does not decode to UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_as_libpq_reads_them() {
        let p = parse_url("postgres://loader@db.example:6432/ware%20house?sslmode=verify-full")
            .expect("valid");
        assert_eq!(
            p,
            UrlParts {
                user: Some("loader".into()),
                host: Some("db.example".into()),
                port: Some(6432),
                dbname: Some("ware house".into()),
                sslmode: Some(PgSslMode::VerifyFull),
                ..UrlParts::default()
            }
        );
        let p = parse_url("postgresql://u@[::1]:5433/d").expect("v6");
        assert_eq!((p.host.as_deref(), p.port), (Some("::1"), Some(5433)));
        let p = parse_url("postgres://u@%2Fvar%2Frun%2Fpostgresql/d").expect("socket");
        assert_eq!(p.host.as_deref(), Some("/var/run/postgresql"));
        let p = parse_url("postgres:///d?host=/tmp&user=me&connect_timeout=3").expect("query");
        assert_eq!(p.host.as_deref(), Some("/tmp"));
        assert_eq!(p.user.as_deref(), Some("me"));
        assert_eq!(p.connect_timeout, Some(Duration::from_secs(3)));
        let p = parse_url("postgres://u@h/d?connect_timeout=500ms").expect("duration");
        assert_eq!(p.connect_timeout, Some(Duration::from_millis(500)));
    }

    #[test]
    fn bad_urls() {
        let err = |u: &str| parse_url(u).expect_err(u);
        assert!(err("postgres://u:pw@h/d").contains("password inside the URL is refused"));
        assert!(err("postgres://u@h/d?password=x").contains("password_file"));
        assert!(err("mysql://u@h/d").contains("not a URL like postgres://"));
        assert!(err("postgres://u@h:0/d").contains("invalid port"));
        assert!(err("postgres://u@h:99999/d").contains("invalid port"));
        assert!(err("postgres://u@[::1/d").contains("never closed"));
        assert!(err("postgres://u@h/d?sslmode=allow").contains("verify-full"));
        assert!(err("postgres://u@h/d?options=-c").contains("unknown URL parameter"));
        assert!(err("postgres://u@h/d?application_name=x").contains("set by ingestd"));
        assert!(err("postgres://u@h/%zz").contains("percent-encoding"));
        assert!(err("postgres://u@h/d?sslmode").contains("has no value"));
    }
}

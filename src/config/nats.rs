//! `kind = "nats"` sources: the servers, the stream and its durable pull
//! consumer, credentials and TLS.
//!
//! Owns those keys' rules and defaults. Credentials are never inline: a
//! URL with a user or password in it is refused, tokens and passwords are
//! places (`*_file`, `*_env`) read when the supervisor connects. Must not
//! connect or read any secret: it only checks that named files exist.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::error::Problem;
use super::model::{MessageField, NatsAuth, NatsSource, NatsTls};
use super::paths::resolve;
use super::raw::RawSource;
use super::secret::Secret;
use super::validate::duration;
use crate::format::ColumnSpec;

pub(super) fn nats_source(
    key: &str,
    span: Range<usize>,
    raw: RawSource,
    base: &Path,
) -> Result<NatsSource, Problem> {
    let missing = |what: &str, why: &str| {
        Problem::new(
            key,
            Some(span.clone()),
            format!("missing key `{what}`: {why}"),
        )
    };
    let url = raw
        .url
        .as_ref()
        .ok_or_else(|| missing("url", "a nats source needs its server, as nats://host:4222"))?;
    let servers = urls(&format!("{key}.url"), url)?;
    let stream = raw
        .stream
        .as_ref()
        .ok_or_else(|| missing("stream", "the JetStream stream to read"))?;
    let consumer = raw.consumer.as_ref().ok_or_else(|| {
        missing(
            "consumer",
            "the durable consumer's name (every daemon of the job uses the same one)",
        )
    })?;
    let stream = name(&format!("{key}.stream"), stream)?;
    let consumer = name(&format!("{key}.consumer"), consumer)?;
    let filter_subject = match &raw.filter_subject {
        Some(s) => Some(subject(&format!("{key}.filter_subject"), s)?),
        None => None,
    };
    let ack_wait = duration(raw.ack_wait.as_ref(), Duration::from_secs(30));
    if ack_wait < Duration::from_secs(1) {
        return Err(Problem::new(
            format!("{key}.ack_wait"),
            raw.ack_wait.as_ref().map(Spanned::span),
            "must be at least 1s: in-progress acks are sent at a third of it",
        ));
    }
    let auth = auth(key, &raw, base)?;
    let tls = tls(key, &raw, base, &servers)?;
    Ok(NatsSource {
        servers,
        stream,
        consumer,
        filter_subject,
        ack_wait,
        auth,
        tls,
        message_fields: Vec::new(),
    })
}

/// What a nats source asks of its job: columns listed (a message has no
/// header to name them), a CSV format without a header, and a sink that
/// takes a stream's batches.
pub(super) fn fits_job(
    key: &str,
    span: Range<usize>,
    sink: &super::model::Sink,
    format: &crate::format::Format,
    columns: Option<&[ColumnSpec]>,
    src: &mut NatsSource,
) -> Result<(), Problem> {
    let refuse = |k: String, m: &str| Err(Problem::new(k, Some(span.clone()), m));
    if let super::model::Sink::Oracle(_) = sink {
        return refuse(
            format!("{key}.sink"),
            "a nats source loads into PostgreSQL or SQLite; Oracle does not take a stream's \
             batches yet",
        );
    }
    let Some(columns) = columns else {
        return refuse(
            format!("{key}.columns"),
            "a nats source needs [[columns]]: a message has no header to name them",
        );
    };
    if let crate::format::Format::Csv(c) = format
        && c.header
    {
        return refuse(
            format!("{key}.format.header"),
            "a nats source's CSV payloads have no header: set header = false",
        );
    }
    src.message_fields.clear();
    for (i, col) in columns.iter().enumerate() {
        let Some(from) = col.from.as_deref() else {
            continue;
        };
        match MessageField::parse(from) {
            None => {}
            Some(Ok(f)) => src.message_fields.push((i, f)),
            Some(Err(m)) => return refuse(format!("{key}.columns[{i}].from"), &m),
        }
    }
    if src.message_fields.len() > usize::from(u16::MAX) {
        return refuse(
            format!("{key}.columns"),
            "too many columns from the message",
        );
    }
    Ok(())
}

impl MessageField {
    /// What `from` names of the message, if it names the message at all
    /// (`header:` or `nats:`; anything else is a field of the payload).
    pub fn parse(from: &str) -> Option<Result<MessageField, String>> {
        if let Some(name) = from.strip_prefix("header:") {
            // NATS headers are text: a name without ':' or control bytes.
            let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
            return Some(match ok {
                true => Ok(MessageField::Header(name.to_string())),
                false => Err(format!(
                    "{from:?}: a header's name is printable ASCII without ':' or spaces, \
                     as header:Nats-Msg-Id"
                )),
            });
        }
        let what = from.strip_prefix("nats:")?;
        Some(match what {
            "subject" => Ok(MessageField::Subject),
            "sequence" => Ok(MessageField::Sequence),
            "published" => Ok(MessageField::Published),
            _ => Err(format!(
                "{from:?} is not a message field: nats:subject, nats:sequence, nats:published, \
                 or header:NAME"
            )),
        })
    }
}

fn urls(key: &str, v: &Spanned<super::raw::OneOrMany>) -> Result<Vec<String>, Problem> {
    let list = match v.get_ref() {
        super::raw::OneOrMany::One(s) => vec![s.clone()],
        super::raw::OneOrMany::Many(l) => l.clone(),
    };
    let bad = |m: String| Err(Problem::new(key, Some(v.span()), m));
    if list.is_empty() {
        return bad("an empty list: give at least one server, as nats://host:4222".into());
    }
    for u in &list {
        let Some((scheme, rest)) = u.split_once("://") else {
            return bad(format!(
                "{u:?} is not a NATS URL: expected nats://host:port (or tls://)"
            ));
        };
        if !matches!(scheme, "nats" | "tls") {
            return bad(format!(
                "{u:?}: the scheme must be nats:// or tls://, not {scheme}://"
            ));
        }
        if rest.contains('@') {
            return bad(format!(
                "{u:?} holds credentials: they are never written in the configuration; use \
                 creds_file, nkey_file, token_file/token_env or user with \
                 password_file/password_env"
            ));
        }
        let host = rest.trim_end_matches('/');
        if host.is_empty() || host.contains(['/', '?', ' ']) {
            return bad(format!(
                "{u:?}: expected nats://host:port, nothing after it"
            ));
        }
    }
    Ok(list)
}

/// A stream or consumer name: JetStream refuses these characters.
fn name(key: &str, v: &Spanned<String>) -> Result<String, Problem> {
    let s = v.get_ref();
    let bad = s.is_empty()
        || s.len() > 255
        || s.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\')
        });
    if bad {
        return Err(Problem::new(
            key,
            Some(v.span()),
            format!(
                "{s:?} is not a JetStream name: 1 to 255 characters, without spaces, '.', '*', \
                 '>', '/' or '\\'"
            ),
        ));
    }
    Ok(s.clone())
}

/// A subject, wildcards allowed: tokens separated by '.', `*` a whole
/// token, `>` only the last.
fn subject(key: &str, v: &Spanned<String>) -> Result<String, Problem> {
    let s = v.get_ref();
    let tokens: Vec<&str> = s.split('.').collect();
    let ok = !s.is_empty()
        && tokens.iter().enumerate().all(|(i, t)| {
            !t.is_empty()
                && !t.chars().any(|c| c.is_whitespace() || c.is_control())
                && (!t.contains('*') || *t == "*")
                && (!t.contains('>') || (*t == ">" && i == tokens.len() - 1))
        });
    if !ok {
        return Err(Problem::new(
            key,
            Some(v.span()),
            format!(
                "{s:?} is not a subject: tokens separated by '.', none empty, no spaces; '*' \
                 stands for one whole token, '>' only for the last"
            ),
        ));
    }
    Ok(s.clone())
}

fn file(key: &str, v: &Spanned<String>, base: &Path) -> Result<PathBuf, Problem> {
    let path = resolve(base, key, v)?;
    if !path.is_file() {
        return Err(Problem::new(
            key,
            Some(v.span()),
            format!("no readable file at {}", path.display()),
        ));
    }
    Ok(path)
}

/// A token or password: a file or an environment variable.
fn secret(
    key: &str,
    (file_key, file_v): (&str, &Option<Spanned<String>>),
    (env_key, env_v): (&str, &Option<Spanned<String>>),
    base: &Path,
) -> Result<Option<Secret>, Problem> {
    match (file_v, env_v) {
        (Some(_), Some(e)) => Err(Problem::new(
            format!("{key}.{env_key}"),
            Some(e.span()),
            format!("give it in one place only: {file_key} or {env_key}"),
        )),
        (Some(f), None) => Ok(Some(Secret::File(file(
            &format!("{key}.{file_key}"),
            f,
            base,
        )?))),
        (None, Some(e)) if e.get_ref().is_empty() || e.get_ref().contains(['=', '\0']) => {
            Err(Problem::new(
                format!("{key}.{env_key}"),
                Some(e.span()),
                "expected the name of an environment variable",
            ))
        }
        (None, Some(e)) => Ok(Some(Secret::Env(e.get_ref().clone()))),
        (None, None) => Ok(None),
    }
}

fn auth(key: &str, raw: &RawSource, base: &Path) -> Result<NatsAuth, Problem> {
    let token = secret(
        key,
        ("token_file", &raw.token_file),
        ("token_env", &raw.token_env),
        base,
    )?;
    let password = secret(
        key,
        ("password_file", &raw.password_file),
        ("password_env", &raw.password_env),
        base,
    )?;
    let mut ways: Vec<(&str, Range<usize>, NatsAuth)> = Vec::new();
    if let Some(c) = &raw.creds_file {
        let path = file(&format!("{key}.creds_file"), c, base)?;
        ways.push(("creds_file", c.span(), NatsAuth::Creds(path)));
    }
    if let Some(n) = &raw.nkey_file {
        let path = file(&format!("{key}.nkey_file"), n, base)?;
        ways.push(("nkey_file", n.span(), NatsAuth::Nkey(path)));
    }
    if let Some(t) = token {
        let span = raw.token_file.as_ref().or(raw.token_env.as_ref());
        ways.push((
            "token",
            span.map(Spanned::span).unwrap_or_default(),
            NatsAuth::Token(t),
        ));
    }
    match (&raw.user, password) {
        (Some(u), Some(password)) => ways.push((
            "user",
            u.span(),
            NatsAuth::UserPassword {
                user: u.get_ref().clone(),
                password,
            },
        )),
        (Some(u), None) => {
            return Err(Problem::new(
                format!("{key}.user"),
                Some(u.span()),
                "a user needs its password: password_file or password_env",
            ));
        }
        (None, Some(_)) => {
            let span = raw.password_file.as_ref().or(raw.password_env.as_ref());
            return Err(Problem::new(
                key,
                span.map(Spanned::span),
                "a password needs its `user`",
            ));
        }
        (None, None) => {}
    }
    match ways.len() {
        0 => Ok(NatsAuth::None),
        1 => Ok(ways.pop().expect("one").2),
        _ => Err(Problem::new(
            key,
            Some(ways[1].1.clone()),
            format!(
                "give one way to authenticate, not {} and {}",
                ways[0].0, ways[1].0
            ),
        )),
    }
}

fn tls(key: &str, raw: &RawSource, base: &Path, servers: &[String]) -> Result<NatsTls, Problem> {
    let ca = match &raw.tls_ca_file {
        Some(v) => Some(file(&format!("{key}.tls_ca_file"), v, base)?),
        None => None,
    };
    let client = match (&raw.tls_cert_file, &raw.tls_key_file) {
        (Some(c), Some(k)) => Some((
            file(&format!("{key}.tls_cert_file"), c, base)?,
            file(&format!("{key}.tls_key_file"), k, base)?,
        )),
        (None, None) => None,
        (Some(v), None) | (None, Some(v)) => {
            return Err(Problem::new(
                key,
                Some(v.span()),
                "a client certificate needs both tls_cert_file and tls_key_file",
            ));
        }
    };
    let by_url = servers.iter().any(|u| u.starts_with("tls://"));
    let required = raw.tls_required.as_ref().map(|v| *v.get_ref());
    Ok(NatsTls {
        required: required.unwrap_or(by_url || ca.is_some() || client.is_some()),
        ca,
        client,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(s: &str) -> Spanned<String> {
        Spanned::new(0..1, s.to_string())
    }

    #[test]
    fn names_and_subjects() {
        assert!(name("k", &sp("EVENTS")).is_ok());
        for bad in ["", "a.b", "a b", "a*", "a>", "a/b"] {
            assert!(name("k", &sp(bad)).is_err(), "{bad:?}");
        }
        for good in ["events", "events.>", "a.*.c", ">", "*"] {
            assert!(subject("k", &sp(good)).is_ok(), "{good:?}");
        }
        for bad in ["", "a..b", "a.>.c", "a.b*", "a b", ".a"] {
            assert!(subject("k", &sp(bad)).is_err(), "{bad:?}");
        }
    }
}

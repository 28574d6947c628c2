//! Reaching the stream: the connection's options (name, credentials, TLS)
//! and the durable consumer, bound or created, with the stream's ledger key.
//!
//! Owns connecting and binding. Must not read messages.

use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use async_nats::{Client, ConnectOptions};
use tracing::warn;

use super::failed;
use crate::config::{NatsAuth, NatsSource};
use crate::supervisor::intake::cutter::{CutError, Run};

/// Connects to the servers. A server that refuses the credentials (or a
/// TLS setup that cannot work) is a configuration error of the job
/// (`Refused`); a server that cannot be reached yet is waited for, the
/// client retrying by itself.
pub(super) async fn connect(cfg: &NatsSource, job: &str) -> Result<Client, CutError> {
    use async_nats::ConnectErrorKind as Kind;
    let servers = cfg.servers.join(", ");
    let e = match options(cfg, job).await?.connect(cfg.servers.clone()).await {
        Ok(client) => return Ok(client),
        Err(e) => e,
    };
    let what = match cfg.auth {
        NatsAuth::None => {
            "the server asks for credentials: set creds_file, nkey_file, token_file/token_env or user with password_file/password_env"
        }
        _ => "check the credentials the source names",
    };
    match e.kind() {
        Kind::AuthorizationViolation | Kind::Authentication => {
            return Err(CutError::Refused {
                reason: format!(
                    "the NATS server ({servers}) refused this job's credentials ({e}): {what}"
                ),
            });
        }
        Kind::Tls | Kind::ServerParse => {
            return Err(CutError::Refused {
                reason: format!(
                    "connecting to the NATS server ({servers}): {e}: check the tls_* keys and the URLs"
                ),
            });
        }
        _ => warn!(job = %job, servers = %servers, "cannot reach the NATS server ({e}); retrying"),
    }
    (options(cfg, job).await?.retry_on_initial_connect())
        .connect(cfg.servers.clone())
        .await
        .map_err(|e| failed(format!("connecting to {servers}: {e}")))
}

/// The connection's options: its name, credentials and TLS.
async fn options(cfg: &NatsSource, job: &str) -> Result<ConnectOptions, CutError> {
    let mut o = ConnectOptions::new()
        .name(format!("ingestd/{job}/{}", std::process::id()))
        .connection_timeout(Duration::from_secs(5));
    let read = |what: &str, r: std::io::Result<String>| {
        r.map(|s| s.trim().to_string())
            .map_err(|e| failed(format!("reading the NATS {what}: {e}")))
    };
    o = match &cfg.auth {
        NatsAuth::None => o,
        NatsAuth::Creds(p) => o
            .credentials_file(p)
            .await
            .map_err(|e| failed(format!("reading the NATS credentials {}: {e}", p.display())))?,
        NatsAuth::Nkey(p) => o.nkey(read("nkey seed", std::fs::read_to_string(p))?),
        NatsAuth::Token(s) => o.token(s.read().map_err(|e| failed(e.to_string()))?),
        NatsAuth::UserPassword { user, password } => o.user_and_password(
            user.clone(),
            password.read().map_err(|e| failed(e.to_string()))?,
        ),
    };
    o = o.require_tls(cfg.tls.required);
    if let Some(ca) = &cfg.tls.ca {
        o = o.add_root_certificates(ca.clone());
    }
    if let Some((cert, key)) = &cfg.tls.client {
        o = o.add_client_certificate(cert.clone(), key.clone());
    }
    Ok(o)
}

/// The stream's consumer, created when missing, and the ledger key of the
/// stream. Waits (logging) while the server cannot be reached.
pub(super) async fn bind(
    js: &jetstream::Context,
    cfg: &NatsSource,
    run: &Run<'_>,
) -> Result<(jetstream::consumer::Consumer<pull::Config>, String), CutError> {
    let job = &run.cutter.job.name;
    let mut logged = false;
    loop {
        if run.task.stop.load(Ordering::Relaxed) {
            return Err(CutError::Stopped);
        }
        let attempt = async {
            let mut stream = js
                .get_stream(&cfg.stream)
                .await
                .map_err(|e| format!("finding stream {:?}: {e}", cfg.stream))?;
            let created = stream
                .info()
                .await
                .map_err(|e| format!("reading stream {:?}: {e}", cfg.stream))?
                .created
                .timestamp_nanos_opt()
                .unwrap_or_default();
            let consumer = stream
                .get_or_create_consumer(
                    &cfg.consumer,
                    pull::Config {
                        durable_name: Some(cfg.consumer.clone()),
                        filter_subject: cfg.filter_subject.clone().unwrap_or_default(),
                        ack_wait: cfg.ack_wait,
                        ack_policy: jetstream::consumer::AckPolicy::Explicit,
                        max_deliver: -1,
                        max_ack_pending: -1,
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| format!("binding consumer {:?}: {e}", cfg.consumer))?;
            Ok::<_, String>((consumer, format!("nats:{}:{created}", cfg.stream)))
        };
        match tokio::time::timeout(Duration::from_secs(10), attempt).await {
            Ok(Ok(found)) => return Ok(found),
            Ok(Err(e)) if !logged => {
                warn!(job = %job, "{e}; retrying every 2s");
                logged = true;
            }
            Err(_) if !logged => {
                warn!(job = %job, servers = %cfg.servers.join(", "), "no answer from the NATS server; retrying every 2s");
                logged = true;
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

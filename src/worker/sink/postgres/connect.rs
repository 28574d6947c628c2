//! Opening one session: the driver's settings from the sink's configuration
//! (password read now, in the worker), TLS as `sslmode` asks, and the
//! session's own settings (`application_name`, `search_path`).
//!
//! Owns TLS verification (rustls with ring: no system library) and the
//! session tag. Must not run anything but session setup: tables and the
//! ledger are `table.rs`' and `ledger.rs`'.

use std::sync::Arc;

use postgres::Client;
use postgres::config::SslMode;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::classify::Fail;
use crate::config::{PgSslMode, PostgresSink};
use crate::protocol::ErrorClass;
use crate::worker::sink::sql::quote_ident;
use crate::worker::sink::{Session, SinkError};

/// PostgreSQL keeps at most 63 bytes of `application_name`.
const APP_NAME_MAX: usize = 63;

/// `ingestd/<job>/w<worker>/<pid>`, the job shortened if the whole would
/// not fit, so the pid (what the tag is for) is never cut off.
pub fn application_name(s: &Session) -> String {
    let tail = format!("/w{}/{}", s.worker, s.pid);
    let room = APP_NAME_MAX.saturating_sub("ingestd/".len() + tail.len());
    let mut job = s.job.as_str();
    while job.len() > room {
        let mut cut = room.min(job.len());
        while !job.is_char_boundary(cut) {
            cut -= 1;
        }
        job = &job[..cut];
    }
    format!("ingestd/{job}{tail}")
}

/// The TLS connector for `cfg`, built once per worker (it reads the CA file).
pub fn tls(cfg: &PostgresSink) -> Result<MakeRustlsConnect, SinkError> {
    let open_err = |detail: String| SinkError::Open {
        class: ErrorClass::Config,
        detail,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verify = match (cfg.sslmode, &cfg.sslrootcert) {
        (PgSslMode::Disable | PgSslMode::Prefer, _) | (PgSslMode::Require, None) => None,
        (PgSslMode::Require | PgSslMode::VerifyCa, _) => Some(false),
        (PgSslMode::VerifyFull, _) => Some(true),
    };
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        None => Arc::new(Unverified(provider.clone())),
        Some(check_name) => {
            let roots = roots(cfg).map_err(open_err)?;
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| open_err(format!("the TLS certificate verifier: {e}")))?;
            Arc::new(Verified { webpki, check_name })
        }
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| open_err(format!("TLS protocol versions: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// The trust anchors: `sslrootcert`, else the system's store.
fn roots(cfg: &PostgresSink) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match &cfg.sslrootcert {
        Some(path) => {
            let shown = path.display();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("sslrootcert {shown}: {e}"))?;
            for c in certs {
                let c = c.map_err(|e| format!("sslrootcert {shown}: {e}"))?;
                roots
                    .add(c)
                    .map_err(|e| format!("sslrootcert {shown}: {e}"))?;
            }
            if roots.is_empty() {
                return Err(format!("sslrootcert {shown} holds no PEM certificate"));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(format!(
                    "sslmode = verify-ca/verify-full without sslrootcert uses the system's CA \
                     certificates, and none were found ({} errors); set sslrootcert",
                    found.errors.len()
                ));
            }
        }
    }
    Ok(roots)
}

/// `prefer` / `require` without a CA: encrypted, not authenticated (libpq's
/// meaning of these modes). Handshake signatures are still checked.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca` (chain only) and `verify-full` (chain and host name).
#[derive(Debug)]
struct Verified {
    webpki: Arc<WebPkiServerVerifier>,
    check_name: bool,
}

impl ServerCertVerifier for Verified {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Where this sink connects, for messages: `loader@db:5432/warehouse`.
pub fn shown(cfg: &PostgresSink) -> String {
    format!("{}@{}:{}/{}", cfg.user, cfg.host, cfg.port, cfg.dbname)
}

/// Opens one session and sets it up; the error says which step failed.
pub fn connect(
    cfg: &PostgresSink,
    session: &Session,
    tls: &MakeRustlsConnect,
) -> Result<Client, SinkError> {
    let mut pg = postgres::Config::new();
    pg.host(&cfg.host)
        .port(cfg.port)
        .user(&cfg.user)
        .dbname(&cfg.dbname)
        .application_name(&application_name(session))
        .connect_timeout(cfg.connect_timeout)
        // A server that vanished without a FIN (host down, cable cut) is
        // noticed in about a minute instead of the kernel's two hours.
        .keepalives(true)
        .keepalives_idle(std::time::Duration::from_secs(30))
        .keepalives_interval(std::time::Duration::from_secs(10))
        .keepalives_retries(3)
        .ssl_mode(match cfg.sslmode {
            PgSslMode::Disable => SslMode::Disable,
            _ if cfg.host.starts_with('/') => SslMode::Disable,
            PgSslMode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        })
        .notice_callback(|n| tracing::debug!("server notice: {}", n.message()));
    if let Some(secret) = &cfg.password {
        // Read at every connect, so a rotated password file is picked up.
        let pw = secret.read().map_err(|e| SinkError::Open {
            class: ErrorClass::Config,
            detail: format!("{}: {e}", shown(cfg)),
        })?;
        pg.password(pw);
    }
    let open_err = |what: &str, f: Fail| SinkError::Open {
        class: f.class,
        detail: format!("{}: {what}: {}", shown(cfg), explain(cfg, &f)),
    };
    let mut client = pg
        .connect(tls.clone())
        .map_err(|e| open_err("connecting", Fail::from_pg(&e)))?;
    // The target tables and the ledger are found in the schema; notices
    // (CREATE ... IF NOT EXISTS skipping) are not worth a round trip each.
    let setup = format!(
        "SET search_path TO {}; SET client_min_messages TO warning",
        quote_ident(&cfg.schema)
    );
    client
        .batch_execute(&setup)
        .map_err(|e| open_err("setting up the session", Fail::from_pg(&e)))?;
    Ok(client)
}

/// The server's message, with what an operator should check for the
/// configuration-class failures of a connect.
fn explain(cfg: &PostgresSink, f: &Fail) -> String {
    let hint = match f.code.as_str() {
        "28P01" => format!(
            " (check the password in {})",
            cfg.password
                .as_ref()
                .map_or("the server's pg_hba.conf: none is configured".into(), |s| s
                    .describe())
        ),
        "28000" => format!(
            " (role {:?}, database {:?}: check the role and pg_hba.conf)",
            cfg.user, cfg.dbname
        ),
        "3D000" => format!(" (database {:?})", cfg.dbname),
        _ if f.class == ErrorClass::Config && f.code.is_empty() => {
            " (TLS: check sslmode and sslrootcert)".to_string()
        }
        _ => String::new(),
    };
    format!("{}{hint}", f.describe())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_names_keep_the_pid() {
        let s = |job: &str| Session {
            job: job.into(),
            worker: 2,
            pid: 123456,
        };
        assert_eq!(application_name(&s("orders")), "ingestd/orders/w2/123456");
        let long = application_name(&s(&"x".repeat(100)));
        assert_eq!(long.len(), APP_NAME_MAX);
        assert!(long.ends_with("/w2/123456"), "{long}");
    }
}

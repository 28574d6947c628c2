//! Connecting a worker: loading the Oracle Client library (once per
//! process), the connect string the pool is given (the configured one, with
//! `connect_timeout` added where the string says nothing about it), and
//! building the pool, whose failures are classified as connect-time ones
//! (`classify_at_connect`: a wrong service, port or host is configuration).
//!
//! Owns these steps only. Must not take sessions, run SQL or keep state: the
//! target (`mod.rs`) does.

use std::time::Duration;

use oracle::InitParams;
use oracle::pool::{Pool, PoolBuilder};

use super::classify::{classify_at_connect, fail_as};
use crate::config::OracleSink;
use crate::protocol::ErrorClass;
use crate::worker::sink::SinkError;

/// Loads the Oracle Client library (once per process: ODPI-C keeps one
/// global environment). Any failure here is about the library itself.
pub fn init_client(cfg: &OracleSink) -> Result<(), SinkError> {
    let lib_dir = cfg.client_lib_dir.as_deref();
    let failed = |e: oracle::Error| {
        let what = match e.dpi_code() {
            Some(1047) => "the Oracle Client library (libclntsh.so) cannot be found or loaded",
            Some(1050 | 1072) => "the Oracle Client library found is not a version ODPI-C can use",
            _ => "the Oracle Client library cannot be initialised",
        };
        SinkError::ClientLibrary {
            detail: format!(
                "{what}: {e}. To fix: {}",
                crate::oracle_client::how_to_fix(lib_dir)
            ),
        }
    };
    let mut params = InitParams::new();
    params
        .default_driver_name(format!("ingestd : {}", env!("CARGO_PKG_VERSION")))
        .map_err(failed)?;
    if let Some(dir) = lib_dir {
        params.oracle_client_lib_dir(dir).map_err(failed)?;
    }
    if let Some(dir) = &cfg.config_dir {
        params.oracle_client_config_dir(dir).map_err(failed)?;
    }
    params.init().map(drop).map_err(failed)
}

/// The error of a connect-time step, naming the connect string and user
/// (never the password: the configuration refuses one in either).
pub fn open_err(cfg: &OracleSink) -> impl Fn(ErrorClass, String) -> SinkError + '_ {
    move |class, detail| SinkError::Open {
        class,
        detail: format!("{} as {}: {detail}", cfg.connect, cfg.user),
    }
}

/// Builds the worker's pool (which opens `pool_min` sessions at once).
pub fn build_pool(cfg: &OracleSink, password: &str) -> Result<Pool, SinkError> {
    let connect = with_timeout(&cfg.connect, cfg.connect_timeout);
    PoolBuilder::new(cfg.user.as_str(), password, connect.as_str())
        .min_connections(cfg.pool_min)
        .max_connections(cfg.pool_max)
        .connection_increment(cfg.pool_increment)
        .stmt_cache_size(cfg.stmt_cache_size)
        .build()
        .map_err(|e| fail_as(&e, classify_at_connect(&e), open_err(cfg)))
}

/// `connect` with a connect timeout of `timeout` (whole seconds, at least
/// one) where it sets none: an Easy Connect string gets
/// `?connect_timeout=N` (19c's Easy Connect Plus), each `(DESCRIPTION=` of
/// a descriptor gets `(CONNECT_TIMEOUT=N)`. A TNS alias is left alone: its
/// timeout is `tnsnames.ora`'s or `sqlnet.ora`'s
/// (`SQLNET.OUTBOUND_CONNECT_TIMEOUT`). Without one, a host that drops
/// packets holds a connect for a minute or more.
pub fn with_timeout(connect: &str, timeout: Duration) -> String {
    let secs = timeout.as_secs_f64().ceil().max(1.0) as u64;
    if connect.to_ascii_uppercase().contains("CONNECT_TIMEOUT") {
        return connect.to_string();
    }
    if connect.contains('(') {
        return in_descriptions(connect, &format!("(CONNECT_TIMEOUT={secs})"));
    }
    if is_alias(connect) {
        return connect.to_string();
    }
    let sep = if connect.contains('?') { '&' } else { '?' };
    format!("{connect}{sep}connect_timeout={secs}")
}

/// A bare name (`SALES`, `sales.example.com`): looked up in `tnsnames.ora`.
fn is_alias(connect: &str) -> bool {
    connect
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '$' | '#'))
}

/// `text` with `add` right after each `(DESCRIPTION =` (any case, any
/// blanks); `(DESCRIPTION_LIST=` is not one.
fn in_descriptions(text: &str, add: &str) -> String {
    let upper = text.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    let mut out = String::with_capacity(text.len() + add.len() * 2);
    let mut copied = 0;
    let mut from = 0;
    while let Some(k) = upper[from..].find("DESCRIPTION") {
        let at = from + k;
        from = at + "DESCRIPTION".len();
        let opened = upper[..at].trim_end().ends_with('(');
        let rest = upper[from..].trim_start();
        if !opened || !rest.starts_with('=') {
            continue;
        }
        // Just past the `=`.
        let eq = from + (upper[from..].len() - rest.len()) + 1;
        debug_assert_eq!(bytes[eq - 1], b'=');
        out.push_str(&text[copied..eq]);
        out.push_str(add);
        copied = eq;
        from = eq;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(7);

    #[test]
    fn easy_connect_strings_get_the_connect_timeout() {
        assert_eq!(
            with_timeout("db:1521/FREEPDB1", T),
            "db:1521/FREEPDB1?connect_timeout=7"
        );
        assert_eq!(
            with_timeout("tcps://db:2484/svc?wallet_location=/w", T),
            "tcps://db:2484/svc?wallet_location=/w&connect_timeout=7"
        );
        assert_eq!(
            with_timeout("db/FREEPDB1:pooled", Duration::from_millis(2500)),
            "db/FREEPDB1:pooled?connect_timeout=3"
        );
        // The string's own timeout wins.
        let own = "db/svc?CONNECT_TIMEOUT=30";
        assert_eq!(with_timeout(own, T), own);
    }

    #[test]
    fn descriptors_get_it_in_each_description_and_aliases_are_left_alone() {
        let d = "(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=db)(PORT=1521))(CONNECT_DATA=(SERVICE_NAME=x)))";
        assert_eq!(
            with_timeout(d, T),
            "(DESCRIPTION=(CONNECT_TIMEOUT=7)(ADDRESS=(PROTOCOL=TCP)(HOST=db)(PORT=1521))(CONNECT_DATA=(SERVICE_NAME=x)))"
        );
        let list = "(description_list = ( description =(address=(host=a))) (DESCRIPTION=(address=(host=b))))";
        assert_eq!(
            with_timeout(list, T),
            "(description_list = ( description =(CONNECT_TIMEOUT=7)(address=(host=a))) \
             (DESCRIPTION=(CONNECT_TIMEOUT=7)(address=(host=b))))"
        );
        let own = "(DESCRIPTION=(TRANSPORT_CONNECT_TIMEOUT=3)(ADDRESS=(HOST=db)))";
        assert_eq!(with_timeout(own, T), own);
        assert_eq!(with_timeout("SALES", T), "SALES");
        assert_eq!(with_timeout("sales.example.com", T), "sales.example.com");
    }
}

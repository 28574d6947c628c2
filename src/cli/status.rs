//! `ingestd status`: ask the running daemon over its status socket and print
//! the report (as text or JSON).

use std::path::Path;

use super::exit;
use super::load_config;

pub(super) fn status(config_path: &Path, json: bool) -> u8 {
    let Some(cfg) = load_config(config_path) else {
        return exit::CONFIG;
    };
    let sockets = crate::status::socket_candidates(&cfg.daemon);
    match crate::status::query_any(&sockets) {
        Ok(report) if json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            exit::OK
        }
        Ok(report) => {
            print!("{}", crate::status::render(&report));
            exit::OK
        }
        Err(e) => {
            eprintln!("ingestd: {e}");
            exit::FAILURE
        }
    }
}

//! The status socket: `<runtime_dir>/ingestd.sock`, mode 0600. Each
//! connection gets one JSON `StatusReport`, built by the event loop (asked
//! through an event), then the connection is closed. When the runtime
//! directory is not the state directory (under systemd: `/run/ingestd`),
//! `<state_dir>/ingestd.sock` is a symbolic link to it, so that `ingestd
//! status` run by hand, without the unit's `$RUNTIME_DIRECTORY`, finds it.
//!
//! Owns the socket file's and the link's life, and the accept thread.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crossbeam_channel::{Sender, bounded};
use tracing::warn;

use crate::status::socket_path;

use crate::supervisor::event::Event;

/// Removes the socket file (and its link) when dropped.
pub struct StatusSocket {
    path: PathBuf,
    link: Option<PathBuf>,
}

impl Drop for StatusSocket {
    fn drop(&mut self) {
        if let Some(link) = &self.link
            && std::fs::read_link(link).is_ok_and(|to| to == self.path)
        {
            let _ = std::fs::remove_file(link);
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StatusSocketError {
    #[error("status socket {path}: {source}")]
    Bind {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("status socket {0}: another ingestd answers there")]
    InUse(PathBuf),
}

pub fn serve(
    runtime_dir: &Path,
    state_dir: &Path,
    events: Sender<Event>,
) -> Result<StatusSocket, StatusSocketError> {
    let path = socket_path(runtime_dir);
    let err = |source| StatusSocketError::Bind {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(runtime_dir).map_err(err)?;
    if path.exists() {
        if UnixStream::connect(&path).is_ok() {
            return Err(StatusSocketError::InUse(path));
        }
        // Left by a daemon that did not stop cleanly.
        std::fs::remove_file(&path).map_err(err)?;
    }
    let listener = UnixListener::bind(&path).map_err(err)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    std::thread::Builder::new()
        .name("status".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(c) => {
                        if !answer(c, &events) {
                            return;
                        }
                    }
                    Err(e) => warn!("status socket: {e}"),
                }
            }
        })
        .map_err(err)?;
    let link = (runtime_dir != state_dir).then(|| socket_path(state_dir));
    if let Some(l) = &link {
        // A link or socket left there by an earlier run answers no one.
        if std::fs::symlink_metadata(l).is_ok() && UnixStream::connect(l).is_err() {
            let _ = std::fs::remove_file(l);
        }
        if let Err(e) = std::os::unix::fs::symlink(&path, l) {
            warn!(link = %l.display(), "cannot link the status socket into the state directory ({e}): `ingestd status` finds it only through $RUNTIME_DIRECTORY or runtime_dir");
        }
    }
    Ok(StatusSocket { path, link })
}

/// One request; false once the event loop is gone.
fn answer(conn: UnixStream, events: &Sender<Event>) -> bool {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    let _ = BufReader::new(&conn).read_line(&mut line);
    let (tx, rx) = bounded(1);
    if events.send(Event::Status(tx)).is_err() {
        return false;
    }
    if let Ok(report) = rx.recv_timeout(Duration::from_secs(5)) {
        let mut conn = conn;
        let _ = serde_json::to_writer(&mut conn, &report);
        let _ = conn.flush();
    }
    true
}

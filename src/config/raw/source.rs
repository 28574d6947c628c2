//! `[jobs.NAME.source]` as written: the keys of every kind in one struct
//! (see `raw`'s header for why), refused by `source::only_for_kind` on the
//! kinds they do not belong to.

use serde::Deserialize;
use toml::Spanned;

use super::{Compression, Dur, Int, OnDone, OneOrMany};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    pub kind: SourceKind,
    // dir
    pub path: Option<Spanned<String>>,
    pub pattern: Option<Spanned<String>>,
    pub on_done: Option<Spanned<OnDone>>,
    pub archive_dir: Option<Spanned<String>>,
    pub settle: Option<Spanned<Dur>>,
    // dir and stdin
    pub compression: Option<Compression>,
    // tail (and `path`, `pattern`)
    pub rotated: Option<Spanned<Vec<Spanned<String>>>>,
    pub start_at: Option<Spanned<StartAt>>,
    pub fingerprint_lines: Option<Spanned<Int>>,
    pub partial_timeout: Option<Spanned<Dur>>,
    pub rotate_wait: Option<Spanned<Dur>>,
    pub idle_close: Option<Spanned<Dur>>,
    pub max_open_files: Option<Spanned<Int>>,
    pub poll_interval: Option<Spanned<Dur>>,
    // nats
    pub url: Option<Spanned<OneOrMany>>,
    pub stream: Option<Spanned<String>>,
    pub consumer: Option<Spanned<String>>,
    pub filter_subject: Option<Spanned<String>>,
    pub ack_wait: Option<Spanned<Dur>>,
    pub creds_file: Option<Spanned<String>>,
    pub nkey_file: Option<Spanned<String>>,
    pub token_file: Option<Spanned<String>>,
    pub token_env: Option<Spanned<String>>,
    pub user: Option<Spanned<String>>,
    pub password_file: Option<Spanned<String>>,
    pub password_env: Option<Spanned<String>>,
    pub tls_ca_file: Option<Spanned<String>>,
    pub tls_cert_file: Option<Spanned<String>>,
    pub tls_key_file: Option<Spanned<String>>,
    pub tls_required: Option<Spanned<bool>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum StartAt {
    Beginning,
    End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SourceKind {
    Dir,
    Stdin,
    Tail,
    Nats,
}

//! What the NATS JetStream tests share: a private `nats-server` with
//! JetStream (its own port and store, killed and started again on the same
//! ones), a client of the test's own for the stream and the consumer's
//! state, the messages (`{"id":N,"body":"..."}`, the body pseudo-random
//! from a seed; `nats_publisher` publishes them), the configuration of one
//! daemon of several sharing a consumer, and the check that a table holds
//! exactly the published records.

use std::fs;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, Context};
use tokio::runtime::Runtime;

use super::{free_port, kill};

pub use super::nats_publisher::Publisher;

/// The stream every test publishes to, and its subjects.
pub const STREAM: &str = "EVENTS";
pub const SUBJECTS: &str = "events.>";
/// The durable consumer every daemon of a test shares.
pub const CONSUMER: &str = "ingestd";

/// A `nats-server` of the test's own: JetStream on, its store in a
/// temporary folder, its log beside it. Killed when dropped.
pub struct Server {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    starts: usize,
    /// More arguments (`--auth TOKEN`, `--user U --pass P`).
    extra: Vec<String>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// A server started with `extra` arguments as well.
    pub fn start_with(extra: &[&str]) -> Server {
        let mut s = Server {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
            starts: 0,
            extra: extra.iter().map(|a| a.to_string()).collect(),
        };
        s.spawn();
        s
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("nats-server.log")
    }

    /// The server's log (all its runs) without its start-up banners: its
    /// starts, restores, warnings and errors, for a failing test to show.
    pub fn log_tail(&self, lines: usize) -> String {
        const KEEP: &[&str] = &[
            "Starting nats-server",
            "Restored",
            "Server is ready",
            "[WRN]",
            "[ERR]",
            "[FTL]",
        ];
        let text = fs::read_to_string(self.log()).unwrap_or_default();
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| KEEP.iter().any(|k| l.contains(k)))
            .collect();
        tail(&kept.join("\n"), lines)
    }

    /// Starts the server on its port and store; returns once it says it is
    /// ready (after recovering the store, when it had one).
    fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .unwrap();
        let store = self.dir.path().join("store");
        let child = Command::new("nats-server")
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&store)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        self.starts += 1;
        let t0 = Instant::now();
        loop {
            let ready = fs::read_to_string(self.log())
                .unwrap_or_default()
                .matches("Server is ready")
                .count();
            if ready >= self.starts {
                return;
            }
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none() && t0.elapsed() < Duration::from_secs(30),
                "nats-server did not get ready ({exited:?}):\n{}",
                self.log_tail(30)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` to the server and waits for it to end.
    pub fn stop(&mut self, signal: i32) {
        if let Some(mut child) = self.child.take() {
            kill(child.id(), signal);
            child.wait().unwrap();
        }
    }

    /// Kills the server with `signal` and starts it again on the same port
    /// and store: the stream and the consumer survive it.
    pub fn restart(&mut self, signal: i32) {
        self.stop(signal);
        self.spawn();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop(9);
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A JetStream context whose requests and acks time out after 3 s rather
/// than 10 s: the first request after a server restart goes to the dead
/// connection and is only answered by its timeout (seen with async-nats
/// 0.51), and a lost publish ack is published again sooner.
pub(super) fn context(client: async_nats::Client) -> Context {
    jetstream::context::ContextBuilder::new()
        .timeout(Duration::from_secs(3))
        .build(client)
}

/// Asks for the stream, 1 s at most each time, until the server answers
/// (the client reconnects once its first request after a restart failed);
/// fails after 30 s.
pub(super) async fn reconnect(js: &Context) -> Result<(), String> {
    let t0 = Instant::now();
    loop {
        let asked = tokio::time::timeout(Duration::from_secs(1), js.get_stream(STREAM)).await;
        match asked {
            Ok(Ok(_)) => return Ok(()),
            _ if t0.elapsed() > Duration::from_secs(30) => {
                return Err(format!("no answer from the server for 30 s: {asked:?}"));
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// A single-threaded runtime: the tests' client needs nothing more.
pub(super) fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// What the tests see of a consumer (its `consumer::Info`, the fields that
/// tell whether everything was settled).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsumerState {
    /// Not delivered yet.
    pub pending: u64,
    /// Delivered, neither acked nor terminated.
    pub ack_pending: u64,
    pub redelivered: u64,
    pub ack_floor: u64,
}

impl ConsumerState {
    pub fn settled(&self) -> bool {
        self.pending == 0 && self.ack_pending == 0
    }
}

/// The test's own client: creates the stream, publishes one message, and
/// reads the stream's and the consumer's state. It reconnects by itself
/// after a server restart; calls made meanwhile fail.
pub struct Client {
    rt: Runtime,
    js: Context,
}

impl Client {
    pub fn connect(url: &str) -> Client {
        Client::connect_with(url, async_nats::ConnectOptions::new())
    }

    /// Connects with `opts` (credentials).
    pub fn connect_with(url: &str, opts: async_nats::ConnectOptions) -> Client {
        let rt = runtime();
        // Inside the runtime: the context starts a task of its own.
        let js = rt.block_on(async {
            let client =
                (opts.connect(url).await).unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
            context(client)
        });
        Client { js, rt }
    }

    /// Returns once the server answers again (after a restart).
    pub fn reconnect(&self) {
        self.rt
            .block_on(reconnect(&self.js))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Creates stream `STREAM` on `SUBJECTS` (a file store: it survives a
    /// restart).
    pub fn create_stream(&self) {
        let config = jetstream::stream::Config {
            name: STREAM.into(),
            subjects: vec![SUBJECTS.into()],
            ..Default::default()
        };
        self.rt
            .block_on(self.js.create_stream(config))
            .expect("create the stream");
    }

    /// Publishes one message and waits for its ack; its stream sequence.
    pub fn publish(&self, subject: &str, payload: String) -> u64 {
        self.rt.block_on(async {
            let ack = self.js.publish(subject.to_string(), payload.into()).await;
            ack.expect("publish").await.expect("publish ack").sequence
        })
    }

    /// Publishes one message with `headers` and waits for its ack; its
    /// stream sequence.
    pub fn publish_with_headers(
        &self,
        subject: &str,
        headers: &[(&str, &str)],
        payload: String,
    ) -> u64 {
        let mut map = async_nats::HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, *v);
        }
        self.rt.block_on(async {
            let ack = (self.js)
                .publish_with_headers(subject.to_string(), map, payload.into())
                .await;
            ack.expect("publish").await.expect("publish ack").sequence
        })
    }

    /// (messages, last sequence) of the stream.
    pub fn stream_state(&self) -> Result<(u64, u64), String> {
        self.rt.block_on(async {
            let mut stream = self
                .js
                .get_stream(STREAM)
                .await
                .map_err(|e| e.to_string())?;
            let info = stream.info().await.map_err(|e| e.to_string())?;
            Ok((info.state.messages, info.state.last_sequence))
        })
    }

    /// The shared consumer's state; `Err` before a daemon has created it or
    /// while the server is away.
    pub fn consumer(&self) -> Result<ConsumerState, String> {
        self.rt.block_on(async {
            let stream = self
                .js
                .get_stream(STREAM)
                .await
                .map_err(|e| e.to_string())?;
            let i = stream
                .consumer_info(CONSUMER)
                .await
                .map_err(|e| e.to_string())?;
            Ok(ConsumerState {
                pending: i.num_pending,
                ack_pending: i.num_ack_pending as u64,
                redelivered: i.num_redelivered as u64,
                ack_floor: i.ack_floor.stream_sequence,
            })
        })
    }

    /// Stream and consumer state in one line, for progress and failures.
    pub fn describe(&self) -> String {
        format!(
            "stream (messages, last seq) {:?}; consumer {:?}",
            self.stream_state(),
            self.consumer()
        )
    }
}

/// The body of record `id` of the test seeded `seed`: 5 to 60 characters,
/// some of which JSON must escape and some beyond ASCII.
pub fn body(seed: u64, id: u64) -> String {
    const CHARS: &[char] = &[
        'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'k', 'm', 'n', 'p', 'r', 's', 't', 'w', 'x', 'z',
        'A', 'Q', 'Z', '0', '1', '7', '9', ' ', ' ', ',', '.', '"', '\\', '/', '\t', 'é', 'ß', '€',
        '✓',
    ];
    let mut rng = fastrand::Rng::with_seed(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ id);
    let len = rng.usize(5..=60);
    (0..len).map(|_| CHARS[rng.usize(..CHARS.len())]).collect()
}

/// The message of record `id`: one JSON object.
pub fn payload(seed: u64, id: u64) -> String {
    serde_json::json!({"id": id, "body": body(seed, id)}).to_string()
}

/// The subject of record `id`: spread over a few, all under `SUBJECTS`.
pub fn subject(id: u64) -> String {
    format!("events.k{}", id % 4)
}

/// The configuration of daemon `host` ("a", "b"...) of several that share
/// consumer `CONSUMER` of the server at `url`: its own state and reject
/// folders (`state-HOST`, `rejects-HOST`), sink `db` with `sink` as its
/// keys, job `events` into table `events`; `job_extra` goes into the job.
pub fn host_config(host: &str, url: &str, sink: &str, job_extra: &str) -> String {
    format!(
        "[daemon]\nstate_dir = \"state-{host}\"\n\n[sinks.db]\n{sink}\n\
         [jobs.events]\nsink = \"db\"\ntable = \"events\"\ncreate_table = true\n\
         reject_dir = \"rejects-{host}\"\n{job_extra}\n\n\
         [jobs.events.source]\nkind = \"nats\"\nurl = \"{url}\"\nstream = \"{STREAM}\"\n\
         consumer = \"{CONSUMER}\"\nfilter_subject = \"{SUBJECTS}\"\nack_wait = \"5s\"\n\n\
         [jobs.events.format]\nkind = \"jsonl\"\n\n\
         [[jobs.events.columns]]\nname = \"id\"\ntype = \"bigint\"\nfrom = \"id\"\n\n\
         [[jobs.events.columns]]\nname = \"body\"\ntype = \"text\"\nfrom = \"body\"\n"
    )
}

/// Whether `rows` (id, body), in id order, are exactly records `ids` of
/// seed `seed`, each once; else what differs (missing and extra ids as
/// ranges, duplicates, the first bodies that differ).
pub fn compare(
    seed: u64,
    ids: RangeInclusive<u64>,
    rows: impl IntoIterator<Item = (i64, String)>,
) -> Result<(), String> {
    let mut problems = Vec::new();
    let mut note = |p: String| {
        if problems.len() < 20 {
            problems.push(p);
        }
    };
    let mut want = *ids.start();
    let mut last: Option<i64> = None;
    for (id, got) in rows {
        if last == Some(id) {
            note(format!("id {id} more than once"));
            continue;
        }
        last = Some(id);
        if id < *ids.start() as i64 || id > *ids.end() as i64 {
            note(format!("id {id} was never published"));
            continue;
        }
        let id = id as u64;
        if id > want {
            note(format!("ids {want}..={} missing", id - 1));
        }
        want = id + 1;
        let expected = body(seed, id);
        if got != expected {
            note(format!("id {id}: body {got:?}, published {expected:?}"));
        }
    }
    if want <= *ids.end() {
        note(format!("ids {want}..={} missing", ids.end()));
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems.join("\n")),
    }
}

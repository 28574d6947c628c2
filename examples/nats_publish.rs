//! Publishes each line of a JSON Lines file as one message to a NATS
//! JetStream subject, fast: acks are awaited in a window of at most 2,000
//! outstanding (async-nats 0.51 deadlocks beyond 5,000 unawaited acks), so
//! that a benchmark (`benches/nats.sh`) can fill a stream with a million
//! records in seconds. Prints how many messages it published and how fast.
//!
//! ```sh
//! cargo run --release --example nats_publish -- \
//!     --url nats://127.0.0.1:4333 --stream BENCH --subject bench.orders --create orders.jsonl
//! ```

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use clap::Parser;
use futures_util::FutureExt;

#[derive(Parser)]
struct Args {
    /// The server, like nats://127.0.0.1:4222.
    #[arg(long)]
    url: String,
    /// The stream the subject belongs to (created with `--create`).
    #[arg(long)]
    stream: String,
    #[arg(long)]
    subject: String,
    /// Create the stream (on `--subject`) when it does not exist.
    #[arg(long)]
    create: bool,
    /// The JSON Lines file: one message per non-empty line, without its newline.
    file: PathBuf,
}

type Ack = Result<jetstream::publish::PublishAck, jetstream::context::PublishError>;
type AckFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Ack> + Send>>;

const WINDOW: usize = 2_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(publish(args))
}

async fn publish(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let client = async_nats::connect(args.url.as_str()).await?;
    let js = jetstream::context::ContextBuilder::new()
        .timeout(Duration::from_secs(30))
        .build(client);
    if args.create {
        js.get_or_create_stream(jetstream::stream::Config {
            name: args.stream.clone(),
            subjects: vec![args.subject.clone()],
            ..Default::default()
        })
        .await?;
    }
    let file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&args.file)?);
    let t0 = Instant::now();
    let mut outstanding: VecDeque<AckFuture> = VecDeque::new();
    let mut sent = 0u64;
    let mut last_seq = 0;
    for line in file.split(b'\n') {
        let mut line = line?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() {
            continue;
        }
        let ack = js.publish(args.subject.clone(), line.into()).await?;
        outstanding.push_back(Box::pin(ack.into_future()));
        sent += 1;
        // The acks already back, then the oldest while the window is full.
        while let Some(ack) = outstanding.front_mut().and_then(|a| a.now_or_never()) {
            outstanding.pop_front();
            last_seq = ack?.sequence;
        }
        while outstanding.len() >= WINDOW {
            last_seq = outstanding.pop_front().unwrap().await?.sequence;
        }
    }
    while let Some(ack) = outstanding.pop_front() {
        last_seq = ack.await?.sequence;
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "published {sent} messages to {} in {secs:.2} s ({:.0}/s), last sequence {last_seq}",
        args.stream,
        sent as f64 / secs
    );
    Ok(())
}

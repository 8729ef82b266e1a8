//! The load generator: receivers that time every message they get, and senders that stamp
//! each message with its send time. The same code drives the hub and the floor, so the two
//! are measured alike.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chinwag_link::raw;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::hub::Account;

/// How many connections leave from one loopback address (the hub allows 512 per address).
const PER_SOURCE: usize = 250;

/// The local address for the `i`th connection: 127.1.x.y, a new one every 250 connections,
/// as people arrive from many machines.
pub fn source(i: usize) -> IpAddr {
    let k = i / PER_SOURCE;
    IpAddr::V4(Ipv4Addr::new(127, 1, (k / 250) as u8, (k % 250 + 1) as u8))
}

/// Microseconds since the run's epoch: what senders stamp and receivers subtract.
pub fn micros(epoch: Instant) -> u64 {
    epoch.elapsed().as_micros() as u64
}

pub fn histogram() -> Histogram<u64> {
    // 1 µs to 100 s, 3 significant digits.
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("valid histogram bounds")
}

/// The stamp in a frame carrying a benchmark message: the digits after `"body":"`.
pub fn stamp(frame: &str) -> Option<u64> {
    let at = frame.find(r#""body":""#)? + 8;
    let digits = &frame[at..];
    let end = digits.find(|c: char| !c.is_ascii_digit())?;
    digits[..end].parse().ok()
}

/// What receivers have counted since the last [`Receivers::take`].
pub struct Tally {
    pub delivered: u64,
    pub latency: Histogram<u64>,
}

/// Connections that only read, timing every message.
pub struct Receivers {
    delivered: Arc<AtomicU64>,
    /// One histogram per connection (uncontended locks), merged on [`Receivers::take`].
    latencies: Vec<Arc<Mutex<Histogram<u64>>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pub count: usize,
}

pub type Stream = SplitStream<raw::Socket>;
pub type Sink = SplitSink<raw::Socket, Message>;

impl Receivers {
    pub fn start(streams: Vec<Stream>, epoch: Instant) -> Receivers {
        let delivered = Arc::new(AtomicU64::new(0));
        let count = streams.len();
        let mut latencies = Vec::with_capacity(count);
        let mut tasks = Vec::with_capacity(count);
        for mut stream in streams {
            let latency = Arc::new(Mutex::new(histogram()));
            latencies.push(latency.clone());
            let delivered = delivered.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(Ok(message)) = stream.next().await {
                    let Message::Text(text) = message else {
                        continue;
                    };
                    let Some(sent) = stamp(&text) else { continue };
                    let took = micros(epoch).saturating_sub(sent).max(1);
                    if let Ok(mut h) = latency.lock() {
                        let _ = h.record(took);
                    }
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        Receivers {
            delivered,
            latencies,
            tasks,
            count,
        }
    }

    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Waits until `expected` deliveries were counted, or nothing new arrived for `quiet`.
    pub async fn wait_for(&self, expected: u64, quiet: Duration) {
        let mut last = self.delivered();
        let mut since = Instant::now();
        while self.delivered() < expected {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let now = self.delivered();
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() > quiet {
                break;
            }
        }
    }

    /// What was counted since the last take, and starts counting afresh.
    pub fn take(&self) -> Tally {
        let delivered = self.delivered.swap(0, Ordering::Relaxed);
        let mut all = histogram();
        for latency in &self.latencies {
            if let Ok(mut h) = latency.lock() {
                let _ = all.add(&*h);
                h.reset();
            }
        }
        Tally {
            delivered,
            latency: all,
        }
    }
}

impl Drop for Receivers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A sender: one connection that, when told, sends at a steady rate for a while. Whatever it
/// receives (acks, its own messages, presence) is read and dropped.
pub struct Sender {
    commands: mpsc::Sender<Burst>,
}

struct Burst {
    per_second: f64,
    for_how_long: Duration,
    done: oneshot::Sender<u64>,
}

/// The frame a sender sends: a chat line in `general` whose body starts with its stamp.
pub fn send_frame(tag: &str, n: u64, stamp: u64) -> Message {
    Message::Text(
        format!(
            r#"{{"type":"send","conversation_id":1,"client_id":"{tag}-{n}","body":"{stamp} a line of chat, about as long as people write them"}}"#
        )
        .into(),
    )
}

impl Sender {
    pub fn start(mut sink: Sink, mut stream: Stream, tag: String, epoch: Instant) -> Sender {
        let (commands, mut rx) = mpsc::channel::<Burst>(1);
        tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
        tokio::spawn(async move {
            let mut n = 0u64;
            while let Some(burst) = rx.recv().await {
                let period = Duration::from_secs_f64(1.0 / burst.per_second.max(0.001));
                let mut tick = tokio::time::interval(period);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let until = Instant::now() + burst.for_how_long;
                let mut sent = 0u64;
                while Instant::now() < until {
                    tick.tick().await;
                    if sink.send(send_frame(&tag, n, micros(epoch))).await.is_err() {
                        break;
                    }
                    n += 1;
                    sent += 1;
                }
                let _ = burst.done.send(sent);
            }
        });
        Sender { commands }
    }

    /// Sends `per_second` messages a second for `for_how_long`; resolves with how many.
    pub async fn burst(&self, per_second: f64, for_how_long: Duration) -> Result<u64> {
        let (done, wait) = oneshot::channel();
        self.commands
            .send(Burst {
                per_second,
                for_how_long,
                done,
            })
            .await
            .ok()
            .context("the sender stopped")?;
        wait.await.context("the sender stopped")
    }
}

/// Opens `accounts.len()` authenticated connections to a hub, `parallel` at a time, each
/// from its own loopback source. Returns them in order.
pub async fn open_hub(
    url: &str,
    accounts: &[Account],
    first_source: usize,
    parallel: usize,
) -> Result<Vec<raw::Socket>> {
    let mut out = Vec::with_capacity(accounts.len());
    for (c, chunk) in accounts.chunks(parallel.max(1)).enumerate() {
        let opens = chunk.iter().enumerate().map(|(i, account)| {
            let index = first_source + c * parallel + i;
            async move {
                raw::open(url, Some(source(index)), &account.token, None)
                    .await
                    .map(|(ws, _)| ws)
            }
        });
        for ws in futures_util::future::join_all(opens).await {
            out.push(ws.context("connecting to the hub")?);
        }
    }
    Ok(out)
}

/// Opens `n` plain WebSockets to the floor.
pub async fn open_floor(url: &str, n: usize, first_source: usize) -> Result<Vec<raw::Socket>> {
    let mut out = Vec::with_capacity(n);
    for chunk_start in (0..n).step_by(200) {
        let opens = (chunk_start..n.min(chunk_start + 200))
            .map(|i| raw::connect(url, Some(source(first_source + i))));
        for ws in futures_util::future::join_all(opens).await {
            out.push(ws.context("connecting to the floor")?);
        }
    }
    Ok(out)
}

//! The scenarios. Each starts what it measures, runs bounded loops, prints, and stops it.

use chinwag_proto::EventId;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chinwag_link::raw;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::hub::{self, Account, Server};
use crate::load::{self, Receivers, Sender};
use crate::report::{emit, latency_json, latency_text, merge, percentiles, ratio};
use crate::Options;

pub const ALL: [&str; 8] = [
    "fanout",
    "saturation",
    "channel",
    "receipts",
    "connections",
    "persistence",
    "history",
    "footprint",
];

pub async fn run(name: &str, options: &Options) -> Result<()> {
    println!("\n== {name}");
    match name {
        "fanout" => fanout(options).await,
        "saturation" => saturation(options).await,
        "channel" => channel(options).await,
        "receipts" => receipts(options).await,
        "connections" => connections(options).await,
        "persistence" => persistence(options).await,
        "history" => history(options).await,
        "footprint" => footprint(options).await,
        other => bail!("no scenario {other:?}"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    Floor,
    Hub,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Floor => "floor",
            Target::Hub => "chinwag",
        }
    }
}

/// A room of `n` receivers and `s` senders on one server.
struct Room {
    receivers: Receivers,
    senders: Vec<Sender>,
    server: Server,
    _dir: Option<tempfile::TempDir>,
}

impl Room {
    async fn open(options: &Options, target: Target, n: usize, s: usize) -> Result<Room> {
        let epoch = Instant::now();
        let (server, sockets, dir) = match target {
            Target::Floor => {
                let server = Server::floor(options).await?;
                let sockets = load::open_floor(&server.ws_url(), n + s, 0).await?;
                (server, sockets, None)
            }
            Target::Hub => {
                let dir = tempfile::tempdir().context("temporary data directory")?;
                let accounts = hub::seed_users(dir.path(), "user", n + s).await?;
                let server = Server::hub(options, dir.path()).await?;
                let sockets = load::open_hub(&server.ws_url(), &accounts, 0, 100).await?;
                (server, sockets, Some(dir))
            }
        };
        let mut streams = Vec::with_capacity(n);
        let mut senders = Vec::with_capacity(s);
        for (i, ws) in sockets.into_iter().enumerate() {
            let (sink, stream) = ws.split();
            if i < n {
                streams.push(stream);
            } else {
                senders.push(Sender::start(sink, stream, format!("s{i}"), epoch));
            }
        }
        let receivers = Receivers::start(streams, epoch);
        // Let the presence announcements of everyone connecting pass.
        tokio::time::sleep(Duration::from_secs(1)).await;
        receivers.take();
        Ok(Room {
            receivers,
            senders,
            server,
            _dir: dir,
        })
    }

    /// Senders share `per_second` messages a second for `seconds`; every receiver should get
    /// each.
    async fn step(&self, per_second: f64, seconds: f64) -> Result<Step> {
        let each = per_second / self.senders.len() as f64;
        let duration = Duration::from_secs_f64(seconds);
        let started = Instant::now();
        let bursts = self.senders.iter().map(|s| s.burst(each, duration));
        let mut sent = 0;
        for n in futures_util::future::join_all(bursts).await {
            sent += n?;
        }
        let expected = sent * self.receivers.count as u64;
        self.receivers
            .wait_for(expected, Duration::from_secs(3))
            .await;
        let elapsed = started.elapsed().as_secs_f64();
        let tally = self.receivers.take();
        Ok(Step {
            sent,
            delivered: tally.delivered,
            lost: expected.saturating_sub(tally.delivered),
            per_second: tally.delivered as f64 / elapsed.max(seconds),
            latency: tally.latency,
        })
    }

    async fn close(self) {
        drop(self.receivers);
        drop(self.senders);
        self.server.stop().await;
    }
}

struct Step {
    sent: u64,
    delivered: u64,
    lost: u64,
    per_second: f64,
    latency: hdrhistogram::Histogram<u64>,
}

/// Fan-out: N receivers, S senders at a steady total of 10,000 deliveries a second.
async fn fanout(options: &Options) -> Result<()> {
    let shapes: &[(usize, usize)] = if options.smoke {
        &[(100, 1), (100, 10)]
    } else {
        &[(100, 1), (100, 10), (1000, 1), (1000, 10)]
    };
    let seconds = if options.smoke { 1.0 } else { 10.0 };
    for &(n, s) in shapes {
        let per_second = 10_000.0 / n as f64;
        let mut p99 = [0.0; 2];
        for (k, target) in [Target::Floor, Target::Hub].into_iter().enumerate() {
            let room = Room::open(options, target, n, s).await?;
            let step = room.step(per_second, seconds).await?;
            room.close().await;
            p99[k] = percentiles(&step.latency)[2];
            println!(
                "fanout {:7} N={n:<5} S={s:<3} {per_second:>6.1} msg/s for {seconds} s: sent \
                 {}, delivered {} ({:.0}/s), lost {}; latency {}",
                target.name(),
                step.sent,
                step.delivered,
                step.per_second,
                step.lost,
                latency_text(&step.latency)
            );
            let mut fields = json!({
                "target": target.name(), "receivers": n, "senders": s,
                "messages_per_second": per_second, "seconds": seconds, "sent": step.sent,
                "delivered": step.delivered, "deliveries_per_second": step.per_second,
                "lost": step.lost,
            });
            merge(&mut fields, latency_json(&step.latency));
            emit("fanout", fields);
        }
        println!(
            "fanout N={n} S={s}: chinwag p99 is {:.2}× the floor's",
            ratio(p99[1], p99[0])
        );
    }
    Ok(())
}

/// Saturation: raise the message rate into a room of 1,000 until p99 passes 50 ms or
/// anything is lost; the best delivery rate that held.
async fn saturation(options: &Options) -> Result<()> {
    let (n, s, seconds, rates): (usize, usize, f64, &[f64]) = if options.smoke {
        (100, 10, 1.0, &[100.0, 200.0])
    } else {
        (
            1000,
            10,
            4.0,
            &[
                20.0, 50.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 800.0, 1000.0, 1300.0,
                1600.0, 2000.0, 2500.0, 3000.0,
            ],
        )
    };
    let mut best = [0.0f64; 2];
    for (k, target) in [Target::Floor, Target::Hub].into_iter().enumerate() {
        let room = Room::open(options, target, n, s).await?;
        for &rate in rates {
            let step = room.step(rate, seconds).await?;
            let [_, _, p99, _] = percentiles(&step.latency);
            let held = p99 <= 50.0 && step.lost == 0;
            println!(
                "saturation {:7} {rate:>6.0} msg/s × {n}: {:>9.0} deliveries/s, lost {}, {} {}",
                target.name(),
                step.per_second,
                step.lost,
                latency_text(&step.latency),
                if held {
                    "held"
                } else {
                    "FAILED (p99 > 50 ms or loss)"
                }
            );
            let mut fields = json!({
                "target": target.name(), "receivers": n, "senders": s,
                "messages_per_second": rate, "seconds": seconds,
                "deliveries_per_second": step.per_second, "lost": step.lost, "held": held,
            });
            merge(&mut fields, latency_json(&step.latency));
            emit("saturation_step", fields);
            if !held {
                break;
            }
            best[k] = best[k].max(step.per_second);
        }
        room.close().await;
    }
    println!(
        "saturation N={n}: floor {:.0} deliveries/s, chinwag {:.0} ({:.2} of the floor)",
        best[0],
        best[1],
        ratio(best[1], best[0])
    );
    emit(
        "saturation",
        json!({ "receivers": n, "floor_deliveries_per_second": best[0],
                "chinwag_deliveries_per_second": best[1], "ratio": ratio(best[1], best[0]) }),
    );
    Ok(())
}

/// Counts the event frames a set of connections receive (what they are is not looked at).
fn count_events(streams: Vec<load::Stream>) -> (Arc<AtomicU64>, Vec<tokio::task::JoinHandle<()>>) {
    let count = Arc::new(AtomicU64::new(0));
    let tasks = streams
        .into_iter()
        .map(|mut stream| {
            let count = count.clone();
            tokio::spawn(async move {
                while let Some(Ok(message)) = stream.next().await {
                    if let Message::Text(text) = message {
                        if text.starts_with(r#"{"type":"event""#) {
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    (count, tasks)
}

/// A big channel beside small groups: 4 senders pipelining as fast as acks come, into
/// `general` with 1,000 or 10,000 members of whom 10 or 1,000 are online, or each into a
/// group of 10 whose other members are all online (or, with nobody else online, each into a
/// group of its own). What a message costs should follow the connections it reaches, not
/// the members it has: each case is compared with the small groups reaching as many.
async fn channel(options: &Options) -> Result<()> {
    let (senders, window, seconds) = (4, 64, if options.smoke { 1.0 } else { 5.0 });
    // (members of general, or None for small groups; members online besides the senders)
    let cases: &[(Option<usize>, usize)] = if options.smoke {
        &[(None, 10), (Some(1000), 10)]
    } else {
        &[
            (None, 0),
            (Some(1000), 0),
            (Some(10_000), 0),
            (None, 10),
            (Some(1000), 10),
            (Some(10_000), 10),
            (Some(1000), 996),
            (Some(10_000), 1000),
        ]
    };
    // The small groups' rate, by how many others are online.
    let mut small = std::collections::HashMap::new();
    for &(members, online) in cases {
        let dir = tempfile::tempdir().context("temporary data directory")?;
        let accounts =
            hub::seed_users(dir.path(), "user", members.unwrap_or(senders + online)).await?;
        let (writers, readers) = accounts.split_at(senders);
        let readers = &readers[..online];
        let targets: Vec<i64> = match members {
            None => hub::seed_groups(dir.path(), writers, readers, 10)
                .await?
                .into_iter()
                .map(i64::from)
                .collect(),
            Some(_) => vec![1; senders],
        };
        let server = Server::hub(options, dir.path()).await?;
        let sockets = load::open_hub(&server.ws_url(), readers, 0, 100).await?;
        let (received, tasks) = count_events(sockets.into_iter().map(|ws| ws.split().1).collect());
        let writing = load::open_hub(&server.ws_url(), writers, online, 100).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let cpu = server.cpu_seconds();
        received.store(0, Ordering::Relaxed);
        let started = Instant::now();
        let until = started + Duration::from_secs_f64(seconds);
        let runs: Vec<_> = writing
            .into_iter()
            .zip(targets)
            .enumerate()
            .map(|(i, (ws, group))| tokio::spawn(pipeline(ws, group, i, window, until)))
            .collect();
        let mut acked = 0;
        for run in runs {
            acked += run.await.context("a sender failed")??.1;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = (server.cpu_seconds() - cpu) / elapsed;
        let delivered = received.load(Ordering::Relaxed);
        let rate = acked as f64 / elapsed;
        let shape = match members {
            None if online == 0 => format!("{senders} groups of one, nobody else online"),
            None => format!("{senders} groups of 10, all online"),
            Some(m) => format!("general, {m} members, {online} online"),
        };
        if members.is_none() {
            small.insert(online, rate);
        }
        let reference = small.get(&online).copied();
        println!(
            "channel chinwag {shape}: {rate:.0} messages/s ({}), {:.0} deliveries/s to the \
             online members, hub CPU {:.0}%",
            match reference {
                _ if members.is_none() => "the reference".to_owned(),
                Some(small) => format!("{:.2}× the small groups'", ratio(rate, small)),
                None => "no small groups reach as many".to_owned(),
            },
            delivered as f64 / elapsed,
            cpu * 100.0
        );
        emit(
            "channel",
            json!({ "members": members, "online": online, "senders": senders,
                    "window": window, "seconds": seconds, "committed": acked,
                    "messages_per_second": rate,
                    "deliveries_per_second": delivered as f64 / elapsed,
                    "hub_cpu": cpu,
                    "of_small_groups": reference.map(|small| ratio(rate, small)) }),
        );
        for task in tasks {
            task.abort();
        }
        server.stop().await;
    }
    Ok(())
}

/// Receipts in a big channel: 1,000 online members of `general` while 10 senders write at a
/// steady rate, first reading only, then acknowledging as the web UI does: `delivered` for
/// the newest message once none came for 150 ms, and `read` at once from the one member in
/// ten looking at the channel. Message deliveries a second, receipt frames a second and hub
/// CPU, for each.
async fn receipts(options: &Options) -> Result<()> {
    let (n, s, seconds, rates): (usize, usize, f64, &[f64]) = if options.smoke {
        (100, 2, 1.0, &[5.0])
    } else {
        (1000, 10, 10.0, &[2.0, 5.0, 10.0])
    };
    for &acks in &[false, true] {
        for &rate in rates {
            let dir = tempfile::tempdir().context("temporary data directory")?;
            let accounts = hub::seed_users(dir.path(), "user", n + s).await?;
            let server = Server::hub(options, dir.path()).await?;
            let sockets = load::open_hub(&server.ws_url(), &accounts[..n], 0, 100).await?;
            let messages = Arc::new(AtomicU64::new(0));
            let receipts = Arc::new(AtomicU64::new(0));
            let readers: Vec<_> = sockets
                .into_iter()
                .enumerate()
                .map(|(i, ws)| {
                    let looking = i % 10 == 0;
                    tokio::spawn(acknowledge(
                        ws,
                        acks,
                        looking,
                        messages.clone(),
                        receipts.clone(),
                    ))
                })
                .collect();
            let epoch = Instant::now();
            let senders: Vec<Sender> = load::open_hub(&server.ws_url(), &accounts[n..], n, 100)
                .await?
                .into_iter()
                .enumerate()
                .map(|(i, ws)| {
                    let (sink, stream) = ws.split();
                    Sender::start(sink, stream, format!("r{i}"), epoch)
                })
                .collect();
            tokio::time::sleep(Duration::from_secs(1)).await;
            messages.store(0, Ordering::Relaxed);
            receipts.store(0, Ordering::Relaxed);
            let cpu = server.cpu_seconds();
            let started = Instant::now();
            let duration = Duration::from_secs_f64(seconds);
            let bursts = senders.iter().map(|x| x.burst(rate / s as f64, duration));
            let mut sent = 0;
            for burst in futures_util::future::join_all(bursts).await {
                sent += burst?;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let elapsed = started.elapsed().as_secs_f64();
            let cpu = (server.cpu_seconds() - cpu) / elapsed;
            let (m, r) = (
                messages.load(Ordering::Relaxed),
                receipts.load(Ordering::Relaxed),
            );
            let lost = (sent * n as u64).saturating_sub(m);
            println!(
                "receipts chinwag {n} online in general, {rate} msg/s, {}: {:.0} message \
                 deliveries/s (lost {lost}), {:.0} receipt frames/s, hub CPU {:.0}%",
                if acks {
                    "acknowledged as the web UI does"
                } else {
                    "nobody acknowledges"
                },
                m as f64 / elapsed,
                r as f64 / elapsed,
                cpu * 100.0
            );
            emit(
                "receipts",
                json!({ "online": n, "senders": s, "messages_per_second": rate,
                        "acknowledged": acks, "seconds": seconds, "sent": sent,
                        "message_deliveries_per_second": m as f64 / elapsed, "lost": lost,
                        "receipt_frames_per_second": r as f64 / elapsed, "hub_cpu": cpu }),
            );
            drop(senders);
            for reader in readers {
                reader.abort();
            }
            server.stop().await;
        }
    }
    Ok(())
}

/// A member of `general` reading what comes; with `acks`, acknowledging as the web UI does.
async fn acknowledge(
    ws: raw::Socket,
    acks: bool,
    looking: bool,
    messages: Arc<AtomicU64>,
    receipts: Arc<AtomicU64>,
) {
    let (mut sink, mut stream) = ws.split();
    let quiet = Duration::from_millis(150);
    let mut pending: Option<(i64, tokio::time::Instant)> = None;
    loop {
        let due = pending.map(|(_, at)| at);
        let next = tokio::select! {
            next = stream.next() => next,
            () = async { tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)).await }, if due.is_some() => {
                if let Some((seq, _)) = pending.take() {
                    let frame = format!(r#"{{"type":"delivered","conversation_id":1,"seq":{seq}}}"#);
                    if sink.send(Message::Text(frame.into())).await.is_err() {
                        return;
                    }
                }
                continue;
            }
        };
        let Some(Ok(Message::Text(text))) = next else {
            if next.is_none() {
                return;
            }
            continue;
        };
        if text.contains(r#""kind":"receipt""#) {
            receipts.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if !text.contains(r#""kind":"message_new""#) {
            continue;
        }
        messages.fetch_add(1, Ordering::Relaxed);
        let Some(seq) = message_seq(&text) else {
            continue;
        };
        if !acks {
            continue;
        }
        if looking {
            let frame = format!(r#"{{"type":"read","conversation_id":1,"seq":{seq}}}"#);
            if sink.send(Message::Text(frame.into())).await.is_err() {
                return;
            }
        } else {
            pending = Some((seq, tokio::time::Instant::now() + quiet));
        }
    }
}

/// The `seq` of the message in a `message_new` frame.
fn message_seq(frame: &str) -> Option<i64> {
    let at = frame.find(r#""seq":"#)? + 6;
    let digits = &frame[at..];
    let end = digits.find(|c: char| !c.is_ascii_digit())?;
    digits[..end].parse().ok()
}

/// Idle authenticated connections: hub memory per connection and connect rate.
async fn connections(options: &Options) -> Result<()> {
    // 1,000 as well as the target's 10,000, to show how the cost grows with the count.
    let sizes: &[usize] = if options.smoke {
        &[300]
    } else {
        &[1000, 10_000]
    };
    for &n in sizes {
        connections_of(options, n).await?;
    }
    Ok(())
}

async fn connections_of(options: &Options, n: usize) -> Result<()> {
    for target in [Target::Floor, Target::Hub] {
        let dir = tempfile::tempdir().context("temporary data directory")?;
        let (server, accounts) = match target {
            Target::Floor => (Server::floor(options).await?, Vec::new()),
            Target::Hub => {
                let accounts = hub::seed_users(dir.path(), "user", n).await?;
                (Server::hub(options, dir.path()).await?, accounts)
            }
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = server.rss_kib();
        let started = Instant::now();
        let sockets = match target {
            Target::Floor => load::open_floor(&server.ws_url(), n, 0).await?,
            Target::Hub => load::open_hub(&server.ws_url(), &accounts, 0, 100).await?,
        };
        let took = started.elapsed().as_secs_f64();
        // Idle clients still read whatever the hub tells them.
        let drains: Vec<_> = sockets
            .into_iter()
            .map(|mut ws| tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} }))
            .collect();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = server.rss_kib();
        let per = after.saturating_sub(before) as f64 / n as f64;
        println!(
            "connections {:7} {n} idle connections{}: {:.0} connects/s, server RSS {} → {} \
             KiB ({per:.1} KiB per connection)",
            target.name(),
            if target == Target::Hub {
                " (authenticated)"
            } else {
                ""
            },
            n as f64 / took,
            before,
            after
        );
        emit(
            "connections",
            json!({ "target": target.name(), "connections": n,
                    "connects_per_second": n as f64 / took, "rss_before_kib": before,
                    "rss_after_kib": after, "kib_per_connection": per }),
        );
        for d in drains {
            d.abort();
        }
        server.stop().await;
    }
    Ok(())
}

/// Persistence: many senders, each in a group of its own, pipelining; committed messages a
/// second and send → ack latency.
async fn persistence(options: &Options) -> Result<()> {
    let (senders, window, seconds) = if options.smoke {
        (10, 16, 1.0)
    } else {
        (64, 64, 10.0)
    };
    let dir = tempfile::tempdir().context("temporary data directory")?;
    let accounts = hub::seed_users(dir.path(), "writer", senders).await?;
    let groups = hub::seed_groups(dir.path(), &accounts, &[], 1).await?;
    let server = Server::hub(options, dir.path()).await?;
    let sockets = load::open_hub(&server.ws_url(), &accounts, 0, 100).await?;
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = sockets
        .into_iter()
        .zip(groups)
        .enumerate()
        .map(|(i, (ws, group))| tokio::spawn(pipeline(ws, group.into(), i, window, until)))
        .collect();
    let mut all = load::histogram();
    let (mut acked, mut refused) = (0u64, 0u64);
    for task in tasks {
        let (h, a, r) = task.await.context("a sender failed")??;
        let _ = all.add(&h);
        acked += a;
        refused += r;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "persistence chinwag {senders} senders × {window} in flight for {seconds} s: {acked} \
         committed ({:.0}/s), {refused} refused; send → ack {}",
        acked as f64 / elapsed,
        latency_text(&all)
    );
    let mut fields = json!({ "senders": senders, "window": window, "seconds": seconds,
        "committed": acked, "committed_per_second": acked as f64 / elapsed, "refused": refused });
    merge(&mut fields, latency_json(&all));
    emit("persistence", fields);
    server.stop().await;
    Ok(())
}

/// One sender keeping `window` messages in flight until `until`; returns its send → ack
/// latencies and how many were acknowledged and refused.
async fn pipeline(
    ws: raw::Socket,
    group: i64,
    i: usize,
    window: usize,
    until: Instant,
) -> Result<(hdrhistogram::Histogram<u64>, u64, u64)> {
    let (mut sink, mut stream) = ws.split();
    let mut latency = load::histogram();
    let mut in_flight: VecDeque<Instant> = VecDeque::new();
    let (mut n, mut acked, mut refused) = (0u64, 0u64, 0u64);
    let frame = |n: u64| {
        Message::Text(
            format!(
                r#"{{"type":"send","conversation_id":{group},"client_id":"w{i}-{n}","body":"entry {n}: a line of chat, about as long as people write them"}}"#
            )
            .into(),
        )
    };
    while in_flight.len() < window {
        sink.feed(frame(n)).await?;
        in_flight.push_back(Instant::now());
        n += 1;
    }
    sink.flush().await?;
    let deadline = until + Duration::from_secs(30);
    while !in_flight.is_empty() {
        let next = tokio::time::timeout_at(deadline.into(), stream.next())
            .await
            .context("acknowledgements stopped coming")?;
        let Some(message) = next else {
            bail!("the hub closed the connection");
        };
        let Message::Text(text) = message? else {
            continue;
        };
        let ack = text.starts_with(r#"{"type":"ack""#);
        if !ack && !text.starts_with(r#"{"type":"error""#) {
            continue;
        }
        if let Some(sent) = in_flight.pop_front() {
            let _ = latency.record(sent.elapsed().as_micros().max(1) as u64);
        }
        if ack {
            acked += 1;
        } else {
            refused += 1;
        }
        if Instant::now() < until {
            sink.send(frame(n)).await?;
            in_flight.push_back(Instant::now());
            n += 1;
        }
    }
    Ok((latency, acked, refused))
}

/// History and resume over a large store.
async fn history(options: &Options) -> Result<()> {
    let (total, missed, requests) = if options.smoke {
        (20_000usize, 2_000i64, 50)
    } else {
        (1_000_000, 100_000, 500)
    };
    let dir = tempfile::tempdir().context("temporary data directory")?;
    let accounts: Vec<Account> = hub::seed_users(dir.path(), "writer", 11).await?;
    let seeding = Instant::now();
    hub::seed_messages(dir.path(), &accounts[1..], total).await?;
    println!(
        "history: stored {total} messages in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let server = Server::hub(options, dir.path()).await?;
    let reader = &accounts[0];
    let client = reqwest::Client::new();
    let base = server.http_base();
    let mut random = 0x2545_f491_4f6c_dd1du64;
    let mut page = load::histogram();
    for _ in 0..requests {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        let before = 51 + random % (total as u64 - 50);
        let url = format!("{base}/conversations/1/messages?before={before}&limit=50");
        let took = timed_get(&client, &url, &reader.token).await?;
        let _ = page.record(took);
    }
    let mut list = load::histogram();
    for _ in 0..requests {
        let took = timed_get(&client, &format!("{base}/conversations"), &reader.token).await?;
        let _ = list.record(took);
    }
    println!(
        "history chinwag over {total} messages: a 50-message page {}; the conversation list \
         with unread counts {}",
        latency_text(&page),
        latency_text(&list)
    );
    // Search: a common word, a rare one, two words, a word in no message, and one in all.
    let searches = [
        ("common word", hub::word(1)),
        ("rare word", hub::word(4000)),
        ("two words", format!("{} {}", hub::word(3), hub::word(700))),
        ("word in no message", "nowhere".to_owned()),
        ("word in every message", "history".to_owned()),
    ];
    let mut search_fields = serde_json::Map::new();
    for (what, text) in &searches {
        let mut latency = load::histogram();
        let mut found = 0;
        for _ in 0..requests / 5 {
            let url = format!("{base}/search?q={}&limit=20", text.replace(' ', "%20"));
            let started = Instant::now();
            let response = client.get(&url).bearer_auth(&reader.token).send().await?;
            let status = response.status();
            let body: serde_json::Value = response.json().await?;
            let _ = latency.record(started.elapsed().as_micros().max(1) as u64);
            if !status.is_success() {
                bail!("{url}: {status}: {body}");
            }
            found = body["results"].as_array().map_or(0, Vec::len);
        }
        println!(
            "history chinwag: search over {total} messages, {what} ({text:?}, {found} results): {}",
            latency_text(&latency)
        );
        search_fields.insert((*what).to_owned(), latency_json(&latency));
    }
    let (ws, ready) = raw::open(&server.ws_url(), None, &reader.token, None).await?;
    drop(ws);
    let from = EventId((ready.last_event_id.get() - missed).max(0));
    let started = Instant::now();
    let (ws, resumed) = raw::open(&server.ws_url(), None, &reader.token, Some(from)).await?;
    let catch_up = started.elapsed().as_secs_f64();
    drop(ws);
    println!(
        "history chinwag: a client that missed {missed} events caught up in {catch_up:.2} s \
         ({} events replayed, {:.0}/s)",
        resumed.replayed.len(),
        resumed.replayed.len() as f64 / catch_up
    );
    emit(
        "history",
        json!({ "messages": total, "page": latency_json(&page), "list": latency_json(&list),
                "search": search_fields,
                "missed_events": missed, "replayed": resumed.replayed.len(),
                "catch_up_seconds": catch_up }),
    );
    server.stop().await;
    Ok(())
}

/// A GET's time to the whole body, in microseconds.
async fn timed_get(client: &reqwest::Client, url: &str, token: &str) -> Result<u64> {
    let started = Instant::now();
    let response = client.get(url).bearer_auth(token).send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() {
        bail!("{url}: {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(started.elapsed().as_micros().max(1) as u64)
}

/// Footprint: start to listening, idle memory, binary size.
async fn footprint(options: &Options) -> Result<()> {
    let runs = if options.smoke { 2 } else { 9 };
    let mut starts = Vec::new();
    let mut idle = 0;
    for run in 0..runs {
        let dir = tempfile::tempdir().context("temporary data directory")?;
        let server = Server::hub(options, dir.path()).await?;
        starts.push(server.started_in.as_secs_f64() * 1000.0);
        if run == 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            idle = server.rss_kib();
        }
        server.stop().await;
    }
    starts.sort_by(|a, b| a.total_cmp(b));
    let median = starts[starts.len() / 2];
    let size = std::fs::metadata(&options.hub_bin)?.len();
    let stripped_dir = tempfile::tempdir().context("temporary directory")?;
    let stripped = stripped_dir.path().join("chinwag");
    std::fs::copy(&options.hub_bin, &stripped)?;
    let strip = std::process::Command::new("strip").arg(&stripped).status();
    let stripped_size = match strip {
        Ok(s) if s.success() => std::fs::metadata(&stripped)?.len(),
        _ => bail!("`strip` is missing (binutils)"),
    };
    let ldd = std::process::Command::new("ldd")
        .arg(&options.hub_bin)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let headless = !ldd.contains("webkit") && !ldd.contains("gtk");
    println!(
        "footprint chinwag: start to listening {median:.1} ms (median of {runs}, fresh data \
         directory); idle RSS {:.1} MiB; binary {:.1} MiB, stripped {:.1} MiB ({})",
        idle as f64 / 1024.0,
        size as f64 / 1048576.0,
        stripped_size as f64 / 1048576.0,
        if headless {
            "headless build"
        } else {
            "DESKTOP build: measure the headless one"
        }
    );
    emit(
        "footprint",
        json!({ "start_ms": median, "idle_rss_kib": idle, "binary_bytes": size,
                "stripped_bytes": stripped_size, "headless": headless }),
    );
    Ok(())
}

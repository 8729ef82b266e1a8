//! Faults survived: crashes, dropped connections, vanished peers, stuck readers, a full disk
//! and restarts. Each test prints the figures it measured (`cargo test -- --nocapture`
//! shows them; CI runs with it).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{config, Binary, TestHub, Ws, WAIT};

/// What one pipelining sender saw: how many it sent and which were acknowledged, with
/// their sequence numbers.
#[derive(Default)]
struct SenderLog {
    sent: usize,
    acked: BTreeMap<usize, i64>,
    errors: Vec<Value>,
}

/// Sends `prefix-N` messages to `conversation` as fast as the hub acknowledges them, with
/// up to `window` in flight, until `stop` is set or the connection breaks.
async fn pipeline_sender(
    ws: Ws,
    prefix: String,
    conversation: i64,
    window: usize,
    stop: Arc<AtomicBool>,
) -> SenderLog {
    let (mut sink, mut stream) = ws.socket.split();
    let permits = Arc::new(Semaphore::new(window));
    let sent = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (permits, prefix, sent, stop) =
            (permits.clone(), prefix.clone(), sent.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let Ok(permit) = permits.acquire().await else {
                    break;
                };
                permit.forget();
                let frame = json!({
                    "type": "send", "conversation_id": conversation,
                    "client_id": format!("{prefix}-{n}"), "body": format!("{prefix} says {n}"),
                });
                if sink
                    .send(Message::Text(frame.to_string().into()))
                    .await
                    .is_err()
                {
                    break;
                }
                n += 1;
                sent.store(n, Ordering::SeqCst);
            }
        })
    };
    let mut log = SenderLog::default();
    loop {
        let next = tokio::time::timeout(WAIT, stream.next()).await;
        let Ok(Some(Ok(message))) = next else { break };
        let Message::Text(text) = message else {
            continue;
        };
        let frame: Value = serde_json::from_str(&text).expect("JSON");
        match frame["type"].as_str() {
            Some("ack") => {
                let client_id = frame["message"]["client_id"].as_str().expect("client id");
                let n = index_of(client_id, &prefix);
                log.acked
                    .insert(n, frame["message"]["seq"].as_i64().expect("seq"));
                permits.add_permits(1);
            }
            Some("error") => {
                log.errors.push(frame);
                permits.add_permits(1);
            }
            _ => {}
        }
        // Stopped on purpose: finish once everything in flight is answered.
        if writer.is_finished() && log.acked.len() + log.errors.len() >= sent.load(Ordering::SeqCst)
        {
            break;
        }
    }
    permits.close();
    writer.await.expect("writer");
    log.sent = sent.load(Ordering::SeqCst);
    log
}

fn index_of(client_id: &str, prefix: &str) -> usize {
    client_id
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected client id {client_id}"))
}

/// Collects the `message_new` events one receiver gets, by sequence number, counting
/// duplicates, until the connection breaks.
async fn receiver(mut ws: Ws) -> (Ws, HashMap<i64, usize>) {
    let mut seen = HashMap::new();
    while let Some(frame) = ws.try_next(WAIT).await {
        if frame["type"] == "__close" {
            break;
        }
        if frame["event"]["kind"] == "message_new" {
            *seen
                .entry(frame["event"]["message"]["seq"].as_i64().expect("seq"))
                .or_insert(0) += 1;
        }
    }
    (ws, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_loses_no_acknowledged_message() {
    const SENDERS: usize = 4;
    let dir = tempfile::tempdir().expect("dir");
    let rate = ["--messages-per-second", "1000000"];
    let bin = Binary::start_with(dir.path(), &rate);
    let api = bin.api();
    let mut senders = Vec::new();
    for i in 0..SENDERS {
        senders.push(api.register(&format!("sender{i}")).await);
    }
    let watcher = api.register("watcher").await;
    let (watch_ws, _) = Ws::connect_url(&bin.ws_url(), &watcher, None).await;
    let watching = tokio::spawn(receiver(watch_ws));

    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (i, sender) in senders.iter().enumerate() {
        let (ws, _) = Ws::connect_url(&bin.ws_url(), sender, None).await;
        tasks.push(tokio::spawn(pipeline_sender(
            ws,
            format!("s{i}"),
            1,
            256,
            stop.clone(),
        )));
    }
    // Let the senders get going, then kill the hub while they are in full flow.
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    bin.signal("KILL");
    let killed_after = started.elapsed();
    let mut logs = Vec::new();
    for task in tasks {
        logs.push(task.await.expect("sender"));
    }
    let (watch_ws, watched) = watching.await.expect("watcher");
    let mut bin = bin;
    assert_eq!(bin.wait().code(), None, "killed by a signal");

    let acked: usize = logs.iter().map(|l| l.acked.len()).sum();
    let sent: usize = logs.iter().map(|l| l.sent).sum();
    for log in &logs {
        assert!(
            log.errors.is_empty(),
            "no send was refused: {:?}",
            log.errors
        );
    }
    assert!(acked >= 200, "the senders got going: {acked} acknowledged");

    let db = dir.path().join("chinwag.db");
    let integrity: String = rusqlite::Connection::open(&db)
        .expect("db opens")
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity check");
    assert_eq!(integrity, "ok");

    let bin = Binary::start_with(dir.path(), &rate);
    let api = bin.api();
    let watcher = api.login(&watcher.username).await;
    let stored = api.all_messages(&watcher, 1).await;
    let mut found = 0;
    let mut duplicates = 0;
    let mut by_client: HashMap<&str, Vec<i64>> = HashMap::new();
    for m in &stored {
        by_client
            .entry(m["client_id"].as_str().expect("client id"))
            .or_default()
            .push(m["seq"].as_i64().expect("seq"));
    }
    for (i, log) in logs.iter().enumerate() {
        for (n, seq) in &log.acked {
            let copies = by_client
                .get(format!("s{i}-{n}").as_str())
                .cloned()
                .unwrap_or_default();
            duplicates += copies.len().saturating_sub(1);
            if copies == [*seq] {
                found += 1;
            }
        }
        // Each sender's messages are stored in the order it sent them.
        let mine: Vec<usize> = stored
            .iter()
            .filter_map(|m| {
                let id = m["client_id"].as_str()?;
                id.starts_with(&format!("s{i}-"))
                    .then(|| index_of(id, &format!("s{i}")))
            })
            .collect();
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "sender {i} in order");
    }
    let seqs: Vec<i64> = stored
        .iter()
        .map(|m| m["seq"].as_i64().unwrap_or(0))
        .collect();
    let gapless = seqs == (1..=seqs.len() as i64).collect::<Vec<_>>();
    println!(
        "crash durability: {SENDERS} senders, {sent} sent, {acked} acknowledged in {:.2} s \
         ({:.0} msg/s) before SIGKILL; after restart {found}/{acked} acknowledged found with \
         their sequence, {duplicates} duplicates, {} stored, integrity_check {integrity}",
        killed_after.as_secs_f64(),
        acked as f64 / killed_after.as_secs_f64(),
        stored.len(),
    );
    assert_eq!(
        found, acked,
        "every acknowledged message is stored, once, as acknowledged"
    );
    assert_eq!(duplicates, 0);
    assert!(gapless, "sequence numbers have no gaps");

    // The watcher resumes from the last event it saw and converges on the stored history:
    // every message once, between what it saw live and what it is replayed.
    let (mut resumed, replayed) =
        Ws::connect_url(&bin.ws_url(), &watcher, Some(watch_ws.last_event_id)).await;
    let mut seen = watched;
    for frame in &replayed {
        if frame["event"]["kind"] == "message_new" {
            *seen
                .entry(frame["event"]["message"]["seq"].as_i64().expect("seq"))
                .or_insert(0) += 1;
        }
    }
    let twice = seen.values().filter(|&&n| n > 1).count();
    let stored_seqs: HashSet<i64> = seqs.iter().copied().collect();
    let seen_seqs: HashSet<i64> = seen.keys().copied().collect();
    println!(
        "crash durability: watcher saw {} live, {} replayed on resume, {twice} twice",
        seen.len() - replayed.len().min(seen.len()),
        replayed.len()
    );
    assert_eq!(twice, 0, "the watcher got no message twice");
    assert_eq!(
        seen_seqs, stored_seqs,
        "the watcher converged on the stored history"
    );

    // Each sender retries what it did not see acknowledged, under the same client ids: the
    // ones committed before the crash are answered with the stored message, the rest are
    // stored now. Nothing twice, nothing lost.
    for (i, (sender, log)) in senders.iter().zip(&logs).enumerate() {
        let sender = api.login(&sender.username).await;
        let (mut ws, _) = Ws::connect_url(&bin.ws_url(), &sender, None).await;
        let missing: Vec<usize> = (0..log.sent)
            .filter(|n| !log.acked.contains_key(n))
            .collect();
        for n in &missing {
            ws.send(json!({
                "type": "send", "conversation_id": 1, "client_id": format!("s{i}-{n}"),
                "body": format!("s{i} says {n}")
            }))
            .await;
        }
        for _ in &missing {
            let reply = ws
                .expect("ack", |f| f["type"] == "ack" || f["type"] == "error")
                .await;
            assert_eq!(reply["type"], "ack", "{reply}");
        }
    }
    let after = api.all_messages(&watcher, 1).await;
    let distinct: HashSet<&str> = after
        .iter()
        .filter_map(|m| m["client_id"].as_str())
        .collect();
    println!(
        "crash durability: after retries {} stored for {sent} sent, {} distinct",
        after.len(),
        distinct.len()
    );
    assert_eq!(
        after.len(),
        sent,
        "every message sent is stored exactly once"
    );
    assert_eq!(distinct.len(), sent);
    // The resumed watcher hears the retried ones live, after what it already had.
    let retried = sent - stored.len();
    for _ in 0..retried {
        let event = resumed.event("message_new").await;
        assert!(event["message"]["seq"].as_i64() > seqs.last().copied());
    }
}

#[tokio::test]
async fn a_dropped_connection_and_a_retry_never_duplicate_or_lose() {
    let mut cfg = config();
    cfg.messages_per_second = 10_000;
    cfg.message_burst = 10_000;
    let hub = TestHub::start_with(cfg).await;
    let api = hub.api();
    let alice = api.register("alice").await;
    const ROUNDS: usize = 60;
    let mut committed_before_retry = 0;
    for i in 0..ROUNDS {
        // Send, then vanish: at once, or after a moment (the commit may or may not have
        // happened; the client cannot know).
        let mut ws = Ws::connect(&hub, &alice).await;
        ws.send(json!({
            "type": "send", "conversation_id": 1, "client_id": format!("r{i}"),
            "body": format!("retry {i}")
        }))
        .await;
        if i % 3 == 1 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        } else if i % 3 == 2 {
            // After the commit: the ack is on its way and never read.
            ws.frame("ack").await;
        }
        drop(ws);
        let stored_now = api
            .all_messages(&alice, 1)
            .await
            .iter()
            .any(|m| m["client_id"] == format!("r{i}").as_str());
        committed_before_retry += usize::from(stored_now);
        // The client reconnects and retries with the same client id.
        let mut ws = Ws::connect(&hub, &alice).await;
        let reply = ws.say(1, &format!("r{i}"), &format!("retry {i}")).await;
        assert_eq!(reply["type"], "ack", "{reply}");
        // Twice, for good measure.
        let again = ws.say(1, &format!("r{i}"), &format!("retry {i}")).await;
        assert_eq!(again["message"]["seq"], reply["message"]["seq"]);
    }
    // The same over REST.
    for i in 0..10 {
        let first = api.send(&alice, 1, &format!("p{i}"), "rest").await;
        let second = api.send(&alice, 1, &format!("p{i}"), "rest").await;
        assert_eq!(first.body["seq"], second.body["seq"], "{:?}", second.body);
    }
    let stored = api.all_messages(&alice, 1).await;
    let distinct: HashSet<&str> = stored
        .iter()
        .filter_map(|m| m["client_id"].as_str())
        .collect();
    println!(
        "retries: {ROUNDS} sends dropped mid-flight ({committed_before_retry} had committed \
         before the retry) + 10 REST resends: {} stored, {} distinct, expected {}",
        stored.len(),
        distinct.len(),
        ROUNDS + 10
    );
    assert_eq!(stored.len(), ROUNDS + 10);
    assert_eq!(distinct.len(), ROUNDS + 10);
    assert!(
        committed_before_retry >= ROUNDS / 3,
        "some were committed before the retry"
    );
}

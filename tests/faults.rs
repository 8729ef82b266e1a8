//! Faults survived: crashes, dropped connections, vanished peers, stuck readers, a full disk
//! and restarts. Each test prints the figures it measured (`cargo test -- --nocapture`
//! shows them; CI runs with it).

use chinwag_proto::UserId;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{
    assert_gapless, can_run, client_ids, integrity_check, sending_at, server_command, Binary, Need,
    Session, TestHub, Ws, WAIT,
};

/// What one pipelining sender saw: how many it sent and which were acknowledged, with
/// their sequence numbers.
#[derive(Default)]
struct SenderLog {
    sent: usize,
    acked: BTreeMap<usize, i64>,
    errors: Vec<Value>,
    /// The close frame's code, if the hub sent one (none: the socket was reset or cut).
    close: Option<u16>,
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
        let text = match message {
            Message::Text(text) => text,
            Message::Close(frame) => {
                log.close = frame.map(|f| u16::from(f.code));
                continue;
            }
            _ => continue,
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

/// One [`pipeline_sender`] per sender on `bin`, `s0-…`, `s1-…` into `general`, 256 in flight
/// each, until its connection ends.
async fn pipelining(bin: &Binary, senders: &[Session]) -> Vec<tokio::task::JoinHandle<SenderLog>> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (i, sender) in senders.iter().enumerate() {
        let (ws, _) = Ws::connect_url(&bin.ws_url(), sender, None).await;
        let log = pipeline_sender(ws, format!("s{i}"), 1, 256, stop.clone());
        tasks.push(tokio::spawn(log));
    }
    tasks
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
async fn sigterm_mid_stream_acks_every_committed_message_and_says_going_away() {
    const SENDERS: usize = 4;
    let dir = tempfile::tempdir().expect("dir");
    let rate = ["--messages-per-second", "1000000"];
    let mut bin = Binary::start_with(dir.path(), &rate);
    let api = bin.api();
    let mut senders = Vec::new();
    for i in 0..SENDERS {
        senders.push(api.register(&format!("sender{i}")).await);
    }
    let tasks = pipelining(&bin, &senders).await;
    // In full flow, with frames still unread by the hub, it is asked to stop.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    bin.signal("TERM");
    let mut logs = Vec::new();
    for task in tasks {
        logs.push(task.await.expect("sender"));
    }
    assert_eq!(bin.wait().code(), Some(0), "a graceful exit");

    let bin = Binary::start_with(dir.path(), &rate);
    let api = bin.api();
    let reader = api.login(&senders[0].username).await;
    let stored = api.all_messages(&reader, 1).await;
    let stored: HashSet<&str> = stored
        .iter()
        .filter_map(|m| m["client_id"].as_str())
        .collect();
    let sent: usize = logs.iter().map(|l| l.sent).sum();
    let acked: usize = logs.iter().map(|l| l.acked.len()).sum();
    let mut unacked = 0;
    for (i, log) in logs.iter().enumerate() {
        let acked: HashSet<String> = log.acked.keys().map(|n| format!("s{i}-{n}")).collect();
        let mine = stored.iter().filter(|id| id.starts_with(&format!("s{i}-")));
        unacked += mine.filter(|id| !acked.contains(**id)).count();
    }
    let closes: Vec<Option<u16>> = logs.iter().map(|l| l.close).collect();
    println!(
        "graceful stop: {SENDERS} pipelining senders, {sent} sent, {acked} acknowledged, \
         {} stored; {unacked} committed without their ack; close codes {closes:?}",
        stored.len()
    );
    assert_eq!(
        unacked, 0,
        "every committed message was acknowledged to its sender"
    );
    assert!(
        closes.iter().all(|c| *c == Some(1001)),
        "every sender heard going away: {closes:?}"
    );
    for log in &logs {
        assert!(
            log.errors.is_empty(),
            "no send was refused: {:?}",
            log.errors
        );
    }
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

    let tasks = pipelining(&bin, &senders).await;
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
    let integrity = integrity_check(&db);
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
    let live = watched.len();
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
        "crash durability: watcher saw {live} live, {} replayed on resume, {twice} twice",
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
            let reply = ws.reply().await;
            assert_eq!(reply["type"], "ack", "{reply}");
        }
    }
    let after = api.all_messages(&watcher, 1).await;
    let distinct: HashSet<&str> = client_ids(&after).into_iter().collect();
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
    let cfg = sending_at(10_000);
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
    let distinct: HashSet<&str> = client_ids(&stored).into_iter().collect();
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

/// Connects and authenticates `n` sessions at once; each then counts the `message_new`
/// frames it gets (the first `probes` also record send→receive latency from the body, which
/// is the send time in microseconds since `epoch`). Returns the counters and latencies.
struct Crowd {
    counts: Vec<Arc<AtomicUsize>>,
    latencies: Arc<std::sync::Mutex<Vec<u64>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Crowd {
    async fn connect(
        url: &str,
        sessions: &[crate::common::Session],
        probes: usize,
        epoch: Instant,
    ) -> Crowd {
        let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut counts = Vec::new();
        let mut tasks = Vec::new();
        for chunk in sessions.chunks(50) {
            let mut connecting = Vec::new();
            for session in chunk {
                let url = url.to_owned();
                let session = session.clone();
                connecting.push(tokio::spawn(async move {
                    Ws::connect_url(&url, &session, None).await.0
                }));
            }
            for ws in connecting {
                let ws = ws.await.expect("connects");
                let count = Arc::new(AtomicUsize::new(0));
                counts.push(count.clone());
                let probe = tasks.len() < probes;
                let latencies = latencies.clone();
                tasks.push(tokio::spawn(async move {
                    let (_sink, mut stream) = ws.socket.split();
                    while let Some(Ok(message)) = stream.next().await {
                        let Message::Text(text) = message else {
                            continue;
                        };
                        if !text.contains("\"message_new\"") {
                            continue;
                        }
                        count.fetch_add(1, Ordering::Relaxed);
                        if probe {
                            let frame: Value = serde_json::from_str(&text).expect("JSON");
                            if let Some(sent) = frame["event"]["message"]["body"]
                                .as_str()
                                .and_then(|b| b.split(' ').next())
                                .and_then(|t| t.parse::<u64>().ok())
                            {
                                let now = epoch.elapsed().as_micros() as u64;
                                latencies
                                    .lock()
                                    .expect("lock")
                                    .push(now.saturating_sub(sent));
                            }
                        }
                    }
                }));
            }
        }
        Crowd {
            counts,
            latencies,
            tasks,
        }
    }

    /// Waits until every member counted `n` messages; returns how many did.
    async fn wait_for(&self, n: usize) -> usize {
        let deadline = Instant::now() + WAIT * 3;
        loop {
            let done = self
                .counts
                .iter()
                .filter(|c| c.load(Ordering::Relaxed) >= n)
                .count();
            if done == self.counts.len() || Instant::now() > deadline {
                return done;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// p50, p99 and max of the latencies recorded since the last call, in ms.
    fn take_latencies(&self) -> (f64, f64, f64) {
        let mut all = std::mem::take(&mut *self.latencies.lock().expect("lock"));
        all.sort_unstable();
        let at = |q: f64| {
            all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0) as f64
                / 1000.0
        };
        (
            at(0.5),
            at(0.99),
            all.last().copied().unwrap_or(0) as f64 / 1000.0,
        )
    }
}

impl Drop for Crowd {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Five senders chat in `general` at a steady pace: `per_sender` messages each, one every
/// 100 ms, the body starting with the send time.
async fn chat_steadily(
    url: &str,
    senders: &[crate::common::Session],
    per_sender: usize,
    epoch: Instant,
    tag: &str,
) {
    let mut tasks = Vec::new();
    for (i, sender) in senders.iter().enumerate() {
        let (mut ws, _) = Ws::connect_url(url, sender, None).await;
        let tag = tag.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            for n in 0..per_sender {
                tick.tick().await;
                let now = epoch.elapsed().as_micros();
                ws.send(json!({
                    "type": "send", "conversation_id": 1,
                    "client_id": format!("{tag}-{i}-{n}"), "body": format!("{now} {tag}"),
                }))
                .await;
            }
            for _ in 0..per_sender {
                let reply = ws.reply().await;
                assert_eq!(reply["type"], "ack", "{reply}");
            }
        }));
    }
    for task in tasks {
        task.await.expect("sender");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_reader_among_a_thousand_neither_grows_the_hub_nor_slows_the_rest() {
    const CROWD: usize = 1000;
    const SENDERS: usize = 5;
    const PER_SENDER: usize = 30;
    let mut cfg = sending_at(10_000);
    cfg.max_connections_per_addr = 4 * CROWD;
    cfg.outbound_queue = 64;
    cfg.heartbeat = Duration::from_secs(1);
    let hub = TestHub::start_with(cfg).await;
    let epoch = Instant::now();
    let people = hub.crowd("user", CROWD).await;
    let stuck_user = &hub.crowd("stuck", 1).await[0];
    let firehose = hub.crowd("firehose", 1).await.remove(0);
    let setup = Instant::now();
    let crowd = Crowd::connect(&hub.ws_url(), &people, 20, epoch).await;
    println!(
        "stuck reader: {CROWD} connected and synced in {:.1} s",
        setup.elapsed().as_secs_f64()
    );
    let senders = &people[..SENDERS];
    let per_phase = SENDERS * PER_SENDER;
    let url = hub.ws_url();
    // In each phase, the crowd chats while a firehose sends 300 messages of 12 KiB into a
    // direct conversation: first with someone who reads them, then with a client that
    // authenticated and never reads again. The only difference is the stuck reader.
    let firehose_into = |dm: i64, tag: &'static str| {
        let url = url.clone();
        let firehose = firehose.clone();
        async move {
            let big = "x".repeat(12 * 1024);
            let (mut ws, _) = Ws::connect_url(&url, &firehose, None).await;
            for n in 0..300 {
                ws.send(json!({ "type": "send", "conversation_id": dm, "client_id": format!("{tag}{n}"), "body": big })).await;
            }
            for _ in 0..300 {
                let reply = ws.reply().await;
                assert_eq!(reply["type"], "ack", "{reply}");
            }
        }
    };

    let reader_user = &hub.crowd("reader", 1).await[0];
    let reader = Crowd::connect(&url, std::slice::from_ref(reader_user), 0, epoch).await;
    let calm_dm = hub.api().direct(&firehose, reader_user).await;
    let hose = tokio::spawn(firehose_into(calm_dm, "calm"));
    chat_steadily(&url, senders, PER_SENDER, epoch, "calm").await;
    hose.await.expect("firehose");
    assert_eq!(
        crowd.wait_for(per_phase).await,
        CROWD,
        "everyone got the calm phase"
    );
    assert_eq!(reader.wait_for(300 + per_phase).await, 1);
    let calm = crowd.take_latencies();

    let (stuck, _) = Ws::connect_url(&url, stuck_user, None).await;
    let dm = hub.api().direct(&firehose, stuck_user).await;
    let connections_with_stuck = hub.hub.connection_count();
    let stuck_at = Instant::now();
    // What the hub holds for the stuck reader, sampled all through the phase.
    let mut peak_queued = 0;
    let mut sample =
        || peak_queued = peak_queued.max(hub.hub.queued_bytes(Some(UserId(stuck_user.id))));
    let phase = async {
        let hose = tokio::spawn(firehose_into(dm, "stuck"));
        chat_steadily(&url, senders, PER_SENDER, epoch, "stuck").await;
        hose.await.expect("firehose");
    };
    tokio::pin!(phase);
    loop {
        tokio::select! {
            _ = &mut phase => break,
            _ = tokio::time::sleep(Duration::from_millis(5)) => sample(),
        }
    }
    assert_eq!(
        crowd.wait_for(2 * per_phase).await,
        CROWD,
        "everyone got the second phase"
    );
    let with_stuck = crowd.take_latencies();

    // The hub lets go of the stuck connection within a bounded time.
    let dropped = loop {
        sample();
        if hub.hub.connection_count() < connections_with_stuck {
            break stuck_at.elapsed();
        }
        assert!(
            stuck_at.elapsed() < WAIT,
            "the stuck connection was never dropped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!(
        "stuck reader: p50/p99/max latency to {} probes, calm {:.1}/{:.1}/{:.1} ms, with a stuck \
         reader {:.1}/{:.1}/{:.1} ms; stuck connection dropped after {:.1} s; the hub held at \
         most {} KiB for it (3600 KiB were sent to it)",
        20,
        calm.0,
        calm.1,
        calm.2,
        with_stuck.0,
        with_stuck.1,
        with_stuck.2,
        dropped.as_secs_f64(),
        peak_queued / 1024,
    );
    // A stuck reader that blocked the others would add whole seconds (the hub waits up to
    // five for a write to it); the bound is far from that and well above noise.
    let bound = (calm.1 * 3.0).max(calm.1 + 1000.0);
    assert!(
        with_stuck.1 < bound,
        "the others were held up: p99 {} ms against {} ms calm",
        with_stuck.1,
        calm.1
    );
    // 300 messages of 12 KiB were meant for the stuck reader: the hub kept at most its
    // 64-frame queue of them, not the 3.6 MiB.
    assert!(
        peak_queued <= 64 * 13 * 1024,
        "the hub held {peak_queued} bytes for a reader that never reads"
    );
    drop(stuck);

    // Coming back, the stuck client resumes from the start and gets everything once.
    let (mut back, replayed) = Ws::connect_url(&hub.ws_url(), stuck_user, Some(0)).await;
    let mut seqs: HashMap<(i64, i64), usize> = HashMap::new();
    for frame in &replayed {
        if frame["event"]["kind"] == "message_new" {
            let m = &frame["event"]["message"];
            *seqs
                .entry((
                    m["conversation_id"].as_i64().unwrap_or(0),
                    m["seq"].as_i64().unwrap_or(0),
                ))
                .or_insert(0) += 1;
        }
    }
    let in_dm = seqs.keys().filter(|(c, _)| *c == dm).count();
    let in_general = seqs.keys().filter(|(c, _)| *c == 1).count();
    println!("stuck reader: on resume it was replayed {in_dm} direct and {in_general} general messages, none twice");
    assert!(seqs.values().all(|&n| n == 1), "none twice");
    assert_eq!(in_dm, 300);
    assert_eq!(in_general, 2 * per_phase);
    back.send(json!({ "type": "ping", "ref": "back" })).await;
    assert_eq!(back.frame("pong").await["ref"], "back");
}

/// A small tmpfs mounted over a temporary directory, unmounted when dropped. Needs root (the
/// test suite's entry point runs as root; see the README).
struct SmallDisk {
    dir: Option<tempfile::TempDir>,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().expect("dir");
        let status = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "mounting a tmpfs needs root: run the suite as root (scripts/test does)"
        );
        SmallDisk { dir: Some(dir) }
    }

    fn path(&self) -> &std::path::Path {
        self.dir.as_ref().expect("mounted").path()
    }

    fn remount(&self, option: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{option}")])
            .arg(self.path())
            .status()
            .expect("mount runs");
        assert!(status.success(), "remount {option}");
    }

    /// Fills the disk with a file until writing fails for want of space.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match file.write(&chunk) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(dir.path())
                .status();
        }
    }
}

/// Sends up to `max` messages until one is refused; returns the acknowledged client ids
/// and the refusal.
async fn send_until_refused(ws: &mut Ws, tag: &str, max: usize) -> (Vec<String>, Option<Value>) {
    let mut acked = Vec::new();
    let body = "z".repeat(4000);
    for n in 0..max {
        let id = format!("{tag}{n}");
        let reply = ws.say(1, &id, &format!("{id} {body}")).await;
        if reply["type"] == "ack" {
            acked.push(id);
        } else {
            return (acked, Some(reply));
        }
    }
    (acked, None)
}

#[tokio::test]
async fn a_full_disk_refuses_writes_clearly_keeps_reads_and_recovers() {
    if !can_run("full disk", Need::Root("root to mount a tmpfs")) {
        return;
    }
    let disk = SmallDisk::mount("6m");
    let dir = tempfile::TempDir::new_in(disk.path()).expect("data dir on the tmpfs");
    let mut cfg = sending_at(10_000);
    cfg.max_bad_frames = 10_000;
    let hub = TestHub::start_in(cfg, dir).await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let mut a = Ws::connect(&hub, &alice).await;
    let mut b = Ws::connect(&hub, &bob).await;
    let first = a.say(1, "before", "before the disk filled").await;
    assert_eq!(first["type"], "ack");

    // Disk full.
    let filler = disk.fill();
    let (acked, refused) = send_until_refused(&mut a, "full", 400).await;
    let refused = refused.expect("a write was refused once the disk was full");
    println!(
        "disk full: {} more sends fit in space SQLite already had, then: {}",
        acked.len(),
        refused
    );
    assert_eq!(refused["code"], "unavailable", "{refused}");
    assert!(refused["message"].as_str().unwrap_or("").contains("disk"));
    // A burst while full (the writer batches these): each is either acknowledged and stored
    // or refused and absent, never in between.
    for n in 0..50 {
        a.send(json!({
            "type": "send", "ref": format!("burst{n}"), "conversation_id": 1,
            "client_id": format!("burst{n}"), "body": "b".repeat(4000)
        }))
        .await;
    }
    let mut burst = HashMap::new();
    while burst.len() < 50 {
        let reply = a.reply().await;
        burst.insert(
            reply["ref"].as_str().expect("ref").to_owned(),
            reply["type"] == "ack",
        );
    }
    let rest = api.send(&alice, 1, "rest-full", "over REST").await;
    assert_eq!(rest.status, 503, "{:?}", rest.body);
    assert_eq!(rest.code(), "unavailable");
    // Reads go on: history, the conversation list, a new socket (resume).
    let history = api.all_messages(&bob, 1).await;
    let stored = client_ids(&history);
    for id in &acked {
        assert!(
            stored.contains(&id.as_str()),
            "{id} was acknowledged and is readable"
        );
    }
    let refused_id = refused["ref"].as_str().expect("ref");
    assert!(
        !stored.contains(&refused_id),
        "the refused message was not half-written"
    );
    assert!(!stored.contains(&"rest-full"));
    for (id, acked) in &burst {
        assert_eq!(
            stored.contains(&id.as_str()),
            *acked,
            "{id}: stored if and only if acknowledged"
        );
    }
    assert_eq!(api.get("/conversations", &bob.token).await.status, 200);
    // Monitoring sees it, and an upload is refused whole.
    let health = reqwest::get(format!("http://{}/healthz", hub.addr))
        .await
        .expect("probed");
    assert_eq!(
        health.status(),
        503,
        "the health check fails while the disk is full"
    );
    let upload = api
        .upload(
            &alice,
            1,
            "big.bin",
            "application/zip",
            vec![7u8; 2 * 1024 * 1024],
        )
        .await;
    assert_eq!(
        (upload.status, upload.code()),
        (503, "unavailable"),
        "{:?}",
        upload.body
    );
    assert_eq!(
        std::fs::read_dir(hub.dir.path().join("files/tmp"))
            .expect("tmp")
            .count(),
        0,
        "no partial upload left on the full disk"
    );
    let (mut b2, _) = Ws::connect_resume(&hub, &bob, Some(0)).await;
    b2.send(json!({ "type": "ping", "ref": "p" })).await;
    assert_eq!(b2.frame("pong").await["ref"], "p");

    // Space returns: the same message goes through, once.
    std::fs::remove_file(&filler).expect("free the space");
    let retry = a.say(1, refused_id, "after the disk was freed").await;
    assert_eq!(retry["type"], "ack", "{retry}");
    let live = b.message("after the disk was freed").await;
    assert_eq!(live["client_id"], refused_id);
    let rest = api.send(&alice, 1, "rest-full", "over REST").await;
    assert_eq!(rest.status, 201, "{:?}", rest.body);
    let health = reqwest::get(format!("http://{}/healthz", hub.addr))
        .await
        .expect("probed");
    assert_eq!(health.status(), 200, "healthy again");

    let history = api.all_messages(&bob, 1).await;
    let ids = client_ids(&history);
    let distinct: HashSet<&&str> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "nothing twice");
    assert_gapless(&history);
    let dir = hub.stop().await;
    let integrity = integrity_check(&dir.path().join("chinwag.db"));
    println!(
        "disk full: {} messages stored, no gaps, none twice, integrity_check {integrity}",
        ids.len()
    );
    assert_eq!(integrity, "ok");

    // A read-only disk (remounted so while the hub was down): the hub does not start and
    // says why in one line, and the data is untouched.
    disk.remount("ro");
    let out = server_command(dir.path()).output().expect("runs");
    disk.remount("rw");
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!(
        "read-only disk: exit {:?}, {}",
        out.status.code(),
        stderr.trim()
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.to_lowercase().contains("read-only"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    drop(dir);
    drop(disk);
}

/// An ext4 file system on a loop device, mounted `errors=remount-ro` over a temporary
/// directory; unmounted and detached when dropped. Needs root.
struct LoopDisk {
    mount: tempfile::TempDir,
    _image: tempfile::TempDir,
    device: String,
}

fn run(program: &str, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {} (needs root: run the suite as root, as scripts/test does)",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl LoopDisk {
    fn create(megabytes: u64) -> LoopDisk {
        let image = tempfile::tempdir().expect("dir");
        let file = image.path().join("disk.img");
        std::fs::File::create(&file)
            .and_then(|f| f.set_len(megabytes << 20))
            .expect("image");
        let file = file.to_str().expect("utf-8 path");
        let out = run("losetup", &["--find", "--show", file]);
        let device = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let disk = LoopDisk {
            mount: tempfile::tempdir().expect("dir"),
            _image: image,
            device,
        };
        run("mkfs.ext4", &["-q", "-F", &disk.device]);
        disk.mount_it();
        disk
    }

    fn mount_it(&self) {
        let path = self.path().to_str().expect("utf-8 path");
        run("mount", &["-o", "errors=remount-ro", &self.device, path]);
    }

    fn path(&self) -> &std::path::Path {
        self.mount.path()
    }

    /// Reports a file-system error to ext4, as a failing disk would: with `errors=remount-ro`
    /// the kernel makes the file system read-only at once (writes get EROFS, reads go on),
    /// and it stays so until it is unmounted and checked.
    fn fail(&self) {
        let name = self.device.trim_start_matches("/dev/");
        std::fs::write(
            format!("/sys/fs/ext4/{name}/trigger_fs_error"),
            "chinwag test: a disk error",
        )
        .expect("trigger an ext4 error");
    }

    /// What an admin does after a disk error: unmount, check, mount again.
    fn repair(&self) {
        run("umount", &[self.path().to_str().expect("utf-8 path")]);
        // e2fsck exits 1 when it corrected something, as it does after an error.
        let checked = std::process::Command::new("e2fsck")
            .args(["-f", "-y", &self.device])
            .status()
            .expect("e2fsck runs");
        assert!(matches!(checked.code(), Some(0 | 1)), "e2fsck: {checked}");
        self.mount_it();
    }
}

impl Drop for LoopDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.mount.path())
            .status();
        let _ = std::process::Command::new("losetup")
            .args(["-d", &self.device])
            .status();
    }
}

#[tokio::test]
async fn a_disk_turning_read_only_mid_stream_refuses_clearly_keeps_reads_and_loses_nothing() {
    if !can_run("read-only disk", Need::Root("root to attach a loop device")) {
        return;
    }
    let disk = LoopDisk::create(64);
    let dir = tempfile::TempDir::new_in(disk.path()).expect("data dir on the disk");
    let mut cfg = sending_at(10_000);
    cfg.max_bad_frames = 10_000;
    let hub = TestHub::start_in(cfg.clone(), dir).await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let mut a = Ws::connect(&hub, &alice).await;
    assert_eq!(
        a.say(1, "before", "before the disk failed").await["type"],
        "ack"
    );

    // 300 sends pipelined; the disk fails once the first 20 are acknowledged, with up to 130
    // more in flight.
    const SENDS: usize = 300;
    let mut outcome: HashMap<String, Value> = HashMap::new();
    let mut record = |reply: Value| {
        outcome.insert(reply["ref"].as_str().expect("ref").to_owned(), reply);
    };
    for n in 0..SENDS {
        if n == SENDS / 2 {
            for _ in 0..20 {
                record(a.reply().await);
            }
            disk.fail();
        }
        a.send(json!({
            "type": "send", "ref": format!("m{n}"), "conversation_id": 1,
            "client_id": format!("m{n}"), "body": format!("m{n} {}", "r".repeat(500)),
        }))
        .await;
    }
    for _ in 20..SENDS {
        record(a.reply().await);
    }
    let acked: HashSet<&str> = outcome
        .iter()
        .filter(|(_, r)| r["type"] == "ack")
        .map(|(id, _)| id.as_str())
        .collect();
    let refusal = outcome
        .values()
        .find(|r| r["type"] != "ack")
        .expect("writes were refused once the disk was read-only")
        .clone();
    assert_eq!(refusal["code"], "unavailable", "{refusal}");
    let message = refusal["message"].as_str().unwrap_or("");
    assert!(message.contains("read-only"), "{message}");
    for reply in outcome.values().filter(|r| r["type"] != "ack") {
        assert_eq!(reply["code"], "unavailable", "{reply}");
    }
    assert!(
        (SENDS / 2..SENDS).all(|n| !acked.contains(format!("m{n}").as_str())),
        "nothing sent after the failure was acknowledged"
    );
    let rest = api.send(&alice, 1, "rest-ro", "over REST").await;
    assert_eq!(rest.status, 503, "{:?}", rest.body);
    assert_eq!(rest.code(), "unavailable");

    // Reads go on from the read-only store: history, the conversation list, a resume.
    let history = api.all_messages(&bob, 1).await;
    let readable: HashSet<&str> = client_ids(&history).into_iter().collect();
    for id in &acked {
        assert!(
            readable.contains(id),
            "{id} was acknowledged and is readable"
        );
    }
    assert!(
        readable.len() == acked.len() + 1,
        "stored if and only if acknowledged"
    );
    assert_eq!(api.get("/conversations", &bob.token).await.status, 200);
    let (mut b2, _) = Ws::connect_resume(&hub, &bob, Some(0)).await;
    b2.send(json!({ "type": "ping", "ref": "p" })).await;
    assert_eq!(b2.frame("pong").await["ref"], "p");
    println!(
        "read-only disk: {} of {SENDS} sends acknowledged before ext4 went read-only, the rest \
         refused with: {message}; {} messages still readable",
        acked.len(),
        history.len()
    );
    drop(b2);

    // The admin stops the hub, checks the disk and starts it again: what was acknowledged is
    // there, and writing works.
    let dir = hub.stop().await;
    disk.repair();
    let integrity = integrity_check(&dir.path().join("chinwag.db"));
    assert_eq!(integrity, "ok");
    let hub = TestHub::start_in(cfg, dir).await;
    let api = hub.api();
    // A commit whose flush failed may still be on the disk (the outcome of a failed fsync is
    // unknown), so the client resends every refused message with the same client id, as the
    // link does: each of the 300 is then stored exactly once.
    let refused: Vec<&String> = outcome
        .iter()
        .filter(|(_, r)| r["type"] != "ack")
        .map(|(id, _)| id)
        .collect();
    let mut a = Ws::connect(&hub, &alice).await;
    for id in &refused {
        assert_eq!(
            a.say(1, id, "sent again after the repair").await["type"],
            "ack"
        );
    }
    let history = api.all_messages(&bob, 1).await;
    let ids = client_ids(&history);
    let distinct: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), ids.len(), "nothing twice");
    let lost_acked: Vec<&&str> = acked.iter().filter(|id| !distinct.contains(**id)).collect();
    let lost_resent: Vec<&&String> = refused
        .iter()
        .filter(|id| !distinct.contains(id.as_str()))
        .collect();
    assert_eq!(
        ids.len(),
        SENDS + 1,
        "the first and each of the 300 once; missing: {} acknowledged before the failure \
         {lost_acked:?}, {} resent after the repair {lost_resent:?}",
        lost_acked.len(),
        lost_resent.len()
    );
    assert!(acked.iter().all(|id| distinct.contains(id)));
    assert_gapless(&history);
    println!(
        "read-only disk: after e2fsck and a restart, {} refused sends resent with their client \
         ids: {} messages, none twice, no gaps, integrity_check {integrity}",
        refused.len(),
        ids.len()
    );
    drop(hub.stop().await);
    drop(disk);
}

#[tokio::test]
async fn a_log_on_a_full_disk_costs_no_request() {
    if !can_run("full log disk", Need::Root("root to mount a tmpfs")) {
        return;
    }
    // The hub's standard error is a file on a disk that is full; its data is elsewhere.
    let disk = SmallDisk::mount("256k");
    let log_path = disk.path().join("chinwag.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let filler = disk.fill();
    let data = tempfile::tempdir().expect("data dir");
    let mut child = server_command(data.path())
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("starts");
    let addr = crate::common::printed_address(child.stdout.take().expect("stdout"));
    let api = crate::common::Api::new(addr.parse().expect("addr"));
    // Every request is answered, each writing debug lines nobody can store.
    let alice = api.register("alice").await;
    let mut answered = 1;
    for i in 0..20 {
        let reply = api.send(&alice, 1, &format!("full-log-{i}"), "hello").await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        answered += 1;
    }
    let (mut ws, _) = Ws::connect_url(&format!("ws://{addr}/api/v1/ws"), &alice, None).await;
    for i in 0..10 {
        let reply = ws.say(1, &format!("full-log-ws-{i}"), "hello").await;
        assert_eq!(reply["type"], "ack", "{reply}");
        answered += 1;
    }
    assert_eq!(api.history(&alice, 1).await.len(), 30);
    // Room again: the log says what it lost, and goes on.
    std::fs::remove_file(filler).expect("free the disk");
    let _ = api.history(&alice, 1).await;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let written = std::fs::read_to_string(&log_path).expect("log");
    let lost_line = written
        .lines()
        .find(|l| l.contains("log lines could not be written"))
        .unwrap_or_else(|| panic!("the log says what it lost: {written}"));
    println!(
        "disk full: with the hub's log on a full disk, {answered} of {answered} requests were \
         answered; once there was room the log said: {lost_line}"
    );
}

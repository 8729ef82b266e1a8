//! The link against the real hub: reconnect, resume, and the durable outbox delivering
//! exactly once across hub restarts and link restarts.

use chinwag_proto::ConversationId;
use std::path::Path;
use std::time::Duration;

use chinwag_hub::{Hub, HubConfig};
use chinwag_link::{Link, LinkConfig, LinkEvent, LocalState};
use chinwag_proto::Event;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

const WAIT: Duration = Duration::from_secs(15);

struct TestHub {
    port: u16,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn start_hub(dir: &Path, port: u16) -> TestHub {
    let config = HubConfig {
        messages_per_second: 1000,
        message_burst: 1000,
        ..HubConfig::default()
    };
    start_hub_with(dir, port, config).await
}

async fn start_hub_with(dir: &Path, port: u16, config: HubConfig) -> TestHub {
    let hub = Hub::open(config, &dir.join("chinwag.db"))
        .await
        .expect("hub opens");
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("binds");
    let port = listener.local_addr().expect("addr").port();
    let (stop, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(chinwag_hub::serve(listener, hub, async move {
        let _ = rx.await;
    }));
    TestHub { port, stop, task }
}

impl TestHub {
    async fn stop(self) -> u16 {
        let _ = self.stop.send(());
        self.task.await.expect("hub task");
        self.port
    }
}

async fn register(port: u16, name: &str) -> (String, i64) {
    let reply: serde_json::Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/v1/auth/register"))
        .json(&json!({ "username": name, "password": format!("{name}-password") }))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    (
        reply["token"].as_str().expect("token").to_owned(),
        reply["user"]["id"].as_i64().expect("id"),
    )
}

fn config(port: u16, token: &str) -> LinkConfig {
    let mut config = LinkConfig::new(format!("ws://127.0.0.1:{port}/api/v1/ws"), token);
    config.backoff_min = Duration::from_millis(50);
    config.backoff_max = Duration::from_millis(400);
    config
}

async fn next_matching(
    rx: &mut mpsc::Receiver<LinkEvent>,
    what: &str,
    pred: impl Fn(&LinkEvent) -> bool,
) -> LinkEvent {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(event)) if pred(&event) => return event,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("link stopped while waiting for {what}"),
            Err(_) => panic!("no {what} within {WAIT:?}"),
        }
    }
}

fn body_of(event: &LinkEvent) -> Option<&str> {
    match event {
        LinkEvent::Event(frame) => match &frame.event {
            Event::MessageNew { message } => Some(message.body.as_str()),
            _ => None,
        },
        _ => None,
    }
}

async fn bodies(rx: &mut mpsc::Receiver<LinkEvent>, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < n {
        let event = next_matching(rx, "a message", |e| body_of(e).is_some()).await;
        out.push(body_of(&event).unwrap_or_default().to_owned());
    }
    out
}

#[tokio::test]
async fn messages_flow_and_survive_a_hub_outage_exactly_once() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = start_hub(dir.path(), 0).await;
    let port = hub.port;
    let (alice_token, _) = register(port, "alice").await;
    let (bob_token, _) = register(port, "bob").await;
    let (alice, mut alice_rx) = Link::start(
        config(port, &alice_token),
        LocalState::temporary().expect("state"),
    );
    let (bob, mut bob_rx) = Link::start(
        config(port, &bob_token),
        LocalState::temporary().expect("state"),
    );
    next_matching(&mut alice_rx, "synced", |e| *e == LinkEvent::Synced).await;
    next_matching(&mut bob_rx, "synced", |e| *e == LinkEvent::Synced).await;

    alice
        .send(ConversationId(1), "hello before")
        .await
        .expect("queued");
    next_matching(&mut alice_rx, "ack", |e| {
        matches!(e, LinkEvent::Acked { .. })
    })
    .await;
    assert_eq!(bodies(&mut bob_rx, 1).await, ["hello before"]);

    // The hub goes away; Alice keeps writing.
    let port = hub.stop().await;
    next_matching(&mut alice_rx, "disconnect", |e| {
        matches!(e, LinkEvent::Disconnected { .. })
    })
    .await;
    for i in 0..3 {
        alice
            .send(ConversationId(1), &format!("while down {i}"))
            .await
            .expect("queued");
    }
    assert_eq!(alice.pending().expect("pending").len(), 3, "queued durably");

    let hub = start_hub(dir.path(), port).await;
    for _ in 0..3 {
        next_matching(&mut alice_rx, "ack", |e| {
            matches!(e, LinkEvent::Acked { .. })
        })
        .await;
    }
    assert!(alice.pending().expect("pending").is_empty());
    let got = bodies(&mut bob_rx, 3).await;
    assert_eq!(
        got,
        ["while down 0", "while down 1", "while down 2"],
        "once each, in order"
    );

    alice.shutdown().await;
    bob.shutdown().await;
    hub.stop().await;
}

#[tokio::test]
async fn queued_messages_survive_a_link_restart_and_resume_skips_what_was_seen() {
    let dir = tempfile::tempdir().expect("dir");
    let alice_dir = tempfile::tempdir().expect("dir");
    let bob_dir = tempfile::tempdir().expect("dir");
    let hub = start_hub(dir.path(), 0).await;
    let port = hub.port;
    let (alice_token, _) = register(port, "alice").await;
    let (bob_token, _) = register(port, "bob").await;

    // Bob sees one message, then his app closes.
    let (bob, mut bob_rx) = Link::start(
        config(port, &bob_token),
        LocalState::open(bob_dir.path()).expect("state"),
    );
    next_matching(&mut bob_rx, "synced", |e| *e == LinkEvent::Synced).await;
    let (alice, mut alice_rx) = Link::start(
        config(port, &alice_token),
        LocalState::open(alice_dir.path()).expect("state"),
    );
    next_matching(&mut alice_rx, "synced", |e| *e == LinkEvent::Synced).await;
    alice
        .send(ConversationId(1), "seen by bob")
        .await
        .expect("queued");
    assert_eq!(bodies(&mut bob_rx, 1).await, ["seen by bob"]);
    bob.shutdown().await;

    // The hub goes down; Alice queues two messages and her app closes too.
    let port = hub.stop().await;
    alice
        .send(ConversationId(1), "queued 1")
        .await
        .expect("queued");
    alice
        .send(ConversationId(1), "queued 2")
        .await
        .expect("queued");
    alice.shutdown().await;

    // Everything comes back.
    let hub = start_hub(dir.path(), port).await;
    let (alice, mut alice_rx) = Link::start(
        config(port, &alice_token),
        LocalState::open(alice_dir.path()).expect("state"),
    );
    assert_eq!(
        alice.pending().expect("pending").len(),
        2,
        "the outbox outlived the app"
    );
    for _ in 0..2 {
        next_matching(&mut alice_rx, "ack", |e| {
            matches!(
                e,
                LinkEvent::Acked {
                    duplicate: false,
                    ..
                }
            )
        })
        .await;
    }
    let (bob, mut bob_rx) = Link::start(
        config(port, &bob_token),
        LocalState::open(bob_dir.path()).expect("state"),
    );
    // Bob resumes after what he saw: the two new ones, not "seen by bob" again.
    assert_eq!(bodies(&mut bob_rx, 2).await, ["queued 1", "queued 2"]);
    next_matching(&mut bob_rx, "synced", |e| *e == LinkEvent::Synced).await;

    // The hub holds each exactly once.
    let history: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{port}/api/v1/conversations/1/messages"
        ))
        .bearer_auth(&bob_token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let stored: Vec<&str> = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["body"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(stored, ["seen by bob", "queued 1", "queued 2"]);
    alice.shutdown().await;
    bob.shutdown().await;
    hub.stop().await;
}

#[tokio::test]
async fn a_refused_message_leaves_the_outbox_and_a_bad_token_stops_the_link() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = start_hub(dir.path(), 0).await;
    let port = hub.port;
    let (token, _) = register(port, "alice").await;
    let (alice, mut rx) = Link::start(
        config(port, &token),
        LocalState::temporary().expect("state"),
    );
    next_matching(&mut rx, "synced", |e| *e == LinkEvent::Synced).await;
    let client_id = alice
        .send(ConversationId(424_242), "to nowhere")
        .await
        .expect("queued");
    let refused = next_matching(&mut rx, "refusal", |e| {
        matches!(e, LinkEvent::Refused { .. })
    })
    .await;
    let LinkEvent::Refused {
        client_id: refused_id,
        error,
    } = refused
    else {
        unreachable!()
    };
    assert_eq!(refused_id, client_id);
    assert_eq!(error.code, chinwag_proto::ErrorCode::NotFound);
    assert!(alice.pending().expect("pending").is_empty());
    alice.shutdown().await;

    let (bad, mut bad_rx) = Link::start(
        config(port, "forged-token"),
        LocalState::temporary().expect("state"),
    );
    next_matching(&mut bad_rx, "unauthorized", |e| {
        *e == LinkEvent::Unauthorized
    })
    .await;
    bad.shutdown().await;
    hub.stop().await;
}

/// A link whose cursor is past the hub's newest event (the hub was restored from an older
/// backup) is told `reset` and follows from the hub's newest: new events arrive instead of
/// being taken for ones already seen (issue 21, item 12).
#[tokio::test]
async fn a_cursor_past_the_hubs_newest_follows_from_the_newest() {
    let dir = tempfile::tempdir().expect("dir");
    let bob_dir = tempfile::tempdir().expect("dir");
    let hub = start_hub(dir.path(), 0).await;
    let port = hub.port;
    let (alice_token, _) = register(port, "alice").await;
    let (bob_token, _) = register(port, "bob").await;
    let state = LocalState::open(bob_dir.path()).expect("state");
    state
        .set_cursor(chinwag_proto::EventId(1_000_000))
        .expect("cursor");
    let (bob, mut bob_rx) = Link::start(config(port, &bob_token), state);
    next_matching(&mut bob_rx, "synced", |e| *e == LinkEvent::Synced).await;
    let sent = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{port}/api/v1/conversations/1/messages"
        ))
        .bearer_auth(&alice_token)
        .json(&json!({ "client_id": "after-restore", "body": "after the restore" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(sent.status().as_u16(), 201);
    assert_eq!(bodies(&mut bob_rx, 1).await, ["after the restore"]);
    bob.shutdown().await;
    hub.stop().await;
}

/// An outbox far larger than the hub's allowance (the default 20 messages a second) is
/// flushed on one connection: the link waits out each `rate_limited` and is never closed
/// for it (issue 21, item 9).
#[tokio::test]
async fn a_big_outbox_is_flushed_at_the_hubs_pace_on_one_connection() {
    let dir = tempfile::tempdir().expect("dir");
    let alice_dir = tempfile::tempdir().expect("dir");
    let hub = start_hub_with(dir.path(), 0, HubConfig::default()).await;
    let port = hub.port;
    let (alice_token, _) = register(port, "alice").await;
    let (alice, mut rx) = Link::start(
        config(port, &alice_token),
        LocalState::open(alice_dir.path()).expect("state"),
    );
    let total = 100;
    for i in 0..total {
        alice
            .send(ConversationId(1), &format!("queued {i}"))
            .await
            .expect("queued");
    }
    let mut acked = 0;
    let mut connected = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while acked < total {
        let event = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("flushed within a minute")
            .expect("link running");
        match event {
            LinkEvent::Acked { .. } => acked += 1,
            LinkEvent::Connected { .. } => connected += 1,
            LinkEvent::Refused { client_id, error } => panic!("{client_id} refused: {error:?}"),
            _ => {}
        }
    }
    assert_eq!(connected, 1, "one connection, never closed for pace");
    assert!(alice.pending().expect("pending").is_empty());
    alice.shutdown().await;
    hub.stop().await;
}

//! Where `docs/protocol.md` and the servers must agree, on the hub and on a joined node
//! alike (issue 21, "Protocol correctness").

use serde_json::{json, Value};

use crate::common::{raw_socket, TestHub, TestNode, Ws};

/// A socket that has not authenticated yet.
async fn unauthenticated(url: &str) -> Ws {
    Ws {
        socket: raw_socket(url, None).await.expect("connects"),
        ready: Value::Null,
        last_event_id: 0,
        held: Default::default(),
    }
}

/// `auth` may carry `ref` like any frame: `ready` echoes it, and so does the `error` that
/// refuses a bad token (which then closes with 4401).
async fn auth_echoes_its_ref(url: &str, token: &str) {
    let mut ws = unauthenticated(url).await;
    ws.send(json!({"type": "auth", "ref": "login-1", "token": token}))
        .await;
    let ready = ws.next().await;
    assert_eq!(ready["type"], "ready", "{url}: {ready}");
    assert_eq!(ready["ref"], "login-1", "{url}: {ready}");
    assert!(ready["user"]["id"].is_i64(), "{url}: {ready}");

    let mut ws = unauthenticated(url).await;
    ws.send(json!({"type": "auth", "token": token})).await;
    let ready = ws.next().await;
    assert_eq!(ready["type"], "ready", "{url}: {ready}");
    assert!(ready.get("ref").is_none(), "no ref, none echoed: {ready}");

    let mut ws = unauthenticated(url).await;
    ws.send(json!({"type": "auth", "ref": "login-2", "token": "forged"}))
        .await;
    let error = ws.next().await;
    assert_eq!(
        (&error["type"], &error["code"], &error["ref"]),
        (&json!("error"), &json!("unauthorized"), &json!("login-2")),
        "{url}: {error}"
    );
    assert_eq!(ws.closed().await, 4401, "{url}");
}

#[tokio::test]
async fn auth_with_a_ref_is_answered_with_it_by_the_hub_and_a_joined_node() {
    let hub = TestHub::start().await;
    let bob = hub.api().register("bob").await;
    auth_echoes_its_ref(&hub.ws_url(), &bob.token).await;

    let node_dir = tempfile::tempdir().expect("dir");
    let node = TestNode::start(node_dir.path(), hub.addr).await;
    let alice = node.api().register("alice").await;
    node.online().await;
    auth_echoes_its_ref(&node.ws_url(), &alice.token).await;
}

/// A client flushing a backlog faster than its allowance is slowed down, not disconnected:
/// it gets `rate_limited` with `retry_after_ms`, waits, sends the rest again, and every
/// message ends acked exactly once on the same connection (issue 21, item 9).
#[tokio::test]
async fn rate_limits_slow_a_client_down_without_disconnecting_it() {
    let hub = TestHub::start().await; // 20 messages a second, the default
    let alice = hub.api().register("alice").await;
    let mut ws = Ws::connect(&hub, &alice).await;
    let total = 120;
    let mut unacked: std::collections::BTreeSet<usize> = (0..total).collect();
    let mut limited = 0;
    let started = std::time::Instant::now();
    while !unacked.is_empty() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "still {} unacked",
            unacked.len()
        );
        let round: Vec<usize> = unacked.iter().copied().collect();
        for i in &round {
            ws.send(
                json!({"type": "send", "ref": format!("m{i}"), "conversation_id": 1,
                "client_id": format!("backlog-{i}"), "body": format!("backlog {i}")}),
            )
            .await;
        }
        // One reply per frame sent this round; events in between are skipped.
        let mut replies = 0;
        let mut wait_ms = 0;
        while replies < round.len() {
            let frame = ws.next().await;
            match frame["type"].as_str() {
                Some("ack") => {
                    let i: usize = frame["ref"].as_str().expect("ref")[1..].parse().expect("n");
                    assert!(unacked.remove(&i), "acked once: {frame}");
                }
                Some("error") => {
                    assert_eq!(frame["code"], "rate_limited", "{frame}");
                    limited += 1;
                    let after = frame["retry_after_ms"].as_u64().expect("retry_after_ms");
                    wait_ms = wait_ms.max(after);
                }
                _ => continue,
            }
            replies += 1;
        }
        tokio::time::sleep(std::time::Duration::from_millis(wait_ms)).await;
    }
    assert!(
        limited > 20,
        "the backlog met the limit ({limited} refusals)"
    );
    // Still the same connection: it answers a ping.
    ws.send(json!({"type": "ping", "ref": "still-here"})).await;
    assert_eq!(ws.frame("pong").await["ref"], "still-here");
    let page = hub
        .api()
        .call(
            "GET",
            "/conversations/1/messages?limit=200",
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(
        page.body["messages"].as_array().expect("messages").len(),
        total
    );
}

/// `resume_from` below 0 is refused (`invalid_field`, close 1008); one past the newest event
/// (a hub restored from an older backup, a node that lost its log) replays nothing and says
/// `reset`, so the client reloads instead of waiting for events that will never come.
async fn resume_from_out_of_range(url: &str, token: &str) {
    let mut ws = unauthenticated(url).await;
    ws.send(json!({"type": "auth", "ref": "r", "token": token, "resume_from": -1}))
        .await;
    let error = ws.next().await;
    assert_eq!(
        (&error["code"], &error["ref"]),
        (&json!("invalid_field"), &json!("r")),
        "{url}: {error}"
    );
    assert_eq!(ws.closed().await, 1008, "{url}");

    let mut ws = unauthenticated(url).await;
    ws.send(json!({"type": "auth", "token": token, "resume_from": 1_000_000}))
        .await;
    let ready = ws.next().await;
    assert_eq!(ready["type"], "ready", "{url}: {ready}");
    let synced = ws.frame("synced").await;
    assert_eq!(synced["reset"], true, "{url}: {synced}");
    assert_eq!(
        synced["last_event_id"], ready["last_event_id"],
        "{url}: {synced}"
    );
}

#[tokio::test]
async fn resume_from_out_of_range_on_the_hub_and_a_joined_node() {
    let hub = TestHub::start().await;
    let bob = hub.api().register("bob").await;
    resume_from_out_of_range(&hub.ws_url(), &bob.token).await;

    let node_dir = tempfile::tempdir().expect("dir");
    let node = TestNode::start(node_dir.path(), hub.addr).await;
    let alice = node.api().register("alice").await;
    node.online().await;
    resume_from_out_of_range(&node.ws_url(), &alice.token).await;
}

/// A close the hub decides answers every frame it read first, and says goodbye with a close
/// frame the client receives: here a client pipelines 40 sends, then bad frames until the
/// hub closes with 1008, and keeps writing meanwhile (issue 21, item 2).
#[tokio::test]
async fn an_abuse_close_answers_what_was_read_and_arrives() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let hub = TestHub::start_with(crate::common::sending_at(10_000)).await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let ws = Ws::connect(&hub, &alice).await;
    let (mut sink, mut stream) = ws.socket.split();
    let writer = tokio::spawn(async move {
        for i in 0..40 {
            let frame = json!({"type": "send", "conversation_id": 1, "client_id": format!("p{i}"), "body": "x"});
            let _ = sink.send(Message::Text(frame.to_string().into())).await;
        }
        // Bad frames, and more of them after the hub has had enough.
        for _ in 0..2000 {
            if sink.send(Message::Text("{not json".into())).await.is_err() {
                break;
            }
        }
    });
    let mut acked = std::collections::HashSet::new();
    let mut close = None;
    while let Ok(Some(Ok(message))) = tokio::time::timeout(crate::common::WAIT, stream.next()).await
    {
        match message {
            Message::Text(text) => {
                let frame: Value = serde_json::from_str(&text).expect("JSON");
                if frame["type"] == "ack" {
                    acked.insert(
                        frame["message"]["client_id"]
                            .as_str()
                            .unwrap_or("")
                            .to_owned(),
                    );
                }
            }
            Message::Close(frame) => close = frame.map(|f| u16::from(f.code)),
            _ => {}
        }
    }
    let _ = writer.await;
    assert_eq!(close, Some(1008), "the close frame arrived");
    let stored: std::collections::HashSet<String> = api
        .all_messages(&alice, 1)
        .await
        .iter()
        .filter_map(|m| m["client_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        stored.len(),
        40,
        "every send before the bad frames was read"
    );
    assert_eq!(acked, stored, "every committed send was acknowledged");
}

/// Unknown query parameters are refused everywhere, like unknown body fields: on the routes
/// that take a query (their own parameters only) and on every other one (none at all).
#[tokio::test]
async fn unknown_query_parameters_are_refused_everywhere() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    for path in [
        "/conversations/1/messages?limit=5",
        "/events?after=0",
        "/search?q=hello",
        "/conversations",
        "/me",
    ] {
        let r = api.get(path, &alice.token).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    }
    for path in [
        "/conversations/1/messages?limit=5&colour=blue",
        "/events?after=0&since=3",
        "/search?q=hello&fuzzy=1",
        "/conversations?archived=1",
        "/me?x",
        "/users?page=2",
    ] {
        let r = api.get(path, &alice.token).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "bad_request"),
            "{path}: {:?}",
            r.body
        );
    }
    let r = api
        .post(
            "/conversations?x=1",
            &alice.token,
            json!({"name": "g", "member_ids": []}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "bad_request"), "{:?}", r.body);
    assert!(
        r.message().contains("takes no query parameters"),
        "{}",
        r.message()
    );
    let listed = api.get("/conversations", &alice.token).await;
    assert_eq!(
        listed.body.as_array().map(Vec::len),
        Some(1),
        "nothing was created: only general"
    );
}

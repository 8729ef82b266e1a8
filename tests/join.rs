//! Join mode: a node that uses a hub elsewhere, serving the same protocol to its UI. Real hub,
//! real node (warp + sled on disk), real HTTP and WebSocket clients; the hub is stopped and
//! started again on its port, and the node is restarted on its data directory.

use chinwag_proto::{ConversationId, MessageId, UserId};
use std::sync::Arc;
use std::time::Duration;

use chinwag_node::join::{self, Directory, HubAddress, Joined, LinkState};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::common::{config, raw_socket, Session, TestHub, TestNode, Ws, QUIET, WAIT};

async fn send(ws: &mut Ws, conversation: i64, body: &str) -> String {
    let client_id = format!("c-{}", body.replace(' ', "-"));
    ws.send(json!({
        "type": "send", "ref": client_id, "conversation_id": conversation,
        "client_id": client_id, "body": body,
    }))
    .await;
    client_id
}

fn bodies(history: &[Value]) -> Vec<String> {
    history
        .iter()
        .map(|m| m["body"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn a_joined_user_chats_through_outages_and_restarts_with_nothing_lost_or_doubled() {
    let hub = TestHub::start_with(config()).await;
    let hub_addr = hub.addr;
    let node_dir = tempfile::tempdir().expect("dir");
    let node = TestNode::start(node_dir.path(), hub_addr).await;

    // Alice signs up through her node (proxied to the hub); Bob uses the hub directly.
    let alice = node.api().register("alice").await;
    let bob = hub.api().register("bob").await;
    node.online().await;
    let me = node.api().get("/me", &alice.token).await;
    assert_eq!(me.body["username"], "alice", "{me:?}");
    let conv = node.api().direct(&alice, &bob).await;
    // What the UI loads on start; the node keeps it for reading offline.
    assert_eq!(
        node.api().get("/conversations", &alice.token).await.status,
        200
    );

    let (mut a, _) = Ws::connect_url(&node.ws_url(), &alice, None).await;
    assert_eq!(a.ready["user"]["id"], alice.id);
    assert_eq!(a.ready["hub"]["id"], hub.hub.info().id.as_str());
    let mut b = Ws::connect(&hub, &bob).await;

    send(&mut a, conv, "a1").await;
    let ack = a.expect("ack", |f| f["type"] == "ack").await;
    assert_eq!(
        ack["ref"], "c-a1",
        "the ack goes back under the UI's own ref"
    );
    b.message("a1").await;
    hub.api()
        .send(&bob, conv, &format!("c-{}", "b1"), "b1")
        .await;
    let b1 = a.message("b1").await["id"].clone();

    // Typing and receipts are relayed, with replies routed back by ref.
    a.send(json!({"type": "typing", "conversation_id": conv, "typing": true}))
        .await;
    b.expect("typing", |f| {
        f["type"] == "typing" && f["user_id"] == alice.id
    })
    .await;
    a.send(json!({"type": "read", "ref": "r1", "conversation_id": conv, "seq": 2}))
        .await;
    a.expect("ok r1", |f| f["type"] == "ok" && f["ref"] == "r1")
        .await;
    a.send(json!({"type": "ping", "ref": "p1"})).await;
    a.expect("pong", |f| f["type"] == "pong" && f["ref"] == "p1")
        .await;

    // The hub goes away. Alice keeps writing; the node keeps her messages on disk.
    let hub_dir = hub.stop().await;
    a.expect("link offline", |f| {
        f["type"] == "link" && f["state"] == "offline"
    })
    .await;
    send(&mut a, conv, "a2").await;
    // A reply waits in the outbox like any message, naming its original.
    a.send(json!({
        "type": "send", "ref": "c-a3", "conversation_id": conv,
        "client_id": "c-a3", "body": "a3", "reply_to": b1,
    }))
    .await;
    assert!(
        a.try_next(QUIET).await.is_none_or(|f| f["type"] != "ack"),
        "nothing is acknowledged while the hub is away"
    );
    // Both get queued on disk, in order; under load the second can land after the quiet
    // period above, so wait for it (the assertion below is unchanged).
    let deadline = tokio::time::Instant::now() + WAIT;
    let status = loop {
        let status = node.api().get("/node", &alice.token).await;
        let queued = status.body["pending"].as_array().map_or(0, Vec::len);
        if queued >= 2 || tokio::time::Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.body["link"]["state"], "offline");
    let pending: Vec<&str> = status.body["pending"]
        .as_array()
        .expect("pending")
        .iter()
        .filter_map(|p| p["body"].as_str())
        .collect();
    assert_eq!(pending, ["a2", "a3"]);
    assert_eq!(status.body["pending"][1]["reply_to"], b1);
    // Without her token the node shows nothing private.
    let anonymous = node.api().call("GET", "/node", None, None).await;
    assert!(anonymous.body.get("pending").is_none());

    // She can still read what she had.
    let history = node
        .api()
        .get(&format!("/conversations/{conv}/messages"), &alice.token)
        .await;
    assert_eq!(history.status, 200, "{:?}", history.body);
    assert_eq!(
        history
            .headers
            .get("x-chinwag-offline")
            .map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    assert_eq!(
        bodies(history.body["messages"].as_array().expect("page")),
        ["a1", "b1"]
    );
    let list = node.api().get("/conversations", &alice.token).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    assert_eq!(
        list.body[0]["last_message"]["body"], "b1",
        "the kept list is brought up to the kept history"
    );
    // Writes other than messages are refused clearly.
    let rename = node
        .api()
        .post(
            "/conversations",
            &alice.token,
            json!({"name": "x", "member_ids": []}),
        )
        .await;
    assert_eq!(rename.status, 503);
    assert_eq!(rename.code(), "unavailable");
    // Someone else's token gets nothing from the node's memory.
    let stranger = node.api().get("/conversations", "not-a-token").await;
    assert_eq!(stranger.status, 401);

    // The app is closed with the messages queued, and opened again while the hub is away.
    drop(a);
    node.stop().await;
    let node = TestNode::start(node_dir.path(), hub_addr).await;
    let status = node.api().get("/node", &alice.token).await;
    assert_eq!(status.body["pending"].as_array().map(Vec::len), Some(2));
    let (mut a, _) = Ws::connect_url(&node.ws_url(), &alice, Some(0)).await;

    // The hub comes back on its port: the node delivers each queued message once.
    let hub = TestHub::start_on(config(), hub_dir, hub_addr.port()).await;
    node.online().await;
    a.message("a2").await;
    assert_eq!(
        a.message("a3").await["reply_to"],
        b1,
        "delivered as the reply it was, across a node restart"
    );
    let (mut b, replayed) = Ws::connect_url(&hub.ws_url(), &bob, Some(b.last_event_id)).await;
    let got: Vec<&str> = replayed
        .iter()
        .filter(|f| f["event"]["kind"] == "message_new")
        .filter_map(|f| f["event"]["message"]["body"].as_str())
        .collect();
    assert_eq!(got, ["a2", "a3"]);
    // The UI resending its own outbox (same client ids) makes nothing new.
    send(&mut a, conv, "a3").await;
    let ack = a.expect("ack", |f| f["type"] == "ack").await;
    assert_eq!(ack["duplicate"], true);

    hub.api()
        .send(&bob, conv, &format!("c-{}", "b2"), "b2")
        .await;
    a.message("b2").await;
    b.message("b2").await;
    let history = hub.api().history(&bob, conv).await;
    assert_eq!(bodies(&history), ["a1", "b1", "a2", "a3", "b2"]);
    let status = node.api().get("/node", &alice.token).await;
    assert_eq!(status.body["pending"].as_array().map(Vec::len), Some(0));
    assert!(
        status.body["hub"]["name"].is_string(),
        "the node learned the hub's name"
    );
    let hubs = node.api().call("GET", "/node/hubs", None, None).await;
    assert_eq!(
        hubs.body["saved"][0]["address"],
        hub_addr.to_string(),
        "the hub is remembered"
    );
    node.stop().await;
    hub.stop().await;
}

/// Alice signed up through a node joined to `hub`, Bob straight on the hub, and their direct
/// chat; the node is online. The directory holds the node's state and must outlive it.
async fn alice_through_a_node_and_bob(
    hub: &TestHub,
) -> (tempfile::TempDir, TestNode, Session, Session, i64) {
    let node_dir = tempfile::tempdir().expect("dir");
    let node = TestNode::start(node_dir.path(), hub.addr).await;
    let alice = node.api().register("alice").await;
    let bob = hub.api().register("bob").await;
    node.online().await;
    let conv = node.api().direct(&alice, &bob).await;
    (node_dir, node, alice, bob, conv)
}

#[tokio::test]
async fn a_local_connection_resumes_from_the_node_without_gaps() {
    let hub = TestHub::start().await;
    let (_node_dir, node, alice, bob, conv) = alice_through_a_node_and_bob(&hub).await;
    let (mut a, _) = Ws::connect_url(&node.ws_url(), &alice, None).await;
    hub.api()
        .send(&bob, conv, &format!("c-{}", "one"), "one")
        .await;
    a.message("one").await;
    let cursor = a.last_event_id;
    drop(a);
    for body in ["two", "three"] {
        hub.api()
            .send(&bob, conv, &format!("c-{}", body), body)
            .await;
    }
    // Give the node time to log them, then resume: exactly the missed ones, in order.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, replayed) = Ws::connect_url(&node.ws_url(), &alice, Some(cursor)).await;
    let got: Vec<&str> = replayed
        .iter()
        .filter_map(|f| f["event"]["message"]["body"].as_str())
        .collect();
    assert_eq!(got, ["two", "three"]);
    node.stop().await;
    hub.stop().await;
}

/// Authenticates on `url` resuming from `cursor`; the replayed events and the `synced` frame.
async fn resume_raw(url: &str, session: &Session, cursor: i64) -> (Vec<Value>, Value) {
    let mut ws = Ws {
        socket: raw_socket(url, None).await.expect("connects"),
        ready: Value::Null,
        last_event_id: cursor,
        held: Default::default(),
    };
    ws.send(json!({"type": "auth", "token": session.token, "resume_from": cursor}))
        .await;
    assert_eq!(ws.next().await["type"], "ready");
    let mut replayed = Vec::new();
    loop {
        let frame = ws.next().await;
        match frame["type"].as_str() {
            Some("synced") => return (replayed, frame),
            Some("event") => replayed.push(frame),
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_window_resuming_from_before_the_nodes_log_is_told_to_reload() {
    let hub = TestHub::start().await;
    let node_dir = tempfile::tempdir().expect("dir");
    let node = TestNode::start_keeping(node_dir.path(), hub.addr, Some(10)).await;
    let alice = node.api().register("alice").await;
    let bob = hub.api().register("bob").await;
    node.online().await;
    let conv = node.api().direct(&alice, &bob).await;
    let (mut a, _) = Ws::connect_url(&node.ws_url(), &alice, None).await;
    hub.api().send(&bob, conv, "c-0", "m0").await;
    a.message("m0").await;
    let old_cursor = a.last_event_id;
    // Far more events than the node keeps arrive while this window is away.
    for n in 1..=27 {
        hub.api()
            .send(&bob, conv, &format!("c-{n}"), &format!("m{n}"))
            .await;
    }
    // A second window sees the next live; its cursor is within what is kept.
    let (mut b, _) = Ws::connect_url(&node.ws_url(), &alice, None).await;
    hub.api().send(&bob, conv, "c-28", "m28").await;
    b.message("m28").await;
    let recent = b.last_event_id;
    drop(b);
    for n in 29..=30 {
        hub.api()
            .send(&bob, conv, &format!("c-{n}"), &format!("m{n}"))
            .await;
    }
    a.message("m30").await;
    // Resuming from within the log replays exactly what was missed.
    let (replayed, synced) = resume_raw(&node.ws_url(), &alice, recent).await;
    let got: Vec<&str> = replayed
        .iter()
        .filter_map(|f| f["event"]["message"]["body"].as_str())
        .collect();
    assert_eq!(got, ["m29", "m30"]);
    assert!(synced.get("reset").is_none(), "{synced}");
    drop(a);
    // From before the log: nothing replayed (it would have a hole), and told to reload.
    let (replayed, synced) = resume_raw(&node.ws_url(), &alice, old_cursor).await;
    assert!(replayed.is_empty(), "{replayed:?}");
    assert_eq!(synced["reset"], true, "{synced}");
    let newest = synced["last_event_id"].as_i64().expect("id");
    assert!(newest > old_cursor);
    // Reloading from REST as told gives every message.
    let history = node.api().all_messages(&alice, conv).await;
    assert_eq!(history.len(), 31);
    node.stop().await;
    hub.stop().await;
}

#[tokio::test]
async fn files_stream_through_a_joined_node_both_ways() {
    let hub = TestHub::start_with(chinwag_hub::HubConfig {
        max_upload_bytes: 8 * 1024 * 1024,
        ..crate::common::config()
    })
    .await;
    let (_node_dir, node, alice, bob, conv) = alice_through_a_node_and_bob(&hub).await;
    let bytes: Vec<u8> = (0..6 * 1024 * 1024u32)
        .map(|i| (i * 7 % 251) as u8)
        .collect();

    let file = node
        .api()
        .upload(
            &alice,
            conv,
            "dump.bin",
            "application/octet-stream",
            bytes.clone(),
        )
        .await;
    assert_eq!(file.status, 201, "{:?}", file.body);
    let id = file.body["id"].as_i64().expect("id");
    let (mut a, _) = Ws::connect_url(&node.ws_url(), &alice, None).await;
    a.send(json!({
        "type": "send", "ref": "f1", "conversation_id": conv, "client_id": "f1",
        "body": "", "attachments": [id],
    }))
    .await;
    let ack = a.expect("ack", |f| f["ref"] == "f1").await;
    assert_eq!(ack["type"], "ack", "{ack:?}");
    assert_eq!(ack["message"]["attachments"][0]["id"], id);

    let (status, _, got) = hub
        .api()
        .fetch(Some(&bob.token), &format!("/files/{id}"), &[])
        .await;
    assert_eq!((status, got.len()), (200, bytes.len()));
    assert!(got == bytes, "Bob gets the same bytes from the hub");
    let (status, headers, part) = node
        .api()
        .fetch(
            Some(&alice.token),
            &format!("/files/{id}"),
            &[("range", "bytes=5000000-")],
        )
        .await;
    assert_eq!(status, 206, "ranges pass through the node");
    assert_eq!(part, &bytes[5_000_000..]);
    assert_eq!(headers["accept-ranges"], "bytes");
    assert!(headers.contains_key("content-disposition"));

    // The hub's refusals pass through unchanged.
    let big = node
        .api()
        .upload(
            &alice,
            conv,
            "big",
            "text/plain",
            vec![b'x'; 9 * 1024 * 1024],
        )
        .await;
    assert_eq!((big.status, big.code()), (413, "too_large"));
    let (status, _, _) = node.api().fetch(None, &format!("/files/{id}"), &[]).await;
    assert_eq!(status, 401);
    node.stop().await;
    hub.stop().await;
}

#[tokio::test]
async fn the_node_refuses_hostile_and_malformed_input() {
    let hub = TestHub::start().await;
    let (_node_dir, node, alice, bob, conv) = alice_through_a_node_and_bob(&hub).await;
    let http = reqwest::Client::new();

    // DNS rebinding: another host name for the node is refused.
    let rebound = http
        .get(format!("http://{}/api/v1/hub", node.addr))
        .header("host", "evil.example")
        .send()
        .await
        .expect("sent");
    assert_eq!(rebound.status(), 403);

    // The node's own endpoints take JSON only: a page of another site can post a form or
    // text without a preflight, so such a post must not make the node probe an address or
    // change its view (issue 21, item 13).
    for (path, body) in [
        ("verify", r#"{"address":"127.0.0.1:9"}"#),
        (
            "view",
            r#"{"conversation_id":null,"focused":true,"unread":0}"#,
        ),
        ("choose", r#"{"mode":"host","name":"Office"}"#),
    ] {
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let mut post = http
                .post(format!("http://{}/api/v1/node/{path}", node.addr))
                .body(body);
            if let Some(kind) = content_type {
                post = post.header("content-type", kind);
            }
            let r = post.send().await.expect("sent");
            assert_eq!(r.status(), 400, "{path} as {content_type:?}");
        }
    }
    let view = http
        .post(format!("http://{}/api/v1/node/view", node.addr))
        .header("content-type", "application/json")
        .body(r#"{"conversation_id":null,"focused":true,"unread":0}"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(view.status(), 204, "as JSON it is taken");

    // A page of another site cannot open the node's WebSocket.
    let foreign = raw_socket(&node.ws_url(), Some("http://evil.example")).await;
    assert!(foreign.is_err(), "a foreign origin is refused");

    // A wrong token is refused with 4401 (the hub is asked); a missing auth frame too.
    let mut socket = Ws {
        socket: raw_socket(&node.ws_url(), None).await.expect("connects"),
        ready: Value::Null,
        last_event_id: 0,
        held: Default::default(),
    };
    socket
        .send(json!({"type": "auth", "token": "forged"}))
        .await;
    let close = socket.expect("close", |f| f["type"] == "__close").await;
    assert_eq!(close["code"], 4401);
    let mut socket = Ws {
        socket: raw_socket(&node.ws_url(), None).await.expect("connects"),
        ready: Value::Null,
        last_event_id: 0,
        held: Default::default(),
    };
    socket.send(json!({"type": "ping"})).await;
    let close = socket.expect("close", |f| f["type"] == "__close").await;
    assert_eq!(close["code"], 4401);

    let (mut a, _) = Ws::connect_url(&node.ws_url(), &alice, None).await;
    a.send_text("{not json").await;
    let err = a.expect("error", |f| f["type"] == "error").await;
    assert_eq!(err["code"], "bad_request");
    a.send(json!({"type": "launch_missiles", "ref": "x"})).await;
    let err = a.expect("error", |f| f["type"] == "error").await;
    assert_eq!(err["code"], "unknown_type");
    assert_eq!(err["ref"], "x");
    let limit = hub.hub.info().limits.max_message_bytes;
    a.send(json!({
        "type": "send", "ref": "big", "conversation_id": conv,
        "client_id": "big", "body": "x".repeat(limit + 1),
    }))
    .await;
    let err = a.expect("error", |f| f["type"] == "error").await;
    assert_eq!(
        (err["code"].as_str(), err["ref"].as_str()),
        (Some("too_large"), Some("big"))
    );
    a.send(json!({
        "type": "send", "ref": "ws", "conversation_id": conv,
        "client_id": "has space", "body": "hi",
    }))
    .await;
    let err = a.expect("error", |f| f["type"] == "error").await;
    assert_eq!(err["code"], "invalid_field");
    a.send(json!({
        "type": "send", "ref": "blank", "conversation_id": conv,
        "client_id": "c-blank", "body": "  \n ",
    }))
    .await;
    let err = a.expect("error", |f| f["type"] == "error").await;
    assert_eq!(err["code"], "invalid_field");
    // Not a member: the hub refuses it for good and the node's outbox lets it go.
    a.send(json!({
        "type": "send", "ref": "nm", "conversation_id": 999_999,
        "client_id": "c-nm", "body": "hello?",
    }))
    .await;
    let err = a
        .expect("error nm", |f| f["type"] == "error" && f["ref"] == "nm")
        .await;
    assert_eq!(err["code"], "not_found");
    assert_eq!(
        node.api().get("/node", &alice.token).await.body["pending"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    // The connection is still usable after all that.
    send(&mut a, conv, "still here").await;
    a.expect("ack", |f| f["type"] == "ack").await;
    // An oversized frame closes the connection (1009), as the hub does.
    a.send_text(&"y".repeat(200 * 1024)).await;
    let close = a.expect("close", |f| f["type"] == "__close").await;
    assert_eq!(close["code"], 1009);

    // The node's own endpoints check what they are given.
    let api = node.api();
    let bad = api
        .call(
            "POST",
            "/node/verify",
            None,
            Some(json!({"address": "bad host!"})),
        )
        .await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_field"));
    let bad = api.raw("POST", "/node/verify", None, b"{".to_vec()).await;
    assert_eq!(bad.code(), "bad_request");
    let free = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let nobody = free.local_addr().expect("addr");
    drop(free);
    let gone = api
        .call(
            "POST",
            "/node/verify",
            None,
            Some(json!({"address": nobody.to_string()})),
        )
        .await;
    assert_eq!(gone.code(), "unavailable");
    let fine = api
        .call(
            "POST",
            "/node/verify",
            None,
            Some(json!({"address": hub.addr.to_string()})),
        )
        .await;
    assert_eq!(fine.status, 200, "{:?}", fine.body);
    assert_eq!(fine.body["hub"]["id"], hub.hub.info().id.as_str());
    let wrong = api.call("DELETE", "/node/hubs", None, None).await;
    assert_eq!(
        (
            wrong.status,
            wrong.headers.get("allow").map(|v| v.as_bytes())
        ),
        (405, Some(&b"GET"[..]))
    );
    let huge = api
        .raw("POST", "/auth/login", None, vec![b'a'; 2 * 1024 * 1024])
        .await;
    assert_eq!(huge.status, 413);

    // Signing out through the node stops the link and forgets her data.
    let out = api
        .call("POST", "/auth/logout", Some(&alice.token), None)
        .await;
    assert_eq!(out.status, 204, "{:?}", out.body);
    tokio::time::timeout(WAIT, node.joined.wait_for(|s| *s == LinkState::SignedOut))
        .await
        .expect("signed out");
    let after = api.call("GET", "/node", Some(&alice.token), None).await;
    assert!(after.body.get("pending").is_none());
    let _: &Session = &bob;
    node.stop().await;
    hub.stop().await;
}

/// The desktop app's node (launch secret "s3cret", start screen first), joining on choice.
struct DesktopNode {
    node: Arc<chinwag_node::join::NodeApi>,
    base: String,
    plain: reqwest::Client,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl DesktopNode {
    async fn start() -> DesktopNode {
        use chinwag_node::join::{Choice, Chooser, NodeApi};
        let node_dir = tempfile::tempdir().expect("dir");
        let dir = node_dir.path().to_owned();
        let chooser: Chooser = Arc::new(move |choice| {
            let dir = dir.clone();
            Box::pin(async move {
                let Choice::Join { address } = choice else {
                    return Err(chinwag_proto::ApiError::bad_request("join only here"));
                };
                let address = HubAddress::parse(&address).expect("address");
                let store = join::open_store(&dir, &address).expect("store");
                Ok(Joined::open(store, address).await)
            })
        });
        let node = NodeApi::desktop(None, Directory::new(Vec::new()), "s3cret".into(), chooser);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(join::serve_node(listener, node.clone(), async move {
            let _ = rx.await;
        }));
        let plain = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        DesktopNode {
            node,
            base: format!("http://{addr}"),
            plain,
            stop,
            task,
            _dir: node_dir,
        }
    }

    /// What the window gets by opening `/?launch=SECRET`.
    async fn cookie(&self) -> String {
        let launch = self
            .plain
            .get(format!("{}/?launch=s3cret", self.base))
            .send()
            .await
            .expect("sent");
        assert_eq!(launch.status(), 303);
        launch.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .to_owned()
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let cookie = self.cookie().await;
        let cookie = cookie.split(';').next().expect("pair").to_owned();
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .plain
            .request(method, format!("{}{path}", self.base))
            .header("cookie", cookie);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.expect("sent");
        let status = reply.status().as_u16();
        let text = reply.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, None, Some(body)).await
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("node task");
    }
}

#[tokio::test]
async fn the_desktop_node_is_guarded_by_its_launch_secret_and_starts_on_the_start_screen() {
    let hub = TestHub::start().await;
    let desktop = DesktopNode::start().await;
    let plain = desktop.plain.clone();
    let base = desktop.base.clone();

    // Without the cookie: nothing, not even the page; a wrong secret gets no cookie.
    assert_eq!(plain.get(&base).send().await.expect("sent").status(), 403);
    let api = plain
        .get(format!("{base}/api/v1/hub"))
        .send()
        .await
        .expect("sent");
    assert_eq!(api.status(), 403);
    let wrong = plain
        .get(format!("{base}/?launch=guess"))
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong.status(), 403);
    assert!(wrong.headers().get("set-cookie").is_none());

    // The window's first request hands it the cookie.
    let launch = plain
        .get(format!("{base}/?launch=s3cret"))
        .send()
        .await
        .expect("sent");
    assert_eq!(launch.status(), 303);
    let cookie = launch.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().expect("pair").to_owned();
    let get = |path: &str| plain.get(format!("{base}{path}")).header("cookie", &cookie);
    let page = get("/")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(
        page.contains("Welcome to Chinwag"),
        "the start screen first"
    );
    let not_yet = get("/api/v1/hub").send().await.expect("sent");
    assert_eq!(not_yet.status(), 503);

    let choose = |body: Value| {
        plain
            .post(format!("{base}/api/v1/node/choose"))
            .header("cookie", &cookie)
            .json(&body)
            .send()
    };
    let bad = choose(json!({"mode": "teleport"})).await.expect("sent");
    assert_eq!(bad.status(), 400);
    let chosen = choose(json!({"mode": "join", "address": hub.addr.to_string()}))
        .await
        .expect("sent");
    assert_eq!(chosen.status(), 200);
    let page = get("/")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(page.contains("js/app.js"), "then the chat");
    let hub_info = get("/api/v1/hub").send().await.expect("sent");
    assert_eq!(hub_info.status(), 200);
    let again = choose(json!({"mode": "join", "address": hub.addr.to_string()}))
        .await
        .expect("sent");
    assert_eq!(again.status(), 403, "one choice per launch");

    desktop.stop().await;
    hub.stop().await;
}

#[tokio::test]
async fn the_desktop_node_switches_hubs_reports_the_view_and_keeps_notification_settings() {
    use chinwag_node::join::notify::{Attention, NotifyLevel};
    let hub = TestHub::start().await;
    let api = hub.api();
    let desktop = DesktopNode::start().await;
    let address = hub.addr.to_string();
    let (status, _) = desktop
        .post(
            "/api/v1/node/choose",
            json!({"mode": "join", "address": address}),
        )
        .await;
    assert_eq!(status, 200);
    let first = desktop.node.current().expect("joined");

    // Switch hub: the start screen shows while the current hub keeps working; choosing the
    // same hub again keeps the very same node state; "back" ends it.
    let (status, _) = desktop
        .post("/api/v1/node/switch", json!({"switching": true}))
        .await;
    assert_eq!(status, 204);
    let (_, state) = desktop.call("GET", "/api/v1/node", None, None).await;
    assert_eq!(state["switching"], true, "{state}");
    assert_eq!(state["desktop"], true);
    let (_, page) = desktop.call("GET", "/", None, None).await;
    assert!(page
        .as_str()
        .is_some_and(|p| p.contains("Welcome to Chinwag")));
    let (status, _) = desktop
        .post(
            "/api/v1/node/choose",
            json!({"mode": "join", "address": address}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(Arc::ptr_eq(
        &first,
        &desktop.node.current().expect("joined")
    ));
    let (_, state) = desktop.call("GET", "/api/v1/node", None, None).await;
    assert_eq!(state["switching"], false);
    for bad in [
        json!({"switching": "yes"}),
        json!({}),
        json!({"switching": true, "x": 1}),
    ] {
        let (status, _) = desktop.post("/api/v1/node/switch", bad.clone()).await;
        assert_eq!(status, 400, "{bad}");
    }
    let (status, _) = desktop.call("GET", "/api/v1/node/switch", None, None).await;
    assert_eq!(status, 405);

    // The page reports what it shows; the tray follows the unread count.
    let mut view = desktop.node.watch_view();
    let (status, _) = desktop
        .post(
            "/api/v1/node/view",
            json!({"conversation_id": 3, "focused": true, "unread": 7}),
        )
        .await;
    assert_eq!(status, 204);
    view.changed().await.expect("seen");
    assert_eq!(view.borrow().unread, 7);
    assert_eq!(desktop.node.view().conversation_id, Some(ConversationId(3)));
    for bad in [
        json!({"conversation_id": 3, "focused": true, "unread": -1}),
        json!({"conversation_id": 3, "focused": true, "unread": 5_000_000_000u64}),
        json!({"conversation_id": "3", "focused": true}),
        json!({"focused": true, "colour": "red"}),
    ] {
        let (status, _) = desktop.post("/api/v1/node/view", bad.clone()).await;
        assert_eq!(status, 400, "{bad}");
    }
    assert_eq!(
        desktop.node.view().unread,
        7,
        "a bad report changes nothing"
    );

    // Notification settings: the signed-in user's, and only theirs.
    let (status, _) = desktop
        .call("GET", "/api/v1/node/notifications", None, None)
        .await;
    assert_eq!(status, 401);
    let (status, me) = desktop
        .post(
            "/api/v1/auth/register",
            json!({"username": "dana", "display_name": "Dana", "password": "dana-password"}),
        )
        .await;
    assert_eq!(status, 201, "{me}");
    let token = me["token"].as_str().expect("token").to_owned();
    let dana_id = me["user"]["id"].as_i64().expect("id");
    let (status, _) = desktop
        .call(
            "GET",
            "/api/v1/node/notifications",
            Some("not-the-token"),
            None,
        )
        .await;
    assert_eq!(status, 401);
    let (status, settings) = desktop
        .call("GET", "/api/v1/node/notifications", Some(&token), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        settings,
        json!({"level": "all", "previews": true, "muted_conversations": [], "muted_until": null})
    );

    let bob = api.register("bob").await;
    // The hub says how many people are connected (the start screen shows it).
    let info = api.call("GET", "/hub", None, None).await;
    assert!(info.body["online"].as_u64().is_some(), "{:?}", info.body);
    let dana = chinwag_proto::User {
        id: UserId(dana_id),
        username: "dana".into(),
        display_name: "Dana".into(),
        status_text: String::new(),
        is_admin: false,
        disabled: false,
        created_at: 0,
    };
    let direct = api
        .direct(
            &bob,
            &Session {
                token: token.clone(),
                id: dana.id.into(),
                username: dana.username.clone(),
            },
        )
        .await;
    let general = api
        .get("/conversations", &bob.token)
        .await
        .body
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["kind"] == "general")
        .and_then(|c| c["id"].as_i64())
        .expect("general");
    let message = |conversation: i64, body: &str| chinwag_proto::Message {
        id: MessageId(1),
        conversation_id: ConversationId(conversation),
        seq: 1,
        sender_id: UserId(bob.id),
        client_id: "x".into(),
        body: body.into(),
        created_at: 0,
        edited_at: None,
        deleted: false,
        attachments: Vec::new(),
        reply_to: None,
        reactions: Vec::new(),
        // As the hub records it: Dana is mentioned when the text names her.
        mentions: chinwag_proto::Mentions {
            user_ids: if body.contains("@dana") {
                vec![UserId(dana_id)]
            } else {
                Vec::new()
            },
            ..Default::default()
        },
    };
    let away = Attention::default();
    // Names the node has not cached yet are asked of the hub.
    let notice = first
        .notice(&message(direct, "psst"), away)
        .await
        .expect("notifies");
    assert_eq!(
        (notice.summary.as_str(), notice.body.as_str()),
        ("Bob", "psst")
    );
    let notice = first
        .notice(&message(general, "hi all"), away)
        .await
        .expect("notifies");
    assert_eq!(notice.summary, "Bob in # general");
    let looking = Attention {
        conversation: Some(ConversationId(general)),
        focused: true,
    };
    assert!(first
        .notice(&message(general, "hi all"), looking)
        .await
        .is_none());

    // Direct messages and mentions only; mute one conversation; previews off.
    for change in [
        json!({"level": "direct_and_mentions"}),
        json!({"conversation": {"id": direct, "muted": true}}),
        json!({"previews": false}),
    ] {
        let (status, reply) = desktop
            .call(
                "PATCH",
                "/api/v1/node/notifications",
                Some(&token),
                Some(change.clone()),
            )
            .await;
        assert_eq!(status, 200, "{change}: {reply}");
    }
    assert_eq!(
        first.notify_settings().level,
        NotifyLevel::DirectAndMentions
    );
    assert!(first
        .notice(&message(general, "hi all"), away)
        .await
        .is_none());
    let mention = first
        .notice(&message(general, "@dana lunch?"), away)
        .await
        .expect("a mention");
    assert_eq!(mention.body, "New message", "previews are off");
    assert!(
        first.notice(&message(direct, "psst"), away).await.is_none(),
        "muted"
    );

    // The hub keeps them for Dana's other devices (a browser tab follows the same ones).
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let kept = api.get("/me/notifications", &token).await;
        if kept.body["level"] == "direct_and_mentions" && kept.body["previews"] == false {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hub never got the node's settings: {:?}",
            kept.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Muting on the hub (what the app's Mute does, synced to every device) quiets it too,
    // at once: the node keeps its conversation list current when it relays the change.
    let (status, _) = desktop
        .call("GET", "/api/v1/conversations", Some(&token), None)
        .await;
    assert_eq!(status, 200);
    for (muted, quiet) in [(true, true), (false, false)] {
        let (status, reply) = desktop
            .call(
                "PUT",
                &format!("/api/v1/conversations/{general}/mute"),
                Some(&token),
                Some(json!({ "muted": muted })),
            )
            .await;
        assert_eq!(status, 204, "{reply}");
        let notice = first.notice(&message(general, "@dana lunch?"), away).await;
        assert_eq!(notice.is_none(), quiet, "muted on the hub: {muted}");
    }
    // Muted on another device (straight on the hub): the hub tells this node's connection,
    // which stays quiet from then on, and speaks again once it is unmuted there.
    for muted in [true, false] {
        let other_device = api
            .call(
                "PUT",
                &format!("/conversations/{general}/mute"),
                Some(&token),
                Some(json!({ "muted": muted })),
            )
            .await;
        assert_eq!(other_device.status, 204);
        let deadline = tokio::time::Instant::now() + WAIT;
        while first
            .notice(&message(general, "@dana lunch?"), away)
            .await
            .is_none()
            != muted
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the node never heard of the mute ({muted}) set on another device"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // Hostile or malformed changes are refused whole and change nothing.
    let before = first.notify_settings();
    for bad in [
        json!({"level": "loud"}),
        json!({"previews": "no"}),
        json!({"muted_until": i64::MAX}),
        json!({"conversation": {"id": 0, "muted": true}}),
        json!({"conversation": {"id": 5}}),
        json!({"previews": true, "admin": true}),
        json!([1, 2, 3]),
    ] {
        let (status, _) = desktop
            .call(
                "PATCH",
                "/api/v1/node/notifications",
                Some(&token),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, 400, "{bad}");
    }
    let (status, _) = desktop
        .call(
            "PATCH",
            "/api/v1/node/notifications",
            Some(&token),
            Some(json!({"level": "x".repeat(2 * 1024 * 1024)})),
        )
        .await;
    assert_eq!(status, 413);
    let (status, _) = desktop
        .call(
            "PUT",
            "/api/v1/node/notifications",
            Some(&token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 405);
    assert_eq!(first.notify_settings(), before);

    // Signing out forgets them with the rest of the user's state.
    let (status, _) = desktop
        .call("POST", "/api/v1/auth/logout", Some(&token), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(first.notify_settings(), Default::default());

    desktop.stop().await;
    hub.stop().await;
}

/// One person's UI: a WebSocket to a hub or node that it reopens (resuming from the last
/// event it saw) whenever that endpoint restarts, and every message it has been shown.
struct Screen {
    who: &'static str,
    session: Session,
    ws: Option<Ws>,
    last_event_id: Option<i64>,
    shown: std::collections::HashMap<String, usize>,
    sent: Vec<String>,
}

impl Screen {
    fn new(who: &'static str, session: Session) -> Screen {
        Screen {
            who,
            session,
            ws: None,
            last_event_id: None,
            shown: Default::default(),
            sent: Vec::new(),
        }
    }

    fn note(&mut self, frame: &Value) {
        if frame["type"] == "event" && frame["event"]["kind"] == "message_new" {
            let id = frame["event"]["message"]["client_id"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            *self.shown.entry(id).or_insert(0) += 1;
        }
    }

    /// Reads what has arrived, for up to `wait`.
    async fn drain(&mut self, wait: Duration) {
        let Some(mut ws) = self.ws.take() else { return };
        let mut alive = true;
        while let Some(frame) = ws.try_next(wait).await {
            if frame["type"] == "__close" {
                alive = false;
                break;
            }
            self.note(&frame);
        }
        self.last_event_id = Some(ws.last_event_id);
        if alive {
            self.ws = Some(ws);
        }
    }

    /// The endpoint is going away: keep what was shown, forget the socket.
    async fn lose(&mut self) {
        self.drain(Duration::from_millis(50)).await;
        self.ws = None;
    }

    async fn open(&mut self, url: &str) {
        if self.ws.is_none() {
            let (ws, replayed) = Ws::connect_url(url, &self.session, self.last_event_id).await;
            for frame in &replayed {
                self.note(frame);
            }
            self.last_event_id = Some(ws.last_event_id);
            self.ws = Some(ws);
        }
    }

    async fn say(&mut self, body: String) {
        if let Some(ws) = self.ws.as_mut() {
            self.sent.push(send(ws, 1, &body).await);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Hub,
    Node(usize),
}

#[tokio::test]
async fn hub_and_nodes_restarted_in_any_order_converge_on_one_history() {
    let hub = TestHub::start_with(config()).await;
    let hub_addr = hub.addr;
    let dirs = [
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    ];
    let mut nodes = vec![
        Some(TestNode::start(dirs[0].path(), hub_addr).await),
        Some(TestNode::start(dirs[1].path(), hub_addr).await),
    ];
    let alice = nodes[0]
        .as_ref()
        .expect("node")
        .api()
        .register("alice")
        .await;
    let carol = nodes[1]
        .as_ref()
        .expect("node")
        .api()
        .register("carol")
        .await;
    let bob = hub.api().register("bob").await;
    for node in nodes.iter().flatten() {
        node.online().await;
    }
    let mut hub = Some(hub);
    let mut hub_dir = None;
    // Screens: Alice on node 0, Carol on node 1, Bob on the hub.
    let mut screens = [
        Screen::new("alice", alice),
        Screen::new("carol", carol),
        Screen::new("bob", bob),
    ];
    let endpoint = |screen: usize| match screen {
        0 => Part::Node(0),
        1 => Part::Node(1),
        _ => Part::Hub,
    };
    use Part::{Hub, Node};
    let rounds: [&[(bool, Part)]; 4] = [
        &[
            (false, Hub),
            (false, Node(0)),
            (false, Node(1)),
            (true, Hub),
            (true, Node(0)),
            (true, Node(1)),
        ],
        &[
            (false, Node(1)),
            (false, Hub),
            (false, Node(0)),
            (true, Node(0)),
            (true, Node(1)),
            (true, Hub),
        ],
        &[
            (false, Node(0)),
            (false, Node(1)),
            (false, Hub),
            (true, Node(1)),
            (true, Hub),
            (true, Node(0)),
        ],
        &[
            (false, Hub),
            (true, Hub),
            (false, Node(1)),
            (false, Node(0)),
            (true, Node(0)),
            (true, Node(1)),
        ],
    ];
    let mut steps = 0;
    for (round, actions) in rounds.iter().enumerate() {
        for (step, &(up, part)) in actions.iter().enumerate() {
            for (i, screen) in screens.iter_mut().enumerate() {
                if !up && endpoint(i) == part {
                    screen.lose().await;
                }
            }
            match (up, part) {
                (false, Hub) => hub_dir = Some(hub.take().expect("hub up").stop().await),
                (true, Hub) => {
                    let dir = hub_dir.take().expect("hub down");
                    hub = Some(TestHub::start_on(config(), dir, hub_addr.port()).await);
                }
                (false, Node(n)) => nodes[n].take().expect("node up").stop().await,
                (true, Node(n)) => {
                    nodes[n] = Some(TestNode::start(dirs[n].path(), hub_addr).await);
                }
            }
            steps += 1;
            // Everyone whose app is up looks at it and says something.
            for (i, screen) in screens.iter_mut().enumerate() {
                let url = match endpoint(i) {
                    Hub => hub.as_ref().map(TestHub::ws_url),
                    Node(n) => nodes[n].as_ref().map(TestNode::ws_url),
                };
                if let Some(url) = url {
                    screen.open(&url).await;
                    screen
                        .say(format!("{} round {round} step {step}", screen.who))
                        .await;
                    screen.drain(Duration::from_millis(20)).await;
                }
            }
        }
    }
    // Everything is up again: wait for the nodes to deliver what they queued.
    let hub = hub.expect("hub up");
    for node in nodes.iter().flatten() {
        node.online().await;
    }
    let expected: usize = screens.iter().map(|s| s.sent.len()).sum();
    let deadline = tokio::time::Instant::now() + WAIT * 2;
    let history = loop {
        let history = hub.api().all_messages(&screens[2].session, 1).await;
        if history.len() >= expected || tokio::time::Instant::now() > deadline {
            break history;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let stored: Vec<String> = history
        .iter()
        .map(|m| m["client_id"].as_str().unwrap_or("").to_owned())
        .collect();
    let distinct: std::collections::HashSet<&String> = stored.iter().collect();
    let mut converged = 0;
    for screen in screens.iter_mut() {
        let deadline = tokio::time::Instant::now() + WAIT;
        while screen.shown.len() < stored.len() && tokio::time::Instant::now() < deadline {
            screen.drain(Duration::from_millis(100)).await;
        }
        let twice: Vec<_> = screen.shown.iter().filter(|(_, &n)| n > 1).collect();
        assert!(
            twice.is_empty(),
            "{} was shown messages twice: {twice:?}",
            screen.who
        );
        let mut shown: Vec<&String> = screen.shown.keys().collect();
        let mut want: Vec<&String> = stored.iter().collect();
        shown.sort();
        want.sort();
        assert_eq!(shown, want, "{} converged on the hub's history", screen.who);
        converged += 1;
    }
    println!(
        "restart everything: {} stop/start steps in 4 orders, {expected} messages sent, {} \
         stored, {} distinct; {converged}/3 screens show exactly the stored history",
        steps,
        stored.len(),
        distinct.len()
    );
    assert_eq!(stored.len(), expected, "every message sent is stored");
    assert_eq!(distinct.len(), stored.len(), "none twice");
    for screen in &screens {
        for id in &screen.sent {
            assert!(distinct.contains(id), "{}'s {id} was stored", screen.who);
        }
    }
    for node in nodes.into_iter().flatten() {
        node.stop().await;
    }
    hub.stop().await;
}

#[tokio::test]
async fn the_desktop_node_takes_the_notification_settings_the_hub_keeps() {
    use chinwag_node::join::notify::NotifyLevel;
    let hub = TestHub::start().await;
    let api = hub.api();
    // Dana chose her notifications in a browser: the hub keeps them.
    let dana = api.register("dana").await;
    let r = api
        .patch(
            "/me/notifications",
            &dana.token,
            json!({"level": "nothing", "previews": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Her desktop joins the hub and signs in: it takes them on connecting.
    let desktop = DesktopNode::start().await;
    let (status, _) = desktop
        .post(
            "/api/v1/node/choose",
            json!({"mode": "join", "address": hub.addr.to_string()}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, me) = desktop
        .post(
            "/api/v1/auth/login",
            json!({"username": "dana", "password": "dana-password"}),
        )
        .await;
    assert_eq!(status, 200, "{me}");
    let joined = desktop.node.current().expect("joined");
    let deadline = tokio::time::Instant::now() + WAIT;
    while joined.notify_settings().level != NotifyLevel::Nothing {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the node never took the hub's settings: {:?}",
            joined.notify_settings()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!joined.notify_settings().previews);
    desktop.stop().await;
    hub.stop().await;
}

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

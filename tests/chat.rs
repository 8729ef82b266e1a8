//! Chatting as users do: direct and group conversations, typing, receipts, edits, resends,
//! resume, presence (watch), the conversation list and history paging.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{config, sending_at, TestHub, Ws};

#[tokio::test]
async fn two_users_chat_directly() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;

    let first = api
        .post(
            "/conversations/direct",
            &alice.token,
            json!({ "user_id": bob.id }),
        )
        .await;
    assert_eq!(first.status, 201, "created on first use");
    let direct = first.body["id"].as_i64().expect("id");
    let again = api
        .post(
            "/conversations/direct",
            &bob.token,
            json!({ "user_id": alice.id }),
        )
        .await;
    assert_eq!(again.status, 200, "exactly one per pair");
    assert_eq!(again.body["id"].as_i64(), Some(direct));

    let mut a = Ws::connect(&hub, &alice).await;
    let mut b = Ws::connect(&hub, &bob).await;
    let ack = a.say(direct, "a-1", "Hi Bob!").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["duplicate"], false);
    assert_eq!(ack["message"]["seq"], 1);
    let got = b.message("Hi Bob!").await;
    assert_eq!(got["sender_id"], alice.id);
    assert_eq!(got["conversation_id"], direct);

    let ack = b.say(direct, "b-1", "Hello Alice").await;
    assert_eq!(ack["message"]["seq"], 2);
    a.message("Hello Alice").await;

    let history = api.history(&alice, direct).await;
    let bodies: Vec<&str> = history
        .iter()
        .map(|m| m["body"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(bodies, ["Hi Bob!", "Hello Alice"]);

    // The list shows the direct chat with Bob as peer, the last message and no unread for
    // Alice (Bob's message came after, so one unread).
    let list = api.get("/conversations", &alice.token).await;
    let entry = list
        .body
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["id"] == direct)
        .expect("direct chat listed")
        .clone();
    assert_eq!(entry["kind"], "direct");
    assert_eq!(entry["peer_id"], bob.id);
    assert_eq!(entry["last_message"]["body"], "Hello Alice");
    assert_eq!(entry["unread"], 1);
    assert_eq!(list.body[0]["id"], direct, "latest activity first");
}

#[tokio::test]
async fn a_group_of_three_and_an_outsider() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let carol = api.register("carol").await;
    let dave = api.register("dave").await;
    let mut a = Ws::connect(&hub, &alice).await;
    let mut b = Ws::connect(&hub, &bob).await;
    let mut c = Ws::connect(&hub, &carol).await;
    let mut d = Ws::connect(&hub, &dave).await;

    let group = api.group(&alice, "Lunch plans", &[&bob, &carol]).await;
    for ws in [&mut a, &mut b, &mut c] {
        let created = ws.event("conversation_created").await;
        assert_eq!(created["conversation"]["name"], "Lunch plans");
        assert_eq!(created["members"].as_array().map(Vec::len), Some(3));
    }
    b.say(group, "b-1", "Pizza?").await;
    for ws in [&mut a, &mut c] {
        ws.message("Pizza?").await;
    }
    d.assert_none("group traffic for an outsider", |f| {
        f["type"] == "event" && f["event"].to_string().contains("Pizza")
    })
    .await;

    // Only an admin manages members; Alice made the group, so she is its admin.
    let refused = api.remove_member(&bob, group, carol.id).await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    let added = api
        .post(
            &format!("/conversations/{group}/members"),
            &alice.token,
            json!({ "user_ids": [dave.id] }),
        )
        .await;
    assert_eq!(added.status, 200, "{:?}", added.body);
    let joined = d.event("members_added").await;
    assert_eq!(joined["conversation"]["id"], group);
    let removed = api.remove_member(&alice, group, dave.id).await;
    assert_eq!(removed.status, 204);
    let gone = d.event("member_removed").await;
    assert_eq!(gone["user_id"], dave.id);

    // Carol leaves; she is told, and no longer receives the group's messages.
    let left = api.leave(&carol, group).await;
    assert_eq!(left.status, 204);
    c.expect("carol's own removal", |f| {
        f["event"]["kind"] == "member_removed" && f["event"]["user_id"] == carol.id
    })
    .await;
    a.say(group, "a-1", "Just us then").await;
    b.message("Just us then").await;
    c.assert_none("messages after leaving", |f| {
        f["type"] == "event" && f["event"]["kind"] == "message_new"
    })
    .await;

    // Renaming is an admin's job and everyone still in hears of it.
    let renamed = api.rename(&alice, group, "Dinner").await;
    assert_eq!(renamed.status, 200);
    assert_eq!(
        b.event("conversation_updated").await["conversation"]["name"],
        "Dinner"
    );
}

#[tokio::test]
async fn typing_reaches_others_but_not_the_typer_and_expires() {
    let mut cfg = config();
    cfg.typing_ttl = Duration::from_millis(400);
    let hub = TestHub::start_with(cfg).await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let direct = api.direct(&alice, &bob).await;
    let mut a = Ws::connect(&hub, &alice).await;
    let mut b = Ws::connect(&hub, &bob).await;

    a.send(json!({ "type": "typing", "conversation_id": direct, "typing": true }))
        .await;
    let on = b.frame("typing").await;
    assert_eq!(on["user_id"], alice.id);
    assert_eq!(on["typing"], true);
    assert_eq!(on["expires_in_ms"], 400);
    // Without a refresh the hub itself says "stopped".
    let off = b.frame("typing").await;
    assert_eq!(off["typing"], false);
    a.assert_none("own typing echoed", |f| f["type"] == "typing")
        .await;

    // Sending a message stops the indicator at once.
    a.send(json!({ "type": "typing", "conversation_id": direct, "typing": true }))
        .await;
    assert_eq!(b.frame("typing").await["typing"], true);
    a.say(direct, "m1", "done typing").await;
    assert_eq!(b.frame("typing").await["typing"], false);
}

#[tokio::test]
async fn delivered_and_read_receipts_move_and_are_told() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let carol = api.register("carol").await;
    let group = api.group(&alice, "Team", &[&bob, &carol]).await;
    let mut a = Ws::connect(&hub, &alice).await;
    let mut b = Ws::connect(&hub, &bob).await;

    let ack = a.say(group, "a-1", "Did you see this?").await;
    let seq = ack["message"]["seq"].as_i64().expect("seq");
    b.event("message_new").await;
    b.send(json!({ "type": "delivered", "conversation_id": group, "seq": seq }))
        .await;
    let receipt = a.event("receipt").await;
    assert_eq!(receipt["user_id"], bob.id);
    assert_eq!(receipt["delivered_seq"], seq);
    assert_eq!(receipt["read_seq"], 0);

    b.send(json!({ "type": "read", "ref": "r", "conversation_id": group, "seq": seq }))
        .await;
    assert_eq!(b.frame("ok").await["ref"], "r");
    let receipt = a.event("receipt").await;
    assert_eq!(receipt["read_seq"], seq);

    // The sender can tell who has seen it: Bob has, Carol has not.
    let detail = api
        .get(&format!("/conversations/{group}"), &alice.token)
        .await;
    let members = detail.body["members"].as_array().expect("members");
    let of = |id: i64| {
        members
            .iter()
            .find(|m| m["user_id"] == id)
            .expect("member")
            .clone()
    };
    assert_eq!(of(bob.id)["read_seq"], seq);
    assert_eq!(of(carol.id)["read_seq"], 0);
    assert_eq!(of(carol.id)["delivered_seq"], 0);

    // Receipts never move back, and a repeat is quiet.
    b.send(json!({ "type": "read", "conversation_id": group, "seq": 0 }))
        .await;
    a.assert_none("receipt that did not move", |f| {
        f["type"] == "event" && f["event"]["kind"] == "receipt"
    })
    .await;

    // Carol reads over REST; unread drops to zero.
    assert_eq!(api.unread(&carol, group).await, 1);
    let moved = api
        .post(
            &format!("/conversations/{group}/receipts"),
            &carol.token,
            json!({ "read_seq": seq }),
        )
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    assert_eq!(moved.body["delivered_seq"], seq, "read implies delivered");
    assert_eq!(api.unread(&carol, group).await, 0);
}

#[tokio::test]
async fn receipts_a_second_apart_are_written_at_once_and_quicker_ones_merged() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let direct = api.direct(&alice, &bob).await;
    let mut a = Ws::connect(&hub, &alice).await;
    let mut b = Ws::connect(&hub, &bob).await;
    for i in 1..=3 {
        a.say(direct, &format!("m{i}"), &format!("message {i}"))
            .await;
    }
    let before = a.last_event_id;
    // The first report is told at once; the two that follow within the second are one.
    for seq in 1..=3 {
        b.send(json!({ "type": "delivered", "conversation_id": direct, "seq": seq }))
            .await;
    }
    b.send(json!({ "type": "read", "conversation_id": direct, "seq": 2 }))
        .await;
    let first = a.event("receipt").await;
    assert_eq!(
        (first["delivered_seq"].as_i64(), first["read_seq"].as_i64()),
        (Some(1), Some(0))
    );
    let merged = a.event("receipt").await;
    assert_eq!(
        (
            merged["delivered_seq"].as_i64(),
            merged["read_seq"].as_i64()
        ),
        (Some(3), Some(2)),
        "{merged}"
    );
    a.assert_none("a third receipt", |f| {
        f["type"] == "event" && f["event"]["kind"] == "receipt"
    })
    .await;
    let log = api
        .get(&format!("/events?after={before}"), &alice.token)
        .await;
    let kinds: Vec<&str> = log.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event"]["kind"].as_str())
        .filter(|kind| *kind != "message_new")
        .collect();
    assert_eq!(
        kinds,
        ["receipt", "receipt"],
        "two durable updates for four reports"
    );
    // A report past the latest message is refused, even when merged.
    b.send(json!({ "type": "read", "conversation_id": direct, "seq": 99 }))
        .await;
    let refused = b.frame("error").await;
    assert_eq!(refused["code"], "invalid_field", "{refused}");
    // One with a `ref` is written at once, so its `ok` means saved.
    b.send(json!({ "type": "read", "ref": "r", "conversation_id": direct, "seq": 3 }))
        .await;
    assert_eq!(b.frame("ok").await["ref"], "r");
    assert_eq!(api.unread(&bob, direct).await, 0);
}

#[tokio::test]
async fn in_a_large_channel_receipts_reach_only_who_shows_them() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let people = hub
        .crowd(
            "person",
            chinwag_store::RECEIPTS_TO_EVERYONE_UP_TO as usize + 1,
        )
        .await;
    let (alice, bob, carol, reader) = (&people[0], &people[1], &people[2], &people[3]);
    let general = 1;
    let mut a = Ws::connect(&hub, alice).await;
    let mut b = Ws::connect(&hub, bob).await;
    let mut c = Ws::connect(&hub, carol).await;
    let mut r = Ws::connect(&hub, reader).await;
    let mut r2 = Ws::connect(&hub, reader).await;
    let start = a.last_event_id;
    a.say(general, "a1", "from alice").await;
    b.say(general, "b1", "from bob").await;
    let last = a.say(general, "a2", "alice again").await["message"]["seq"]
        .as_i64()
        .expect("seq");
    // (Alice's own too: an event that came before her ack is held for this read.)
    for ws in [&mut a, &mut b, &mut c, &mut r, &mut r2] {
        ws.message("alice again").await;
    }
    let is_receipt = |f: &Value| f["type"] == "event" && f["event"]["kind"] == "receipt";
    // Reading over bob's message and alice's: both senders hear it, and my other device.
    r.send(json!({ "type": "read", "ref": "r1", "conversation_id": general, "seq": last }))
        .await;
    assert_eq!(r.frame("ok").await["ref"], "r1");
    for ws in [&mut a, &mut b, &mut r2] {
        assert_eq!(ws.event("receipt").await["read_seq"], last);
    }
    c.assert_none("someone else's receipt", is_receipt).await;
    // Resume replays by the same rule.
    let (_, replayed) = Ws::connect_resume(&hub, carol, Some(start)).await;
    assert!(!replayed.iter().any(is_receipt), "carol is not told");
    let (_, replayed) = Ws::connect_resume(&hub, bob, Some(start)).await;
    assert_eq!(replayed.iter().filter(|f| is_receipt(f)).count(), 1);
    // Everyone may still read everyone's positions.
    let detail = api
        .get(&format!("/conversations/{general}"), &carol.token)
        .await;
    let position = detail.body["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["user_id"] == reader.id)
        .expect("reader")
        .clone();
    assert_eq!(position["read_seq"], last);
}

#[tokio::test]
async fn edit_and_delete_own_messages_only() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let mut a = Ws::connect(&hub, &alice).await;
    let mut b = Ws::connect(&hub, &bob).await;

    let ack = a.say(1, "a-1", "helo").await;
    let id = ack["message"]["id"].as_i64().expect("id");
    a.send(json!({ "type": "edit", "ref": "e", "message_id": id, "body": "hello" }))
        .await;
    let edited = a.frame("ack").await;
    assert_eq!(edited["message"]["body"], "hello");
    assert!(edited["message"]["edited_at"].is_i64());
    let seen = b.event("message_edited").await;
    assert_eq!(seen["message"]["body"], "hello");

    // Bob cannot change Alice's message.
    b.send(json!({ "type": "edit", "ref": "x", "message_id": id, "body": "pwned" }))
        .await;
    let err = b.frame("error").await;
    assert_eq!(err["code"], "forbidden");
    assert_eq!(err["ref"], "x");
    let rest = api.delete(&format!("/messages/{id}"), &bob.token).await;
    assert_eq!(rest.status, 403);

    a.send(json!({ "type": "delete", "ref": "d", "message_id": id }))
        .await;
    let deleted = a.frame("ack").await;
    assert_eq!(deleted["message"]["deleted"], true);
    assert_eq!(deleted["message"]["body"], "");
    assert_eq!(b.event("message_deleted").await["message"]["id"], id);

    // The tombstone stays in history; it cannot be edited back.
    let history = api.history(&bob, 1).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["deleted"], true);
    let again = api
        .patch(
            &format!("/messages/{id}"),
            &alice.token,
            json!({ "body": "back" }),
        )
        .await;
    assert_eq!(again.status, 400);
    assert_eq!(again.code(), "invalid_field");
}

#[tokio::test]
async fn resending_with_the_same_client_id_never_duplicates() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let mut a = Ws::connect(&hub, &alice).await;
    let mut b = Ws::connect(&hub, &bob).await;

    let first = a.say(1, "retry-1", "only once").await;
    let second = a.say(1, "retry-1", "only once").await;
    assert_eq!(first["duplicate"], false);
    assert_eq!(second["duplicate"], true);
    assert_eq!(first["message"], second["message"]);
    b.event("message_new").await;
    b.assert_none("a second copy", |f| {
        f["type"] == "event" && f["event"]["kind"] == "message_new"
    })
    .await;

    // Over REST too: 201 then 200 with the same message.
    let r1 = api.send(&bob, 1, "rest-1", "via REST").await;
    let r2 = api.send(&bob, 1, "rest-1", "via REST").await;
    assert_eq!((r1.status, r2.status), (201, 200));
    assert_eq!(r1.body["id"], r2.body["id"]);
    assert_eq!(api.history(&alice, 1).await.len(), 2);
}

#[tokio::test]
async fn reconnect_and_resume_gets_exactly_what_was_missed() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let direct = api.direct(&alice, &bob).await;

    let mut a = Ws::connect(&hub, &alice).await;
    let mut b = Ws::connect(&hub, &bob).await;
    b.say(direct, "seen", "before the break").await;
    a.event("message_new").await;
    let cursor = a.last_event_id;
    drop(a);

    for i in 0..25 {
        b.say(direct, &format!("missed-{i}"), &format!("missed {i}"))
            .await;
    }
    let (mut a, replayed) = Ws::connect_resume(&hub, &alice, Some(cursor)).await;
    let bodies: Vec<String> = replayed
        .iter()
        .filter(|f| f["event"]["kind"] == "message_new")
        .map(|f| {
            f["event"]["message"]["body"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    let expected: Vec<String> = (0..25).map(|i| format!("missed {i}")).collect();
    assert_eq!(bodies, expected, "every missed message, in order, once");
    let ids: Vec<i64> = replayed
        .iter()
        .map(|f| f["id"].as_i64().expect("id"))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert!(ids[0] > cursor);

    // Then live, without a gap or a repeat.
    b.say(direct, "live", "after resume").await;
    a.message("after resume").await;
    a.assert_none("a repeat of a replayed event", |f| {
        f["type"] == "event" && f["id"].as_i64().is_some_and(|id| ids.contains(&id))
    })
    .await;

    // Resuming from the newest id replays nothing.
    let (_, nothing) = Ws::connect_resume(&hub, &alice, Some(a.last_event_id)).await;
    assert!(nothing.is_empty(), "{nothing:?}");
}

async fn watch(ws: &mut Ws, user_ids: &[i64]) -> Value {
    ws.send(json!({ "type": "watch", "ref": "w", "user_ids": user_ids }))
        .await;
    let reply = ws.frame("watching").await;
    assert_eq!(reply["ref"], "w");
    reply
}

#[tokio::test]
async fn presence_follows_connections_for_those_who_watch() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let carol = api.register("carol").await;
    let mut b = Ws::connect(&hub, &bob).await;
    let watching = watch(&mut b, &[alice.id]).await;
    assert_eq!(
        watching["presence"],
        json!([{ "user_id": alice.id, "status": "offline" }])
    );
    let mut c = Ws::connect(&hub, &carol).await;

    let a = Ws::connect(&hub, &alice).await;
    let online = b
        .expect("alice online", |f| {
            f["type"] == "presence" && f["user_id"] == alice.id
        })
        .await;
    assert_eq!(online["status"], "online");
    assert!(
        a.ready.get("presence").is_none(),
        "ready lists nobody: {}",
        a.ready
    );
    let users = api.get("/users", &bob.token).await;
    let entry = users
        .body
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["id"] == alice.id)
        .expect("alice")
        .clone();
    assert_eq!(entry["presence"], "online");

    // Carol watches bob only, so she hears nothing of alice; watching her now tells her
    // alice's presence at once.
    let mut a = a;
    a.send(json!({ "type": "presence", "status": "away" }))
        .await;
    let away = b
        .expect("alice away", |f| {
            f["type"] == "presence" && f["user_id"] == alice.id
        })
        .await;
    assert_eq!(away["status"], "away");
    c.assert_none("presence of someone unwatched", |f| f["type"] == "presence")
        .await;
    let watching = watch(&mut c, &[alice.id, bob.id, alice.id]).await;
    assert_eq!(
        watching["presence"],
        json!([
            { "user_id": alice.id, "status": "away" },
            { "user_id": bob.id, "status": "online" },
        ])
    );
    drop(a);
    for ws in [&mut b, &mut c] {
        let offline = ws
            .expect("alice offline", |f| {
                f["type"] == "presence" && f["user_id"] == alice.id
            })
            .await;
        assert_eq!(offline["status"], "offline");
    }

    // An empty list stops watching.
    watch(&mut b, &[]).await;
    let _a = Ws::connect(&hub, &alice).await;
    c.expect("alice back", |f| {
        f["type"] == "presence" && f["user_id"] == alice.id
    })
    .await;
    b.assert_none("presence after unwatching", |f| f["type"] == "presence")
        .await;
}

#[tokio::test]
async fn watch_refuses_bad_lists_and_floods_and_keeps_the_old_list() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let mut b = Ws::connect(&hub, &bob).await;
    watch(&mut b, &[alice.id]).await;
    let too_many: Vec<i64> = (1..=1001).collect();
    let cases = [
        (
            json!({ "type": "watch", "ref": "x", "user_ids": too_many }),
            "invalid_field",
        ),
        (
            json!({ "type": "watch", "ref": "x", "user_ids": [0] }),
            "invalid_field",
        ),
        (
            json!({ "type": "watch", "ref": "x", "user_ids": [-5] }),
            "invalid_field",
        ),
        (
            json!({ "type": "watch", "ref": "x", "user_ids": ["alice"] }),
            "bad_request",
        ),
        (
            json!({ "type": "watch", "ref": "x", "user_ids": 7 }),
            "bad_request",
        ),
        (json!({ "type": "watch", "ref": "x" }), "bad_request"),
    ];
    for (frame, code) in cases {
        b.send(frame.clone()).await;
        let err = b.frame("error").await;
        assert_eq!(err["code"], code, "{frame}: {err}");
        assert_eq!(err["ref"], "x");
    }
    // Unknown people are simply offline; a thousand ids are fine.
    let thousand: Vec<i64> = (1..=1000).collect();
    let reply = watch(&mut b, &thousand).await;
    assert_eq!(reply["presence"].as_array().map(Vec::len), Some(1000));
    // A flood of watch frames is rate limited, and the last accepted list stays.
    let mut limited = None;
    for _ in 0..30 {
        b.send(json!({ "type": "watch", "ref": "f", "user_ids": [alice.id] }))
            .await;
        let reply = b
            .expect("a reply", |f| {
                f["type"] == "watching" || f["type"] == "error"
            })
            .await;
        if reply["type"] == "error" {
            limited = Some(reply);
            break;
        }
    }
    let limited = limited.expect("watch frames are rate limited");
    assert_eq!(limited["code"], "rate_limited", "{limited}");
    let _a = Ws::connect(&hub, &alice).await;
    let online = b
        .expect("alice online", |f| {
            f["type"] == "presence" && f["user_id"] == alice.id
        })
        .await;
    assert_eq!(online["status"], "online");
}

#[tokio::test]
async fn profile_changes_reach_everyone() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let mut b = Ws::connect(&hub, &bob).await;
    let updated = api
        .patch(
            "/me",
            &alice.token,
            json!({ "display_name": "Alice A.", "status_text": "In a meeting" }),
        )
        .await;
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    let event = b.event("user_updated").await;
    assert_eq!(event["user"]["display_name"], "Alice A.");
    assert_eq!(event["user"]["status_text"], "In a meeting");
    let me = api.get("/me", &alice.token).await;
    assert_eq!(me.body["display_name"], "Alice A.");
    assert_eq!(
        me.body["is_admin"], true,
        "the first account is the hub's admin"
    );
    let carol = api.register("carol").await;
    let event = b.event("user_joined").await;
    assert_eq!(event["user"]["id"], carol.id);
    let carol_me = api.get("/me", &carol.token).await;
    assert_eq!(carol_me.body["is_admin"], false);
}

#[tokio::test]
async fn history_pages_by_sequence() {
    let cfg = sending_at(1000);
    let hub = TestHub::start_with(cfg).await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let mut a = Ws::connect(&hub, &alice).await;
    for i in 1..=120 {
        a.send(json!({ "type": "send", "conversation_id": 1, "client_id": format!("c{i}"), "body": format!("m{i}") })).await;
    }
    for _ in 0..120 {
        a.frame("ack").await;
    }
    let page = api
        .get("/conversations/1/messages?limit=50", &alice.token)
        .await;
    let msgs = page.body["messages"].as_array().expect("messages");
    assert_eq!(msgs.len(), 50);
    assert_eq!(msgs[0]["seq"], 71);
    assert_eq!(msgs[49]["seq"], 120);
    assert_eq!(page.body["has_more"], true);
    let older = api
        .get(
            "/conversations/1/messages?before=71&limit=100",
            &alice.token,
        )
        .await;
    let msgs = older.body["messages"].as_array().expect("messages");
    assert_eq!(msgs.len(), 70);
    assert_eq!(msgs[0]["seq"], 1);
    assert_eq!(older.body["has_more"], false);
    let newer = api
        .get("/conversations/1/messages?after=115", &alice.token)
        .await;
    let seqs: Vec<i64> = newer.body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["seq"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(seqs, [116, 117, 118, 119, 120]);
    for bad in ["limit=201", "limit=0", "before=5&after=1", "limit=abc"] {
        let r = api
            .get(&format!("/conversations/1/messages?{bad}"), &alice.token)
            .await;
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
    }
}

#[tokio::test]
async fn events_can_be_polled_over_rest() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    api.send(&alice, 1, "p1", "poll me").await;
    let page = api.get("/events?after=0&limit=1000", &bob.token).await;
    assert_eq!(page.status, 200);
    let events = page.body["events"].as_array().expect("events");
    assert!(
        events
            .iter()
            .any(|e| e["event"]["kind"] == "message_new"
                && e["event"]["message"]["body"] == "poll me")
    );
    let last = page.body["last_event_id"].as_i64().expect("cursor");
    let empty = api.get(&format!("/events?after={last}"), &bob.token).await;
    assert_eq!(empty.body["events"].as_array().map(Vec::len), Some(0));
}

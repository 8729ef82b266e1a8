//! Marking a conversation unread: my unread count and read position (as I see them) go back
//! to a message, on all my devices and only mine, until I read it again; what others see of
//! my receipts stays.

use serde_json::{json, Value};

use crate::common::{Session, TestHub, Ws};

fn is_unread_changed(f: &Value) -> bool {
    f["type"] == "event" && f["event"]["kind"] == "unread_changed"
}

/// On the connection that sent frame `reference`: its `ok` and the `unread_changed` it
/// made, in whichever order they come (the event is fanned out as the write commits, the
/// `ok` once the writer has answered). Returns the event.
async fn ok_and_unread_changed(ws: &mut Ws, reference: &str) -> Value {
    let (mut ok, mut event) = (false, None);
    while !ok || event.is_none() {
        let frame = ws
            .expect("the ok and the unread_changed", |f| {
                f["ref"] == reference || is_unread_changed(f)
            })
            .await;
        if is_unread_changed(&frame) {
            event = Some(frame);
        } else {
            assert_eq!(frame["type"], "ok", "{frame}");
            ok = true;
        }
    }
    event.expect("the event")
}

#[tokio::test]
async fn marking_unread_moves_my_position_back_on_my_devices_only_until_i_read_again() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let group = api.group(&alice, "team", &[&bob]).await;
    for (i, body) in ["one", "two @bob", "three"].iter().enumerate() {
        let r = api.send(&alice, group, &format!("m{i}"), body).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    api.read_up_to(&bob, group, 3).await;
    let mut phone = Ws::connect(&hub, &bob).await;
    let mut laptop = Ws::connect(&hub, &bob).await;
    let mut a = Ws::connect(&hub, &alice).await;
    let cursor = laptop.last_event_id;

    laptop
        .send(json!({"type": "mark_unread", "ref": "u1", "conversation_id": group, "seq": 2}))
        .await;
    let want = json!({"kind": "unread_changed", "conversation_id": group, "user_id": bob.id,
                      "read_seq": 1, "unread": 2, "mentions": 1});
    assert_eq!(
        ok_and_unread_changed(&mut laptop, "u1").await["event"],
        want
    );
    assert_eq!(
        phone.expect("unread_changed", is_unread_changed).await["event"],
        want
    );
    a.assert_none("Bob's own unread state", is_unread_changed)
        .await;
    let line = api.line(&bob, group).await;
    assert_eq!(
        (
            line["read_seq"].clone(),
            line["unread"].clone(),
            line["mentions"].clone()
        ),
        (json!(1), json!(2), json!(1))
    );
    // Alice still sees that Bob read everything.
    let detail = api
        .get(&format!("/conversations/{group}"), &alice.token)
        .await;
    let seen = detail.body["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["user_id"] == bob.id)
        .map(|m| m["read_seq"].clone());
    assert_eq!(seen, Some(json!(3)));
    // A device resuming from before hears it too.
    let (_, replayed) = Ws::connect_resume(&hub, &bob, Some(cursor)).await;
    assert_eq!(replayed.iter().filter(|f| is_unread_changed(f)).count(), 1);

    // Reading it again, even to where the hub already had him, clears the mark everywhere.
    phone
        .send(json!({"type": "read", "ref": "r1", "conversation_id": group, "seq": 3}))
        .await;
    let on_phone = ok_and_unread_changed(&mut phone, "r1").await;
    let on_laptop = laptop.expect("unread_changed", is_unread_changed).await;
    for ev in [on_phone, on_laptop] {
        assert_eq!(
            (
                ev["event"]["read_seq"].clone(),
                ev["event"]["unread"].clone()
            ),
            (json!(3), json!(0))
        );
    }
    let line = api.line(&bob, group).await;
    assert_eq!(
        (line["read_seq"].clone(), line["unread"].clone()),
        (json!(3), json!(0))
    );

    // Over REST as well; reading only part of the way leaves the mark.
    let r = api
        .post(
            &format!("/conversations/{group}/unread"),
            &bob.token,
            json!({"seq": 3}),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    api.read_up_to(&bob, group, 2).await;
    assert_eq!(api.line(&bob, group).await["unread"], 1);
}

#[tokio::test]
async fn a_mark_must_name_a_message_i_can_see() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let carol = api.register("carol").await;
    let group = api.group(&alice, "closed", &[&bob]).await;
    api.hide_history(&alice, group).await;
    let r = api.send(&alice, group, "s", "secret").await;
    assert_eq!(r.status, 201);
    api.add_member(&alice, group, &carol).await;
    let r = api.send(&alice, group, "l", "later").await;
    assert_eq!(r.status, 201);
    let mark = |who: &Session, body: Value| {
        let (api, token) = (api.clone(), who.token.clone());
        async move {
            api.post(&format!("/conversations/{group}/unread"), &token, body)
                .await
        }
    };
    for (who, seq) in [(&bob, 0), (&bob, 3), (&bob, -1), (&carol, 1)] {
        let r = mark(who, json!({"seq": seq})).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_field"),
            "{seq}: {:?}",
            r.body
        );
    }
    assert_eq!(
        mark(&carol, json!({"seq": 2})).await.status,
        204,
        "the message she sees"
    );
    for body in [json!({}), json!({"seq": "2"}), json!({"seq": 2, "x": 1})] {
        assert_eq!(mark(&bob, body).await.status, 400);
    }
    let stranger = api.register("dave").await;
    let r = mark(&stranger, json!({"seq": 1})).await;
    assert_eq!((r.status, r.code()), (404, "not_found"), "{:?}", r.body);
}

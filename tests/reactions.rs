//! Reactions: any emoji on any message one may see, toggled, with who reacted; durable
//! events replayed like the others and hidden from whoever may not see the message; the
//! limits, the emoji list, and every kind of bad reaction refused with nothing stored.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{sending_at, Api, Session, TestHub, Ws};

async fn sent(api: &Api, me: &Session, conversation: i64, client_id: &str, body: &str) -> i64 {
    let reply = api.send(me, conversation, client_id, body).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body["id"].as_i64().expect("message id")
}

async fn react(
    api: &Api,
    me: &Session,
    message: i64,
    emoji: &str,
    on: bool,
) -> crate::common::Reply {
    api.post(
        &format!("/messages/{message}/reactions"),
        &me.token,
        json!({"emoji": emoji, "on": on}),
    )
    .await
}

fn is_reaction(f: &Value) -> bool {
    f["type"] == "event" && f["event"]["kind"] == "reaction"
}

#[tokio::test]
async fn reactions_toggle_reach_everyone_who_sees_the_message_and_replay() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let group = api.group(&alice, "lunch", &[&bob]).await;
    let message = sent(&api, &alice, group, "m", "Pizza?").await;
    let mut a = Ws::connect(&hub, &alice).await;
    let cursor = a.last_event_id;

    // Bob reacts over the WebSocket: `ok`, and Alice hears it with the message's reactions.
    let mut b = Ws::connect(&hub, &bob).await;
    b.send(json!({"type": "react", "ref": "r1", "message_id": message, "emoji": "👍", "on": true}))
        .await;
    assert_eq!(b.expect("ok", |f| f["ref"] == "r1").await["type"], "ok");
    let event = a.expect("reaction", is_reaction).await;
    assert_eq!(
        event["event"],
        json!({"kind": "reaction", "conversation_id": group, "message_id": message,
               "message_seq": 1, "user_id": bob.id, "emoji": "👍", "on": true,
               "reactions": [{"emoji": "👍", "user_ids": [bob.id]}]})
    );
    // The same again changes nothing and tells nobody.
    b.send(json!({"type": "react", "ref": "r2", "message_id": message, "emoji": "👍", "on": true}))
        .await;
    assert_eq!(b.expect("ok", |f| f["ref"] == "r2").await["type"], "ok");
    a.assert_none("a second event", is_reaction).await;

    // Alice adds hers and a heart typed without its variation selector: one heart.
    let r = react(&api, &alice, message, "👍", true).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = react(&api, &alice, message, "\u{2764}", true).await;
    assert_eq!(
        r.body["reactions"],
        json!([{"emoji": "👍", "user_ids": [bob.id, alice.id]},
               {"emoji": "❤️", "user_ids": [alice.id]}])
    );
    let r = react(&api, &alice, message, "❤️", true).await;
    assert_eq!(r.body["reactions"].as_array().map(Vec::len), Some(2));
    // Taken off again, an emoji nobody has left goes.
    let r = react(&api, &alice, message, "❤️", false).await;
    assert_eq!(
        r.body["reactions"],
        json!([{"emoji": "👍", "user_ids": [bob.id, alice.id]}])
    );
    let r = react(&api, &bob, message, "🎉", false).await;
    assert_eq!(
        r.status, 200,
        "taking off what is not there is nothing: {:?}",
        r.body
    );

    // History and the single message carry them; a resumed connection replays each change.
    let history = api.history(&bob, group).await;
    assert_eq!(
        history[0]["reactions"],
        json!([{"emoji": "👍", "user_ids": [bob.id, alice.id]}])
    );
    let one = api.get(&format!("/messages/{message}"), &bob.token).await;
    assert_eq!(one.body["reactions"], history[0]["reactions"]);
    let (_, replayed) = Ws::connect_resume(&hub, &bob, Some(cursor)).await;
    let changes: Vec<(String, bool)> = replayed
        .iter()
        .filter(|f| is_reaction(f))
        .map(|f| {
            (
                f["event"]["emoji"].as_str().unwrap_or("").to_owned(),
                f["event"]["on"] == true,
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("👍".into(), true),
            ("👍".into(), true),
            ("❤️".into(), true),
            ("❤️".into(), false)
        ]
    );

    // Deleting the message empties its reactions; it takes no more.
    let r = api
        .delete(&format!("/messages/{message}"), &alice.token)
        .await;
    assert!(r.body.get("reactions").is_none(), "{:?}", r.body);
    let r = react(&api, &bob, message, "👍", false).await;
    assert_eq!((r.status, r.code()), (400, "invalid_field"), "{:?}", r.body);
    assert!(r.message().contains("deleted"), "{:?}", r.body);
}

#[tokio::test]
async fn bad_reactions_are_refused_and_store_nothing() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let carol = api.register("carol").await;
    let group = api.group(&alice, "plans", &[&bob]).await;
    let message = sent(&api, &alice, group, "p", "plans").await;

    for bad in [
        "+1",
        ":thumbsup:",
        "👍👍",
        " 👍",
        "<img src=x>",
        "",
        "a",
        "\u{fe0f}",
    ] {
        let r = react(&api, &bob, message, bad, true).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_field"),
            "{bad:?}: {:?}",
            r.body
        );
        assert!(r.message().contains("emoji"), "{:?}", r.body);
    }
    let long = "👍".repeat(5000);
    let r = react(&api, &bob, message, &long, true).await;
    assert_eq!(r.status, 400, "{:?}", r.status);
    for body in [
        json!({"emoji": "👍"}),
        json!({"emoji": "👍", "on": "yes"}),
        json!({"emoji": "👍", "on": true, "x": 1}),
    ] {
        let r = api
            .post(&format!("/messages/{message}/reactions"), &bob.token, body)
            .await;
        assert_eq!(r.status, 400, "{:?}", r.body);
    }
    // Someone outside, a message that does not exist, no session.
    let r = react(&api, &carol, message, "👍", true).await;
    assert_eq!((r.status, r.code()), (404, "not_found"), "{:?}", r.body);
    let r = react(&api, &bob, 999_999, "👍", true).await;
    assert_eq!(r.status, 404);
    let r = api
        .call(
            "POST",
            &format!("/messages/{message}/reactions"),
            None,
            Some(json!({"emoji": "👍", "on": true})),
        )
        .await;
    assert_eq!(r.status, 401);

    // Ten different ones each, twenty on a message.
    let set: Vec<&str> = vec![
        "😀", "😃", "😄", "😁", "😆", "😅", "🤣", "😂", "🙂", "🙃", "😉", "😊", "😇", "🥰", "😍",
        "🤩", "😘", "😗", "😚", "😙", "😋",
    ];
    for emoji in &set[..10] {
        assert_eq!(react(&api, &bob, message, emoji, true).await.status, 200);
    }
    let r = react(&api, &bob, message, set[10], true).await;
    assert_eq!((r.status, r.code()), (400, "invalid_field"), "{:?}", r.body);
    assert!(r.message().contains("limit is 10"), "{:?}", r.body);
    for emoji in &set[10..20] {
        assert_eq!(react(&api, &alice, message, emoji, true).await.status, 200);
    }
    let r = react(&api, &carol, message, set[20], true).await;
    assert_eq!(r.status, 404, "carol is still outside");
    api.add_member(&alice, group, &carol).await;
    let r = react(&api, &carol, message, set[20], true).await;
    assert_eq!((r.status, r.code()), (400, "invalid_field"), "{:?}", r.body);
    assert!(r.message().contains("(20)"), "{:?}", r.body);
    // An emoji already there is always welcome.
    assert_eq!(react(&api, &carol, message, set[0], true).await.status, 200);
    let history = api.history(&carol, group).await;
    let reactions = history[0]["reactions"].as_array().expect("reactions");
    assert_eq!(reactions.len(), 20);
    assert_eq!(reactions[0]["user_ids"], json!([bob.id, carol.id]));

    // A direct chat whose other member blocked me takes no reactions from me.
    let direct = api.direct(&alice, &bob).await;
    let hello = sent(&api, &alice, direct, "d", "hello").await;
    let r = api
        .put(&format!("/blocks/{}", bob.id), &alice.token, None)
        .await;
    assert!(r.status < 300, "{:?}", r.body);
    let r = react(&api, &bob, hello, "👍", true).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{:?}", r.body);
}

#[tokio::test]
async fn a_reaction_to_history_hidden_from_a_newcomer_never_reaches_them() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let carol = api.register("carol").await;
    let group = api.group(&alice, "closed", &[&bob]).await;
    api.hide_history(&alice, group).await;
    let secret = sent(&api, &alice, group, "s", "secret").await;
    api.add_member(&alice, group, &carol).await;
    let mut c = Ws::connect(&hub, &carol).await;
    let cursor = c.last_event_id;
    let r = react(&api, &bob, secret, "👍", true).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let later = sent(&api, &alice, group, "l", "later").await;
    let r = react(&api, &bob, later, "🎉", true).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Live: only the reaction to what Carol sees.
    let event = c.expect("reaction", is_reaction).await;
    assert_eq!(event["event"]["message_id"], later);
    c.assert_none("the hidden message's reaction", |f| {
        is_reaction(f) && f["event"]["message_id"] == secret
    })
    .await;
    // On replay, the same.
    let (_, replayed) = Ws::connect_resume(&hub, &carol, Some(cursor)).await;
    let about: Vec<&Value> = replayed
        .iter()
        .filter(|f| is_reaction(f))
        .map(|f| &f["event"]["message_id"])
        .collect();
    assert_eq!(about, [&json!(later)]);
    // And she cannot react to it herself.
    let r = react(&api, &carol, secret, "👍", true).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
}

#[tokio::test]
async fn reactions_share_the_send_rate_and_the_emoji_list_is_public() {
    let hub = TestHub::start_with(sending_at(2)).await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let message = sent(&api, &alice, 1, "m", "hello").await;
    let mut limited = 0;
    for (i, emoji) in ["😀", "😃", "😄", "😁", "😆", "😅"].iter().enumerate() {
        let r = react(&api, &alice, message, emoji, i % 2 == 0).await;
        if r.status == 429 {
            limited += 1;
        }
    }
    assert!(limited > 0, "six reactions at once exceed two a second");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(react(&api, &alice, message, "😀", true).await.status, 200);

    let list = api.call("GET", "/emoji", None, None).await;
    assert_eq!(list.status, 200);
    let entries = list.body.as_array().expect("a list");
    assert!(entries.len() > 1500, "the whole set: {}", entries.len());
    let thumbs = entries
        .iter()
        .find(|e| e["emoji"] == "👍")
        .expect("thumbs up is listed");
    assert_eq!(thumbs["name"], "thumbs up");
    assert!(
        thumbs["shortcodes"]
            .as_array()
            .is_some_and(|s| s.contains(&json!("+1"))),
        "{thumbs}"
    );
    assert_eq!(thumbs["group"], "People & Body");
}

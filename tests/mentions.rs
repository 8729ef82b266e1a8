//! Mentions: the hub reads `@username`, `@here` and `@everyone` from a message's text when it
//! is sent or edited and records who it means, so counts, highlighting and notifications
//! agree on every client. Only members count; `@here` and `@everyone` follow the
//! conversation's rule, and a refused one stores nothing.

use serde_json::{json, Value};

use crate::common::{assert_gapless, Api, Session, TestHub, Ws};

async fn say(api: &Api, me: &Session, conversation: i64, client_id: &str, body: &str) -> Value {
    let reply = api.send(me, conversation, client_id, body).await;
    assert_eq!(reply.status, 201, "{body}: {:?}", reply.body);
    reply.body
}

#[tokio::test]
async fn members_named_in_the_text_are_recorded_and_counted_until_read() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await; // the first account: a hub admin
    let bob = api.register("bob").await;
    let carol = api.register("carol").await;
    let dave = api.register("dave").await;
    let group = api.group(&alice, "team", &[&bob, &carol]).await;
    let mut b = Ws::connect(&hub, &bob).await;

    let sent = say(
        &api,
        &alice,
        group,
        "m1",
        "@bob and @Carol, not @dave (not here) nor @ghost; `@carol` in code",
    )
    .await;
    assert_eq!(sent["mentions"], json!({"user_ids": [bob.id, carol.id]}));
    let live = b
        .message("@bob and @Carol, not @dave (not here) nor @ghost; `@carol` in code")
        .await;
    assert_eq!(
        live["mentions"], sent["mentions"],
        "the event says the same"
    );
    let plain = say(&api, &alice, group, "m2", "no one in particular").await;
    assert!(
        plain.get("mentions").is_none(),
        "absent when nobody: {plain}"
    );
    let line = api.line(&bob, group).await;
    assert_eq!(
        (line["unread"].clone(), line["mentions"].clone()),
        (json!(2), json!(1))
    );
    let line = api.line(&dave, 1).await;
    assert_eq!(line["mentions"], 0);
    // Reading clears the count; history keeps what was recorded.
    api.read_up_to(&bob, group, 2).await;
    assert_eq!(api.line(&bob, group).await["mentions"], 0);
    assert_eq!(
        api.history(&bob, group).await[0]["mentions"],
        sent["mentions"]
    );

    // An edit reads the text again.
    let edited = api
        .patch(
            &format!("/messages/{}", sent["id"]),
            &alice.token,
            json!({"body": "only @carol now"}),
        )
        .await;
    assert_eq!(
        edited.body["mentions"],
        json!({"user_ids": [carol.id]}),
        "{:?}",
        edited.body
    );

    // A disabled account is not mentioned.
    let r = api
        .patch(
            &format!("/admin/users/{}", carol.id),
            &alice.token,
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let after = say(&api, &alice, group, "m3", "@carol @bob").await;
    assert_eq!(after["mentions"], json!({"user_ids": [bob.id]}));

    // In a direct chat `@here` and `@everyone` are text; the other person by name counts.
    let direct = api.direct(&alice, &bob).await;
    let d = say(&api, &alice, direct, "d1", "@here @everyone @bob").await;
    assert_eq!(d["mentions"], json!({"user_ids": [bob.id]}));
}

#[tokio::test]
async fn here_and_everyone_follow_the_conversations_rule_and_a_refusal_stores_nothing() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await; // hub admin, and the group's admin
    let bob = api.register("bob").await;
    let group = api.group(&alice, "team", &[&bob]).await;

    // A group lets anyone by default.
    let m = say(&api, &bob, group, "e1", "@everyone standup").await;
    assert_eq!(m["mentions"], json!({"everyone": true}));
    let m = say(&api, &bob, group, "h1", "@here anyone?").await;
    assert_eq!(m["mentions"], json!({"here": true}));
    assert_eq!(api.line(&alice, group).await["mentions"], 2);

    // Its admins can keep them to themselves; only an admin may change that.
    let r = api
        .patch(
            &format!("/conversations/{group}"),
            &bob.token,
            json!({"everyone_admins_only": true}),
        )
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    let mut b = Ws::connect(&hub, &bob).await;
    let r = api
        .patch(
            &format!("/conversations/{group}"),
            &alice.token,
            json!({"everyone_admins_only": true}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["everyone_admins_only"].clone()),
        (200, json!(true)),
        "{:?}",
        r.body
    );
    let updated = b.event("conversation_updated").await;
    assert_eq!(updated["conversation"]["everyone_admins_only"], true);
    for body in ["@everyone again", "hey @here"] {
        let r = api.send(&bob, group, "refused", body).await;
        assert_eq!((r.status, r.code()), (403, "forbidden"), "{:?}", r.body);
        assert!(r.message().contains("admins"), "{:?}", r.body);
    }
    // Over the WebSocket too, and editing one in is refused the same way.
    b.send(
        json!({"type": "send", "ref": "w", "conversation_id": group, "client_id": "w",
                  "body": "@everyone"}),
    )
    .await;
    assert_eq!(b.reply().await["code"], "forbidden");
    let ok = say(&api, &bob, group, "ok", "plain words").await;
    let r = api
        .patch(
            &format!("/messages/{}", ok["id"]),
            &bob.token,
            json!({"body": "@here now"}),
        )
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    let m = say(&api, &alice, group, "a1", "@everyone from the admin").await;
    assert_eq!(m["mentions"], json!({"everyone": true}));
    // Nothing refused was stored: no gap, no stray message.
    let history = api.history(&alice, group).await;
    assert_gapless(&history);
    assert_eq!(history.len(), 4);
    assert_eq!(history[2]["body"], "plain words");

    // In general only hub admins may.
    let r = api.send(&bob, 1, "g1", "@everyone hello").await;
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{:?}", r.body);
    assert!(r.message().contains("hub admins"), "{:?}", r.body);
    let m = say(
        &api,
        &alice,
        1,
        "g2",
        "@everyone the office is closed on Friday",
    )
    .await;
    assert_eq!(m["mentions"], json!({"everyone": true}));
}

#[tokio::test]
async fn notification_settings_are_kept_on_the_hub_and_follow_the_person() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let ada = api.register("ada").await;
    let defaults = api.get("/me/notifications", &ada.token).await;
    assert_eq!(defaults.status, 200, "{:?}", defaults.body);
    assert_eq!(
        (
            defaults.body["level"].clone(),
            defaults.body["previews"].clone()
        ),
        (json!("all"), json!(true))
    );
    let r = api
        .patch(
            "/me/notifications",
            &ada.token,
            json!({"level": "direct_and_mentions", "previews": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Another device (a new session) finds them.
    let elsewhere = api.login("ada").await;
    let kept = api.get("/me/notifications", &elsewhere.token).await;
    assert_eq!(
        (kept.body["level"].clone(), kept.body["previews"].clone()),
        (json!("direct_and_mentions"), json!(false))
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    for bad in [
        json!({"level": "loud"}),
        json!({"previews": "no"}),
        json!({"muted_until": now + 30 * 24 * 3_600_000}),
        json!({"colour": "red"}),
    ] {
        let r = api
            .patch("/me/notifications", &ada.token, bad.clone())
            .await;
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
    }
    let unchanged = api.get("/me/notifications", &ada.token).await;
    assert_eq!(
        unchanged.body, kept.body,
        "a refused change changes nothing"
    );
    let r = api.call("GET", "/me/notifications", None, None).await;
    assert_eq!(r.status, 401);
}

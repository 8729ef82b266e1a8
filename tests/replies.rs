//! Replies: a message that answers another (`reply_to`), over REST and the WebSocket, live
//! and on replay, and the original fetched on its own (`GET /messages/{id}`) under the rule
//! of who sees what. Every way of naming a wrong original is refused before anything is
//! written, with one answer for "no such message", "elsewhere" and "not yours to see".

use serde_json::{json, Value};

use crate::common::{assert_gapless, Api, Session, TestHub, Ws};

async fn sent(api: &Api, me: &Session, conversation: i64, body: Value) -> Value {
    let reply = api
        .post(
            &format!("/conversations/{conversation}/messages"),
            &me.token,
            body,
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body
}

fn id(message: &Value) -> i64 {
    message["id"].as_i64().expect("message id")
}

#[tokio::test]
async fn a_reply_names_its_original_live_in_history_and_on_replay() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let group = api.group(&alice, "lunch", &[&bob]).await;
    let question = sent(
        &api,
        &alice,
        group,
        json!({"client_id": "q", "body": "Pizza?"}),
    )
    .await;
    assert!(
        question.get("reply_to").is_none(),
        "absent when none: {question}"
    );
    let mut a = Ws::connect(&hub, &alice).await;
    let cursor = a.last_event_id;

    // Bob answers over the WebSocket; the ack and Alice's event carry the original's id.
    let mut b = Ws::connect(&hub, &bob).await;
    b.send(
        json!({"type": "send", "ref": "r1", "conversation_id": group, "client_id": "a1",
                  "body": "Yes!", "reply_to": id(&question)}),
    )
    .await;
    let ack = b.reply().await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["message"]["reply_to"], id(&question));
    let event = a.message("Yes!").await;
    assert_eq!(event["reply_to"], id(&question), "{event}");
    // Over REST too, and a retry with the same client id is the same reply.
    let again = json!({"client_id": "a2", "body": "With olives", "reply_to": id(&question)});
    let rest = sent(&api, &bob, group, again.clone()).await;
    assert_eq!(rest["reply_to"], id(&question));
    let retry = api
        .post(
            &format!("/conversations/{group}/messages"),
            &bob.token,
            again,
        )
        .await;
    assert_eq!(
        (retry.status, retry.body["id"].clone()),
        (200, rest["id"].clone())
    );

    // History shows it; the original comes on its own for whoever may see it.
    let history = api.history(&alice, group).await;
    assert_gapless(&history);
    let replies: Vec<&Value> = history.iter().map(|m| &m["reply_to"]).collect();
    assert_eq!(
        replies,
        [&Value::Null, &json!(id(&question)), &json!(id(&question))]
    );
    let original = api
        .get(&format!("/messages/{}", id(&question)), &bob.token)
        .await;
    assert_eq!(original.status, 200, "{:?}", original.body);
    assert_eq!(original.body["body"], "Pizza?");
    assert_eq!(original.body["conversation_id"], group);

    // A connection resuming from before the replies gets them with their originals named.
    let (_, replayed) = Ws::connect_resume(&hub, &alice, Some(cursor)).await;
    let named: Vec<(String, Value)> = replayed
        .iter()
        .filter(|f| f["event"]["kind"] == "message_new")
        .map(|f| {
            let m = &f["event"]["message"];
            (
                m["body"].as_str().unwrap_or("").to_owned(),
                m["reply_to"].clone(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            ("Yes!".to_owned(), json!(id(&question))),
            ("With olives".to_owned(), json!(id(&question)))
        ]
    );

    // Deleting the original leaves the replies naming it; fetched, it is a tombstone.
    let deleted = api
        .delete(&format!("/messages/{}", id(&question)), &alice.token)
        .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    let original = api
        .get(&format!("/messages/{}", id(&question)), &bob.token)
        .await;
    assert_eq!(
        (
            original.body["deleted"].clone(),
            original.body["body"].clone()
        ),
        (json!(true), json!(""))
    );
    assert_eq!(api.history(&bob, group).await[1]["reply_to"], id(&question));
}

#[tokio::test]
async fn a_wrong_original_is_refused_before_anything_is_written() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let carol = api.register("carol").await;
    let group = api.group(&alice, "plans", &[&bob]).await;
    let here = sent(
        &api,
        &alice,
        group,
        json!({"client_id": "h", "body": "here"}),
    )
    .await;
    let direct = api.direct(&alice, &carol).await;
    let elsewhere = sent(
        &api,
        &alice,
        direct,
        json!({"client_id": "e", "body": "elsewhere"}),
    )
    .await;
    let gone = sent(
        &api,
        &alice,
        group,
        json!({"client_id": "g", "body": "gone"}),
    )
    .await;
    let r = api
        .delete(&format!("/messages/{}", id(&gone)), &alice.token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Carol joins a group that hides what was said before she came.
    let closed = api.group(&alice, "closed", &[&bob]).await;
    api.hide_history(&alice, closed).await;
    let secret = sent(
        &api,
        &alice,
        closed,
        json!({"client_id": "s", "body": "secret"}),
    )
    .await;
    api.add_member(&alice, closed, &carol).await;

    let refuse = |who: &Session, conversation: i64, reply_to: Value| {
        let (api, token) = (api.clone(), who.token.clone());
        async move {
            api.post(
                &format!("/conversations/{conversation}/messages"),
                &token,
                json!({"client_id": "bad", "body": "answer", "reply_to": reply_to}),
            )
            .await
        }
    };
    // No such message, one elsewhere and one Carol may not see: the same answer for all.
    let unknown = |original: i64| {
        format!("names no message of this conversation that you can see ({original})")
    };
    for (who, conversation, original) in [
        (&bob, group, 999_999),
        (&bob, group, id(&elsewhere)),
        (&carol, closed, id(&secret)),
        (&bob, group, -4),
    ] {
        let r = refuse(who, conversation, json!(original)).await;
        assert_eq!((r.status, r.code()), (400, "invalid_field"), "{:?}", r.body);
        assert!(r.message().contains(&unknown(original)), "{:?}", r.body);
        assert!(r.message().contains("reply_to"), "{:?}", r.body);
    }
    let r = refuse(&bob, group, json!(id(&gone))).await;
    assert_eq!((r.status, r.code()), (400, "invalid_field"), "{:?}", r.body);
    assert!(r.message().contains("deleted"), "{:?}", r.body);
    // Not a number: the body is malformed.
    let r = refuse(&bob, group, json!("first")).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    // Someone outside the conversation hears only that it is not there.
    let r = refuse(&carol, group, json!(id(&here))).await;
    assert_eq!((r.status, r.code()), (404, "not_found"), "{:?}", r.body);

    // Over the WebSocket, the same refusal, and the connection carries on.
    let mut c = Ws::connect(&hub, &carol).await;
    c.send(
        json!({"type": "send", "ref": "w", "conversation_id": closed, "client_id": "w1",
                  "body": "what secret?", "reply_to": id(&secret)}),
    )
    .await;
    let error = c.reply().await;
    assert_eq!(
        (error["type"].clone(), error["code"].clone()),
        (json!("error"), json!("invalid_field")),
        "{error}"
    );
    assert_eq!(c.say(closed, "w2", "hello").await["type"], "ack");

    // The original Carol may not see is not hers to fetch either, nor is one elsewhere.
    for (who, message) in [(&carol, &secret), (&bob, &elsewhere)] {
        let r = api
            .get(&format!("/messages/{}", id(message)), &who.token)
            .await;
        assert_eq!((r.status, r.code()), (404, "not_found"), "{:?}", r.body);
    }
    let r = api.get("/messages/999999", &bob.token).await;
    assert_eq!(r.status, 404);
    let r = api
        .call("GET", &format!("/messages/{}", id(&here)), None, None)
        .await;
    assert_eq!(r.status, 401);

    // Nothing was written by the refusals: no gap, nothing extra.
    let history = api.history(&bob, group).await;
    assert_gapless(&history);
    assert_eq!(history.len(), 2, "here and the tombstone: {history:?}");
    let closed_history = api.history(&carol, closed).await;
    assert_eq!(
        closed_history.len(),
        1,
        "only Carol's hello: {closed_history:?}"
    );
}

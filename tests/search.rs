//! Full-text search over the REST API: who sees what, ranking, snippets, edits and deletions,
//! and every bad query.

use serde_json::{json, Value};

use std::time::Duration;

use crate::common::{Api, Session, TestHub, WAIT};

async fn search_once(api: &Api, who: &Session, query: &str) -> Vec<Value> {
    let reply = api.get(&format!("/search?{query}"), &who.token).await;
    assert_eq!(reply.status, 200, "{query}: {:?}", reply.body);
    reply.body["results"].as_array().expect("results").clone()
}

/// Searches until `n` results come back: the index follows the messages a moment behind.
async fn search(api: &Api, who: &Session, query: &str, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let results = search_once(api, who, query).await;
        if results.len() == n {
            return results;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{query}: wanted {n} results, still {results:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn bodies(results: &[Value]) -> Vec<&str> {
    results
        .iter()
        .map(|r| r["message"]["body"].as_str().unwrap_or(""))
        .collect()
}

async fn sent_id(api: &Api, me: &Session, conversation: i64, client_id: &str, body: &str) -> i64 {
    let reply = api.send(me, conversation, client_id, body).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body["id"].as_i64().expect("message id")
}

#[tokio::test]
async fn search_finds_only_what_the_searcher_can_see() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let carol = api.register("carol").await;
    let direct = api.direct(&alice, &bob).await;
    let group = api.group(&bob, "finance", &[&alice]).await;
    sent_id(
        &api,
        &alice,
        direct,
        "d1",
        "The quarterly budget numbers are in",
    )
    .await;
    sent_id(&api, &bob, group, "g1", "Budget review moved to Friday").await;
    sent_id(&api, &carol, 1, "p1", "Anyone up for a budget lunch?").await;
    sent_id(&api, &alice, 1, "p2", "Nothing to see here").await;

    // Carol is only in `general`: she never sees the direct chat or the group.
    assert_eq!(
        bodies(&search(&api, &carol, "q=budget", 1).await),
        ["Anyone up for a budget lunch?"]
    );
    search(&api, &alice, "q=budget", 3).await;
    // Narrowed by conversation, by sender, and by both.
    assert_eq!(
        bodies(
            &search(
                &api,
                &alice,
                &format!("q=budget&conversation_id={direct}"),
                1
            )
            .await
        ),
        ["The quarterly budget numbers are in"]
    );
    assert_eq!(
        bodies(&search(&api, &alice, &format!("q=budget&sender_id={}", bob.id), 1).await),
        ["Budget review moved to Friday"]
    );
    search(
        &api,
        &alice,
        &format!("q=budget&conversation_id={direct}&sender_id={}", bob.id),
        0,
    )
    .await;
    // A conversation she is not in is not found, not merely empty.
    let reply = api
        .get(
            &format!("/search?q=budget&conversation_id={group}"),
            &carol.token,
        )
        .await;
    assert_eq!(reply.status, 404, "{:?}", reply.body);

    // Leaving the group takes its messages out of her results.
    let left = api.leave(&alice, group).await;
    assert_eq!(left.status, 204, "{:?}", left.body);
    search(&api, &alice, "q=budget", 2).await;

    // Without a session: 401.
    let anonymous = api.call("GET", "/search?q=budget", None, None).await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn results_are_ranked_highlighted_and_follow_edits_and_deletions() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let long = sent_id(
        &api,
        &alice,
        1,
        "a",
        "We talked about many things today, the weather, the office plants, the coffee \
         machine and at some point also the deployment",
    )
    .await;
    let short = sent_id(&api, &alice, 1, "b", "Deployment deployment: done").await;
    let results = search(&api, &alice, "q=deployment", 2).await;
    assert_eq!(
        results[0]["message"]["id"], short,
        "the denser match ranks first"
    );
    assert_eq!(results[1]["message"]["id"], long);
    // The snippet marks what matched, case and all.
    let parts = results[0]["snippet"].as_array().expect("snippet");
    let hits: Vec<&str> = parts
        .iter()
        .filter(|p| p["hit"] == true)
        .map(|p| p["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(hits, ["Deployment", "deployment"]);
    let text: String = parts
        .iter()
        .map(|p| p["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(text, "Deployment deployment: done");
    // A snippet is the text as shown, without its Markdown; the message keeps it.
    sent_id(
        &api,
        &alice,
        1,
        "f",
        "The **gizmo** is in `main`, see [notes](https://ok.example/n)",
    )
    .await;
    let results = search(&api, &alice, "q=gizmo", 1).await;
    let text: String = results[0]["snippet"]
        .as_array()
        .expect("snippet")
        .iter()
        .map(|p| p["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(text, "The gizmo is in main, see notes");
    assert_eq!(
        results[0]["message"]["body"],
        "The **gizmo** is in `main`, see [notes](https://ok.example/n)"
    );
    // Whole words match, in any case; accents are folded.
    assert!(search_once(&api, &alice, "q=deplo").await.is_empty());
    search(&api, &alice, "q=DEPLOYMENT", 2).await;
    sent_id(&api, &alice, 1, "c", "Le café est prêt").await;
    assert_eq!(
        bodies(&search(&api, &alice, "q=cafe%20pret", 1).await),
        ["Le café est prêt"]
    );

    // An edit re-indexes the message; a deletion removes it.
    let edited = api
        .patch(
            &format!("/messages/{short}"),
            &alice.token,
            json!({ "body": "Rollout finished" }),
        )
        .await;
    assert_eq!(edited.status, 200, "{:?}", edited.body);
    let results = search(&api, &alice, "q=deployment", 1).await;
    assert_eq!(results[0]["message"]["id"], long);
    search(&api, &alice, "q=rollout", 1).await;
    let deleted = api.delete(&format!("/messages/{long}"), &alice.token).await;
    assert!(matches!(deleted.status, 200 | 204), "{:?}", deleted.body);
    search(&api, &alice, "q=deployment", 0).await;
}

#[tokio::test]
async fn results_can_be_bounded_by_when_they_were_sent() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let mut sent = Vec::new();
    for (i, body) in ["report draft one", "report draft two", "report draft three"]
        .iter()
        .enumerate()
    {
        let reply = api.send(&alice, 1, &format!("r{i}"), body).await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        sent.push(reply.body["created_at"].as_i64().expect("created_at"));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    search(&api, &alice, "q=report", 3).await;
    let after = search(&api, &alice, &format!("q=report&after={}", sent[1]), 2).await;
    assert_eq!(bodies(&after), ["report draft three", "report draft two"]);
    let before = search(&api, &alice, &format!("q=report&before={}", sent[1]), 1).await;
    assert_eq!(bodies(&before), ["report draft one"]);
    let between = search_once(
        &api,
        &alice,
        &format!("q=report&after={}&before={}", sent[1], sent[2]),
    )
    .await;
    assert_eq!(bodies(&between), ["report draft two"]);
    for bad in [
        format!("q=report&after={}&before={}", sent[2], sent[1]),
        "q=report&before=yesterday".to_owned(),
    ] {
        let reply = api.get(&format!("/search?{bad}"), &alice.token).await;
        assert_eq!(reply.status, 400, "{bad}: {:?}", reply.body);
    }
}

#[tokio::test]
async fn bad_and_hostile_queries_get_clear_errors_or_plain_matches() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    sent_id(
        &api,
        &alice,
        1,
        "a",
        "NEAR the OR gate, col: value \"quoted\"",
    )
    .await;
    let long = "x".repeat(201);
    let cases = [
        ("", 400, "invalid_field"),
        ("q=", 400, "invalid_field"),
        ("q=%21%21%21%20---", 400, "invalid_field"),
        (&format!("q={long}") as &str, 400, "invalid_field"),
        ("q=gate&limit=0", 400, "invalid_field"),
        ("q=gate&limit=51", 400, "invalid_field"),
        ("q=gate&limit=many", 400, "bad_request"),
        ("q=gate&conversation_id=-1", 400, "invalid_field"),
        ("q=gate&sender_id=0", 400, "invalid_field"),
        ("q=gate&sneaky=1", 400, "bad_request"),
    ];
    for (query, status, code) in cases {
        let reply = api.get(&format!("/search?{query}"), &alice.token).await;
        assert_eq!(reply.status, status, "{query}: {:?}", reply.body);
        assert_eq!(reply.code(), code, "{query}");
        assert!(!reply.message().is_empty());
    }
    search(&api, &alice, "q=gate", 1).await;
    // FTS5 syntax in the text is taken as plain words, never as operators or an error.
    for query in [
        "q=NEAR(gate",
        "q=%22quoted%22%20OR",
        "q=col%3A%20value",
        "q=gate%20*",
        "q=%5Egate",
        "q=gate%20-value",
    ] {
        let reply = api.get(&format!("/search?{query}"), &alice.token).await;
        assert_eq!(reply.status, 200, "{query}: {:?}", reply.body);
        assert_eq!(
            reply.body["results"].as_array().map(Vec::len),
            Some(1),
            "{query}: {:?}",
            reply.body
        );
    }
}

//! History before joining (issue 21, item 10): a group says whether people added to it see
//! what was said before (on by default, as in Slack's and Mattermost's channels). Off, a new
//! or re-added member sees only what comes after their joining, alike in history pages,
//! search, files, the conversation list, live events and replay.

use serde_json::{json, Value};

use crate::common::{sending_at, Api, Session, TestHub, Ws};

/// What `me` can find of a message with `body` in `group`: in history, in search, and its
/// attached file.
async fn finds(api: &Api, me: &Session, group: i64, body: &str, file: i64) -> (bool, bool, u16) {
    let history = api.all_messages(me, group).await;
    let in_history = history
        .iter()
        .any(|m| m["body"].as_str().is_some_and(|b| b.starts_with(body)));
    let search = api
        .get(
            &format!("/search?q={body}&conversation_id={group}"),
            &me.token,
        )
        .await;
    let in_search = search.body["results"]
        .as_array()
        .is_some_and(|hits| !hits.is_empty());
    let (status, _, _) = api
        .fetch(Some(&me.token), &format!("/files/{file}"), &[])
        .await;
    (in_history, in_search, status)
}

/// Waits until search (indexed a moment behind, in batches) finds `body` for `who`.
async fn indexed(api: &Api, who: &Session, body: &str) {
    for _ in 0..100 {
        let r = api.get(&format!("/search?q={body}"), &who.token).await;
        if r.body["results"].as_array().is_some_and(|h| !h.is_empty()) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{body} was never indexed");
}

/// Alice says `body` in `group` with a file, and waits until it is searchable; returns the
/// message and the file ids.
async fn say_with_file(api: &Api, alice: &Session, group: i64, body: &str) -> (i64, i64) {
    let upload = api
        .upload(
            alice,
            group,
            &format!("{body}.txt"),
            "text/plain",
            body.as_bytes().to_vec(),
        )
        .await;
    let file = upload.body["id"].as_i64().expect("file id");
    let sent = api.send_files(alice, group, body, body, &[file]).await;
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    indexed(api, alice, body).await;
    (sent.body["id"].as_i64().expect("message id"), file)
}

/// Alice edits her message "secret" (from before Carol joined).
async fn edit_secret(api: &Api, alice: &Session, secret: i64) {
    let body = json!({"body": "secret, edited"});
    let r = api
        .patch(&format!("/messages/{secret}"), &alice.token, body)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

fn is_edit_of(frame: &Value, message: i64) -> bool {
    frame["event"]["kind"] == "message_edited" && frame["event"]["message"]["id"] == message
}

#[tokio::test]
async fn a_group_can_keep_its_history_from_people_added_later() {
    let hub = TestHub::start_with(sending_at(1000)).await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let carol = api.register("carol").await;
    let dave = api.register("dave").await;

    // By default a newcomer sees the history: history, search and files alike.
    let open = api.group(&alice, "open", &[&bob]).await;
    let (_, file) = say_with_file(&api, &alice, open, "earlier").await;
    api.add_member(&alice, open, &carol).await;
    assert_eq!(
        finds(&api, &carol, open, "earlier", file).await,
        (true, true, 200)
    );

    // Only a group admin may change the setting, only in a group, and something must change.
    let closed = api.group(&alice, "closed", &[&bob]).await;
    let patch = |who: &Session, id: i64, body: Value| {
        let (api, token) = (api.clone(), who.token.clone());
        async move {
            api.patch(&format!("/conversations/{id}"), &token, body)
                .await
        }
    };
    let r = patch(&bob, closed, json!({"history_visible": false})).await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    let r = patch(&alice, 1, json!({"history_visible": false})).await;
    assert_eq!(r.status, 403, "not for general: {:?}", r.body);
    let r = patch(&alice, closed, json!({})).await;
    assert_eq!((r.status, r.code()), (400, "invalid_field"), "{:?}", r.body);
    let mut b = Ws::connect(&hub, &bob).await;
    let r = patch(&alice, closed, json!({"history_visible": false})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["history_visible"], false);
    let updated = b.event("conversation_updated").await;
    assert_eq!(updated["conversation"]["history_visible"], false);

    // Carol, added after "secret", sees nothing of it anywhere; Bob, there before, does.
    let (secret, secret_file) = say_with_file(&api, &alice, closed, "secret").await;
    api.add_member(&alice, closed, &carol).await;
    assert_eq!(
        finds(&api, &carol, closed, "secret", secret_file).await,
        (false, false, 404)
    );
    assert_eq!(
        finds(&api, &bob, closed, "secret", secret_file).await,
        (true, true, 200)
    );
    let list = api.get("/conversations", &carol.token).await;
    let line = list
        .body
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["id"] == closed)
        .cloned();
    let line = line.expect("carol lists the group");
    assert!(
        line["last_message"].is_null(),
        "no peek in the list: {line}"
    );
    assert_eq!(line["unread"], 0);
    assert_eq!(line["history_visible"], false);

    // An edit of the old message reaches Bob, not Carol, live and on replay; what is said
    // now reaches both.
    let mut c = Ws::connect(&hub, &carol).await;
    let from = c.last_event_id;
    edit_secret(&api, &alice, secret).await;
    b.expect("bob sees the edit", |f| is_edit_of(f, secret))
        .await;
    assert_eq!(api.send(&alice, closed, "now", "now").await.status, 201);
    c.message("now").await;
    indexed(&api, &alice, "now").await;
    let (_, replayed) = Ws::connect_resume(&hub, &carol, Some(from)).await;
    assert!(
        !replayed.iter().any(|f| is_edit_of(f, secret)),
        "no replayed edit of a hidden message"
    );
    let mut c = c;
    c.assert_none("an edit of a hidden message", |f| is_edit_of(f, secret))
        .await;
    assert!(finds(&api, &carol, closed, "now", 0).await.0);

    // Away and back: what was said meanwhile (and before) stays hidden from her.
    let r = api.remove_member(&alice, closed, carol.id).await;
    assert!(r.status < 300, "{:?}", r.body);
    let (_, away_file) = say_with_file(&api, &alice, closed, "meanwhile").await;
    api.add_member(&alice, closed, &carol).await;
    assert_eq!(
        finds(&api, &carol, closed, "meanwhile", away_file).await,
        (false, false, 404)
    );
    assert!(!api
        .all_messages(&carol, closed)
        .await
        .iter()
        .any(|m| m["body"] == "now"));

    // Turned on again, it applies to whoever is added from then on.
    let r = patch(&alice, closed, json!({"history_visible": true})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    api.add_member(&alice, closed, &dave).await;
    assert_eq!(
        finds(&api, &dave, closed, "secret", secret_file).await,
        (true, true, 200)
    );
    assert!(!finds(&api, &carol, closed, "secret", secret_file).await.0);
}

/// Through a joined node the rule is the same: the node forwards what the hub answers and
/// keeps only the events the hub sent its user.
#[tokio::test]
async fn a_joined_node_shows_no_more_history_than_the_hub_allows() {
    let hub = TestHub::start_with(sending_at(1000)).await;
    let node_dir = tempfile::tempdir().expect("dir");
    let node = crate::common::TestNode::start(node_dir.path(), hub.addr).await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let carol = node.api().register("carol").await;
    node.online().await;
    let closed = api.group(&alice, "closed", &[]).await;
    let r = api
        .patch(
            &format!("/conversations/{closed}"),
            &alice.token,
            json!({"history_visible": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (secret, file) = say_with_file(&api, &alice, closed, "secret").await;
    api.add_member(&alice, closed, &carol).await;
    let (mut c, _) = Ws::connect_url(&node.ws_url(), &carol, None).await;
    assert_eq!(
        finds(&node.api(), &carol, closed, "secret", file).await,
        (false, false, 404)
    );
    edit_secret(&api, &alice, secret).await;
    assert_eq!(api.send(&alice, closed, "after", "after").await.status, 201);
    c.message("after").await;
    c.assert_none("an edit of a hidden message", |f| is_edit_of(f, secret))
        .await;
    let page = node.api().all_messages(&carol, closed).await;
    let bodies: Vec<&str> = page.iter().filter_map(|m| m["body"].as_str()).collect();
    assert_eq!(bodies, ["after"], "only what came after her joining");
}

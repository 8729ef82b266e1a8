//! The authorization matrix: every REST endpoint and every WebSocket frame, tried as each
//! kind of caller, against one table of what each may do. Each row runs on a fresh group so
//! that no row depends on another.
//!
//! Callers: anonymous (no or a bad token), a stranger (signed in, not in the group), a
//! member, the group's admin (who created it), and the hub admin (the first account; hub
//! admins have no say over conversations they are not in and read none of them, but may
//! delete any message as moderation, and alone use `/admin/...`).

use serde_json::{json, Value};

use crate::common::{sending_at, Api, Session, TestHub, Ws};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Anonymous,
    Stranger,
    Member,
    GroupAdmin,
    HubAdmin,
}

const CALLERS: [Caller; 5] = [
    Caller::Anonymous,
    Caller::Stranger,
    Caller::Member,
    Caller::GroupAdmin,
    Caller::HubAdmin,
];

/// What one row acts on: a group made for it by the group admin with the member in it, a
/// message by each of them, and a bystander (in no role) to add or open a chat with.
struct Fixture {
    group: i64,
    admin_message: i64,
    member_message: i64,
    /// A picture the group admin sent with their message.
    admin_file: i64,
    member: i64,
    /// A third member, for rows that act on someone else.
    other: i64,
    bystander: i64,
}

struct People {
    hub_admin: Session,
    group_admin: Session,
    member: Session,
    stranger: Session,
    other: Session,
    bystander: Session,
}

impl People {
    fn as_(&self, caller: Caller) -> Option<&Session> {
        match caller {
            Caller::Anonymous => None,
            Caller::Stranger => Some(&self.stranger),
            Caller::Member => Some(&self.member),
            Caller::GroupAdmin => Some(&self.group_admin),
            Caller::HubAdmin => Some(&self.hub_admin),
        }
    }
}

async fn fixture(api: &Api, people: &People, n: usize) -> Fixture {
    let group = api
        .group(
            &people.group_admin,
            &format!("Row {n}"),
            &[&people.member, &people.other],
        )
        .await;
    let png = crate::files::image_bytes(8, 8, image::ImageFormat::Png);
    let file = api
        .upload(&people.group_admin, group, "p.png", "image/png", png)
        .await;
    let admin_file = file.body["id"].as_i64().expect("file id");
    let a = api
        .send_files(
            &people.group_admin,
            group,
            &format!("a{n}"),
            "from the admin",
            &[admin_file],
        )
        .await;
    let m = api
        .send(&people.member, group, &format!("m{n}"), "from the member")
        .await;
    Fixture {
        group,
        admin_message: a.body["id"].as_i64().expect("id"),
        member_message: m.body["id"].as_i64().expect("id"),
        admin_file,
        member: people.member.id,
        other: people.other.id,
        bystander: people.bystander.id,
    }
}

/// A REST row: method, path and body built from the fixture, and the status each caller
/// gets, in the order of [`CALLERS`].
type Rest = (
    &'static str,
    fn(&Fixture) -> (String, Option<Value>),
    [u16; 5],
);

fn rest_rows() -> Vec<(&'static str, Rest)> {
    // anonymous, stranger, member, group admin, hub admin
    const ANY_SIGNED_IN: [u16; 5] = [401, 200, 200, 200, 200];
    const MEMBERS: [u16; 5] = [401, 404, 200, 200, 404];
    const GROUP_ADMIN: [u16; 5] = [401, 404, 403, 200, 404];
    const HUB_ADMIN: [u16; 5] = [401, 403, 403, 403, 200];
    vec![
        ("hub info", ("GET", |_| ("/hub".into(), None), [200; 5])),
        (
            "my profile",
            ("GET", |_| ("/me".into(), None), ANY_SIGNED_IN),
        ),
        (
            "edit my profile",
            (
                "PATCH",
                |_| ("/me".into(), Some(json!({"status_text": "here"}))),
                ANY_SIGNED_IN,
            ),
        ),
        (
            "user directory",
            ("GET", |_| ("/users".into(), None), ANY_SIGNED_IN),
        ),
        (
            "my notification settings",
            ("GET", |_| ("/me/notifications".into(), None), ANY_SIGNED_IN),
        ),
        (
            "change my notification settings",
            (
                "PATCH",
                |_| ("/me/notifications".into(), Some(json!({"previews": false}))),
                ANY_SIGNED_IN,
            ),
        ),
        (
            "a user",
            (
                "GET",
                |f| (format!("/users/{}", f.member), None),
                ANY_SIGNED_IN,
            ),
        ),
        (
            "my conversations",
            ("GET", |_| ("/conversations".into(), None), ANY_SIGNED_IN),
        ),
        (
            "create a group",
            (
                "POST",
                |f| {
                    (
                        "/conversations".into(),
                        Some(json!({"name": "new", "member_ids": [f.bystander]})),
                    )
                },
                [401, 201, 201, 201, 201],
            ),
        ),
        (
            "open a direct chat",
            (
                "POST",
                |f| {
                    (
                        "/conversations/direct".into(),
                        Some(json!({"user_id": f.bystander})),
                    )
                },
                [401, 201, 201, 201, 201],
            ),
        ),
        (
            "event log",
            ("GET", |_| ("/events?after=0".into(), None), ANY_SIGNED_IN),
        ),
        (
            "search everything I can see",
            ("GET", |_| ("/search?q=hello".into(), None), ANY_SIGNED_IN),
        ),
        (
            "search within a group",
            (
                "GET",
                |f| (format!("/search?q=hello&conversation_id={}", f.group), None),
                MEMBERS,
            ),
        ),
        (
            "upload a file to a group",
            (
                "POST",
                |f| {
                    (
                        format!("/conversations/{}/files", f.group),
                        Some(json!({"a": "file"})),
                    )
                },
                [401, 404, 201, 201, 404],
            ),
        ),
        (
            "a file sent in a group",
            (
                "GET",
                |f| (format!("/files/{}", f.admin_file), None),
                MEMBERS,
            ),
        ),
        (
            "a picture's thumbnail",
            (
                "GET",
                |f| (format!("/files/{}/thumbnail", f.admin_file), None),
                MEMBERS,
            ),
        ),
        (
            "a group's details",
            (
                "GET",
                |f| (format!("/conversations/{}", f.group), None),
                MEMBERS,
            ),
        ),
        (
            "a group's history",
            (
                "GET",
                |f| (format!("/conversations/{}/messages", f.group), None),
                MEMBERS,
            ),
        ),
        (
            "post in a group",
            (
                "POST",
                |f| {
                    (
                        format!("/conversations/{}/messages", f.group),
                        Some(json!({"client_id": "x", "body": "hi"})),
                    )
                },
                [401, 404, 201, 201, 404],
            ),
        ),
        (
            "read receipt",
            (
                "POST",
                |f| {
                    (
                        format!("/conversations/{}/receipts", f.group),
                        Some(json!({"read_seq": 1})),
                    )
                },
                MEMBERS,
            ),
        ),
        (
            "rename a group",
            (
                "PATCH",
                |f| {
                    (
                        format!("/conversations/{}", f.group),
                        Some(json!({"name": "renamed"})),
                    )
                },
                GROUP_ADMIN,
            ),
        ),
        (
            "add a member",
            (
                "POST",
                |f| {
                    (
                        format!("/conversations/{}/members", f.group),
                        Some(json!({"user_ids": [f.bystander]})),
                    )
                },
                GROUP_ADMIN,
            ),
        ),
        (
            "make a member admin",
            (
                "PATCH",
                |f| {
                    (
                        format!("/conversations/{}/members/{}", f.group, f.member),
                        Some(json!({"role": "admin"})),
                    )
                },
                GROUP_ADMIN,
            ),
        ),
        (
            "remove another member",
            (
                "DELETE",
                |f| {
                    (
                        format!("/conversations/{}/members/{}", f.group, f.other),
                        None,
                    )
                },
                [401, 404, 403, 204, 404],
            ),
        ),
        (
            "remove the member (they leave, or the admin removes them)",
            (
                "DELETE",
                |f| {
                    (
                        format!("/conversations/{}/members/{}", f.group, f.member),
                        None,
                    )
                },
                [401, 404, 204, 204, 404],
            ),
        ),
        (
            "leave a group",
            (
                "POST",
                |f| (format!("/conversations/{}/leave", f.group), None),
                [401, 404, 204, 204, 404],
            ),
        ),
        (
            "read one message of a group (a reply's original)",
            (
                "GET",
                |f| (format!("/messages/{}", f.admin_message), None),
                MEMBERS,
            ),
        ),
        (
            "mark a group unread",
            (
                "POST",
                |f| {
                    (
                        format!("/conversations/{}/unread", f.group),
                        Some(json!({"seq": 1})),
                    )
                },
                [401, 404, 204, 204, 404],
            ),
        ),
        (
            "react to a message of a group",
            (
                "POST",
                |f| {
                    (
                        format!("/messages/{}/reactions", f.admin_message),
                        Some(json!({"emoji": "👍", "on": true})),
                    )
                },
                [401, 404, 200, 200, 404],
            ),
        ),
        (
            "the emoji list",
            ("GET", |_| ("/emoji".into(), None), [200; 5]),
        ),
        (
            "reply in a group",
            (
                "POST",
                |f| {
                    (
                        format!("/conversations/{}/messages", f.group),
                        Some(
                            json!({"client_id": "re", "body": "yes", "reply_to": f.admin_message}),
                        ),
                    )
                },
                [401, 404, 201, 201, 404],
            ),
        ),
        (
            "edit the admin's message",
            (
                "PATCH",
                |f| {
                    (
                        format!("/messages/{}", f.admin_message),
                        Some(json!({"body": "changed"})),
                    )
                },
                [401, 404, 403, 200, 404],
            ),
        ),
        (
            "delete the admin's message",
            (
                "DELETE",
                |f| (format!("/messages/{}", f.admin_message), None),
                [401, 404, 403, 200, 200],
            ),
        ),
        (
            "edit the member's message",
            (
                "PATCH",
                |f| {
                    (
                        format!("/messages/{}", f.member_message),
                        Some(json!({"body": "changed"})),
                    )
                },
                [401, 404, 200, 403, 404],
            ),
        ),
        (
            "delete the member's message",
            (
                "DELETE",
                |f| (format!("/messages/{}", f.member_message), None),
                [401, 404, 200, 403, 200],
            ),
        ),
        (
            "mute a group",
            (
                "PUT",
                |f| {
                    (
                        format!("/conversations/{}/mute", f.group),
                        Some(json!({"muted": true})),
                    )
                },
                [401, 404, 204, 204, 404],
            ),
        ),
        (
            "report the member's message",
            (
                "POST",
                |f| {
                    (
                        format!("/messages/{}/report", f.member_message),
                        Some(json!({"reason": "rude"})),
                    )
                },
                [401, 404, 201, 201, 404],
            ),
        ),
        (
            "block someone",
            (
                "PUT",
                |f| (format!("/blocks/{}", f.bystander), None),
                [401, 204, 204, 204, 204],
            ),
        ),
        (
            "unblock someone",
            (
                "DELETE",
                |f| (format!("/blocks/{}", f.bystander), None),
                [401, 204, 204, 204, 204],
            ),
        ),
        (
            "my blocks",
            ("GET", |_| ("/blocks".into(), None), ANY_SIGNED_IN),
        ),
        (
            "admin: list users",
            ("GET", |_| ("/admin/users".into(), None), HUB_ADMIN),
        ),
        (
            "admin: stats",
            ("GET", |_| ("/admin/stats".into(), None), HUB_ADMIN),
        ),
        (
            "admin: conversations",
            ("GET", |_| ("/admin/conversations".into(), None), HUB_ADMIN),
        ),
        (
            "admin: reports",
            ("GET", |_| ("/admin/reports".into(), None), HUB_ADMIN),
        ),
        (
            "admin: change an account",
            (
                "PATCH",
                |f| {
                    (
                        format!("/admin/users/{}", f.other),
                        Some(json!({"admin": false})),
                    )
                },
                HUB_ADMIN,
            ),
        ),
    ]
}

/// A WebSocket row: the frame built from the fixture and the reply type each signed-in
/// caller gets (`ok`, `ack`, `pong`, or an error code). Anonymous callers cannot get past
/// `auth` at all (checked separately below).
type Frame = (fn(&Fixture) -> Value, [&'static str; 4]);

fn ws_rows() -> Vec<(&'static str, Frame)> {
    // stranger, member, group admin, hub admin
    vec![
        (
            "send",
            (
                |f| json!({"type": "send", "conversation_id": f.group, "client_id": "w", "body": "hi"}),
                ["not_found", "ack", "ack", "not_found"],
            ),
        ),
        (
            "send a file already sent (the admin's)",
            (
                |f| json!({"type": "send", "conversation_id": f.group, "client_id": "w", "body": "", "attachments": [f.admin_file]}),
                ["not_found", "invalid_field", "invalid_field", "not_found"],
            ),
        ),
        (
            "send a reply",
            (
                |f| json!({"type": "send", "conversation_id": f.group, "client_id": "w-reply", "body": "yes", "reply_to": f.member_message}),
                ["not_found", "ack", "ack", "not_found"],
            ),
        ),
        (
            "mark unread",
            (
                |f| json!({"type": "mark_unread", "conversation_id": f.group, "seq": 1}),
                ["not_found", "ok", "ok", "not_found"],
            ),
        ),
        (
            "react",
            (
                |f| json!({"type": "react", "message_id": f.member_message, "emoji": "🎉", "on": true}),
                ["not_found", "ok", "ok", "not_found"],
            ),
        ),
        (
            "typing",
            (
                |f| json!({"type": "typing", "conversation_id": f.group, "typing": true}),
                ["not_found", "ok", "ok", "not_found"],
            ),
        ),
        (
            "delivered",
            (
                |f| json!({"type": "delivered", "conversation_id": f.group, "seq": 1}),
                ["not_found", "ok", "ok", "not_found"],
            ),
        ),
        (
            "read",
            (
                |f| json!({"type": "read", "conversation_id": f.group, "seq": 1}),
                ["not_found", "ok", "ok", "not_found"],
            ),
        ),
        (
            "edit the admin's message",
            (
                |f| json!({"type": "edit", "message_id": f.admin_message, "body": "x"}),
                ["not_found", "forbidden", "ack", "not_found"],
            ),
        ),
        (
            "delete the admin's message",
            (
                |f| json!({"type": "delete", "message_id": f.admin_message}),
                ["not_found", "forbidden", "ack", "ack"],
            ),
        ),
        (
            "edit the member's message",
            (
                |f| json!({"type": "edit", "message_id": f.member_message, "body": "x"}),
                ["not_found", "ack", "forbidden", "not_found"],
            ),
        ),
        (
            "delete the member's message",
            (
                |f| json!({"type": "delete", "message_id": f.member_message}),
                ["not_found", "ack", "forbidden", "ack"],
            ),
        ),
        (
            "presence",
            (|_| json!({"type": "presence", "status": "away"}), ["ok"; 4]),
        ),
        (
            "watch anyone's presence (the directory lists everyone)",
            (
                |f| json!({"type": "watch", "user_ids": [f.bystander, f.member]}),
                ["watching"; 4],
            ),
        ),
        ("ping", (|_| json!({"type": "ping"}), ["pong"; 4])),
    ]
}

#[tokio::test]
async fn every_endpoint_and_frame_allows_exactly_whom_it_should() {
    // Many rows post messages; the matrix is not about the rate limit.
    let cfg = sending_at(10_000);
    let hub = TestHub::start_with(cfg).await;
    let api = hub.api();
    let people = People {
        hub_admin: api.register("root").await,
        group_admin: api.register("alice").await,
        member: api.register("bob").await,
        stranger: api.register("eve").await,
        other: api.register("frank").await,
        bystander: api.register("dave").await,
    };
    let me = api.get("/me", &people.hub_admin.token).await;
    assert_eq!(
        me.body["is_admin"], true,
        "the first account is the hub admin"
    );

    let mut cases = 0;
    let mut wrong = Vec::new();
    let mut row_number = 0;
    for (what, (method, build, expected)) in rest_rows() {
        for (caller, want) in CALLERS.into_iter().zip(expected) {
            row_number += 1;
            let f = fixture(&api, &people, row_number).await;
            let (path, body) = build(&f);
            let tokens: Vec<Option<&str>> = match people.as_(caller) {
                Some(session) => vec![Some(session.token.as_str())],
                // Anonymous: no token, and a forged one.
                None => vec![None, Some("forged-token")],
            };
            for token in tokens {
                let reply = api.call(method, &path, token, body.clone()).await;
                cases += 1;
                let got = reply.status;
                // A hub info request answers anyone; every other denial must say why.
                if got != want {
                    wrong.push(format!(
                        "{what} ({method} {path}) as {caller:?}: got {got}, want {want}: {:?}",
                        reply.body
                    ));
                } else if got >= 400 && !reply.body["error"]["code"].is_string() {
                    wrong.push(format!("{what} as {caller:?}: {got} without an error code"));
                }
            }
        }
    }

    for (what, (build, expected)) in ws_rows() {
        for (caller, want) in CALLERS[1..].iter().zip(expected) {
            row_number += 1;
            let f = fixture(&api, &people, row_number).await;
            let session = people.as_(*caller).expect("signed in");
            let mut ws = Ws::connect(&hub, session).await;
            let mut frame = build(&f);
            frame["ref"] = json!("matrix");
            ws.send(frame).await;
            let reply = ws.expect("the reply", |r| r["ref"] == "matrix").await;
            cases += 1;
            let got = match reply["type"].as_str() {
                Some("error") => reply["code"].as_str().unwrap_or("?").to_owned(),
                other => other.unwrap_or("?").to_owned(),
            };
            if got != want {
                wrong.push(format!(
                    "ws {what} as {caller:?}: got {got}, want {want}: {reply}"
                ));
            }
        }
    }

    // Anonymous on the WebSocket: any first frame but a good `auth` closes the socket.
    for (first, expected_close) in [
        (
            json!({"type": "send", "conversation_id": 1, "client_id": "x", "body": "hi"}),
            4401,
        ),
        (json!({"type": "auth", "token": "forged-token"}), 4401),
        (
            json!({"type": "auth", "token": people.member.token, "resume_from": "yesterday"}),
            4401,
        ),
    ] {
        let mut ws = Ws {
            socket: crate::common::raw_socket(&hub.ws_url(), None)
                .await
                .expect("connects"),
            ready: Value::Null,
            last_event_id: 0,
            held: Default::default(),
        };
        ws.send(first.clone()).await;
        let code = ws.closed().await;
        cases += 1;
        if code != expected_close {
            wrong.push(format!(
                "ws first frame {first}: closed with {code}, want {expected_close}"
            ));
        }
    }

    println!("authorization matrix: {cases} cases checked ({} REST rows, {} WebSocket rows, 5 callers), {} wrong", rest_rows().len(), ws_rows().len(), wrong.len());
    assert!(
        wrong.is_empty(),
        "{} cases wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

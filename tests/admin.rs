//! The admin's data-safety commands on a real data directory: `chinwag backup` while the
//! hub runs and writes, `chinwag restore`, and `chinwag export --user`.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::common::{Binary, Ws};

fn chinwag(args: &[&str], data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chinwag"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

/// `(client_id, seq, body)` of every message in a database file, by conversation and seq.
fn rows(db: &Path) -> Vec<(String, i64, String)> {
    let conn = rusqlite::Connection::open(db).expect("opens");
    let mut stmt = conn
        .prepare("SELECT client_id, seq, body FROM messages ORDER BY conversation_id, seq")
        .expect("query");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .map(|r| r.expect("row"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_writing_then_restore_gives_the_same_store() {
    let dir = tempfile::tempdir().expect("dir");
    let bin = Binary::start_with(dir.path(), &["--messages-per-second", "100000"]);
    let api = bin.api();
    let alice = api.register("alice").await;
    // Alice writes continuously while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (url, alice, stop) = (bin.ws_url(), alice.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut ws, _) = Ws::connect_url(&url, &alice, None).await;
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let reply = ws
                    .say(
                        1,
                        &format!("w{n}"),
                        &format!("written during the backup {n}"),
                    )
                    .await;
                assert_eq!(reply["type"], "ack", "{reply}");
                n += 1;
            }
            n
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let backups = tempfile::tempdir().expect("dir");
    let file = backups.path().join("chinwag-backup.db");
    let file_arg = file.to_str().expect("utf-8");
    let out = chinwag(&["backup", file_arg], dir.path());
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.expect("writer");
    assert!(out.status.success(), "{}", stderr(&out));
    println!("{}", stderr(&out));

    // The copy is consistent: sound, and a gapless prefix of the live history.
    let backed_up = rows(&file);
    assert_eq!(crate::common::integrity_check(&file), "ok");
    let live = api.all_messages(&alice, 1).await;
    let seqs: Vec<i64> = backed_up.iter().map(|r| r.1).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "no gaps in the copy"
    );
    for (row, message) in backed_up.iter().zip(&live) {
        assert_eq!(row.0, message["client_id"].as_str().unwrap_or(""));
    }
    assert!(
        !backed_up.is_empty() && backed_up.len() < written,
        "taken mid-stream: {} of {written}",
        backed_up.len()
    );

    // Refusals: an existing file, and a hub cannot be restored from garbage.
    let again = chinwag(&["backup", file_arg], dir.path());
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    let garbage = backups.path().join("not-a-backup.db");
    std::fs::write(&garbage, b"this is not a database").expect("write");
    let target = tempfile::tempdir().expect("dir");
    let bad = chinwag(
        &["restore", garbage.to_str().expect("utf-8")],
        target.path(),
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("not"), "{}", stderr(&bad));
    assert!(
        !target.path().join("chinwag.db").exists(),
        "nothing installed"
    );
    drop(bin);

    // Restore into a new data directory and start a hub on it: the same history.
    let restored = chinwag(&["restore", file_arg], target.path());
    assert!(restored.status.success(), "{}", stderr(&restored));
    println!("{}", stderr(&restored));
    let bin = Binary::start(target.path());
    let api = bin.api();
    let alice = api.login("alice").await;
    let history = api.all_messages(&alice, 1).await;
    let got: Vec<(String, i64, String)> = history
        .iter()
        .map(|m| {
            (
                m["client_id"].as_str().unwrap_or("").to_owned(),
                m["seq"].as_i64().unwrap_or(0),
                m["body"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(got, backed_up, "the restored hub serves exactly the backup");
    println!(
        "backup/restore: {} of {written} messages were committed when the backup ran; the \
         copy passed integrity_check, had no gaps, and the restored hub serves all {} of them",
        backed_up.len(),
        got.len()
    );
    drop(bin);

    // Restoring over an existing store keeps that store aside.
    let over = chinwag(&["restore", file_arg], dir.path());
    assert!(over.status.success(), "{}", stderr(&over));
    assert!(stderr(&over).contains("kept at"), "{}", stderr(&over));
    let kept = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().contains("before-restore"));
    assert!(kept);
}

#[tokio::test]
async fn export_gives_a_users_conversations_and_nobody_elses() {
    let dir = tempfile::tempdir().expect("dir");
    let bin = Binary::start(dir.path());
    let api = bin.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let carol = api.register("carol").await;
    let group = api.group(&alice, "Plans", &[&bob]).await;
    let with_carol = api.direct(&alice, &carol).await;
    let bob_carol = api.direct(&bob, &carol).await;
    api.send(&alice, 1, "g1", "hello everyone").await;
    api.send(&bob, group, "p1", "the plan is <b>\"secret\"</b>")
        .await;
    api.send(&alice, with_carol, "d1", "hi carol 👋").await;
    api.send(&bob, bob_carol, "x1", "not for alice").await;
    // Alice leaves the group after writing in it: her own message there is still hers.
    api.send(&alice, group, "p2", "my part of the plan").await;
    let left = api.leave(&alice, group).await;
    assert!(left.status < 300);

    let out_dir = tempfile::tempdir().expect("dir");
    let out = out_dir.path().join("alice.json");
    let export_alice = [
        "export",
        "--user",
        "alice",
        "--out",
        out.to_str().expect("utf-8"),
    ];
    let result = chinwag(&export_alice, dir.path());
    assert!(result.status.success(), "{}", stderr(&result));
    println!("{}", stderr(&result));
    let export: Value =
        serde_json::from_slice(&std::fs::read(&out).expect("written")).expect("JSON");
    assert_eq!(export["user"]["username"], "alice");
    assert!(export["user"].get("password_hash").is_none());
    let ids: HashSet<i64> = export["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .map(|c| c["conversation"]["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(
        ids,
        HashSet::from([1, with_carol]),
        "the conversations she is in"
    );
    let text = export.to_string();
    assert!(text.contains("hi carol 👋") && text.contains("hello everyone"));
    assert!(
        !text.contains("not for alice"),
        "never someone else's conversation"
    );
    assert!(
        !text.contains("the plan is"),
        "nor a group she left, beyond her own messages"
    );
    assert_eq!(export["sent_elsewhere"][0]["body"], "my part of the plan");
    let members: Vec<&str> = export["conversations"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["conversation"]["id"] == with_carol)
        .expect("dm")["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(members, ["alice", "carol"]);

    // Bad input: an unknown user, and an existing output file, are one clear line each.
    let unknown = chinwag(&["export", "--user", "mallory"], dir.path());
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(stderr(&unknown).lines().count(), 1, "{}", stderr(&unknown));
    assert!(stderr(&unknown).contains("no such user"));
    let exists = chinwag(&export_alice, dir.path());
    assert_eq!(exists.status.code(), Some(1));
    assert!(
        stderr(&exists).contains("File exists"),
        "{}",
        stderr(&exists)
    );
    // To standard output, too.
    let stdout = chinwag(&["export", "--user", "bob"], dir.path());
    let bob_export: Value = serde_json::from_slice(&stdout.stdout).expect("JSON on stdout");
    assert_eq!(bob_export["user"]["username"], "bob");
}

#[tokio::test]
async fn a_new_hub_opens_for_its_first_account_and_gives_its_admin_what_to_hand_out() {
    let hub = crate::common::TestHub::start_with(chinwag_hub::HubConfig {
        join_code: Some("tea-time".into()),
        urls: vec!["http://192.0.2.10:7117/".into()],
        ..chinwag_hub::HubConfig::default()
    })
    .await;
    let api = hub.api();
    let info = api.call("GET", "/hub", None, None).await;
    assert_eq!(info.body["first_account"], true, "{}", info.body);
    assert_eq!(
        info.body["addresses"],
        serde_json::json!(["http://192.0.2.10:7117/"])
    );
    let register = |name: &'static str| {
        let api = hub.api();
        async move {
            let body = serde_json::json!({ "username": name, "password": format!("{name}-password"), "join_code": "tea-time" });
            api.call("POST", "/auth/register", None, Some(body)).await
        }
    };
    let admin = register("alice").await;
    assert_eq!(admin.status, 201, "{}", admin.body);
    let info = api.call("GET", "/hub", None, None).await;
    assert!(
        info.body.get("first_account").is_none(),
        "said only while nobody is here: {}",
        info.body
    );
    let token = admin.body["token"].as_str().expect("token").to_owned();
    let stats = api.get("/admin/stats", &token).await;
    assert_eq!(
        stats.body["join_code"], "tea-time",
        "the admin hands it out"
    );
    // Anyone else: not the join code.
    let bob = register("bob").await;
    let token = bob.body["token"].as_str().expect("token").to_owned();
    assert_eq!(api.get("/admin/stats", &token).await.status, 403);
    // A hub with no code says none.
    let open = crate::common::TestHub::start().await;
    let api = open.api();
    let first = api.register("carol").await;
    let stats = api.get("/admin/stats", &first.token).await;
    assert!(stats.body.get("join_code").is_none(), "{}", stats.body);
    assert!(
        api.call("GET", "/hub", None, None)
            .await
            .body
            .get("addresses")
            .is_none(),
        "loopback only: nothing to hand out"
    );
}

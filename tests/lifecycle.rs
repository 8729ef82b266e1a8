//! Starting, stopping, crashing and lagging: nothing acknowledged is ever lost.

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::common::{config, sending_at, Binary, Session, TestHub, Ws, WAIT};

#[tokio::test]
async fn graceful_shutdown_acks_in_flight_writes_and_says_going_away() {
    let cfg = sending_at(1000);
    let mut hub = TestHub::start_with(cfg.clone()).await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let mut ws = Ws::connect(&hub, &alice).await;
    for i in 0..50 {
        ws.send(json!({ "type": "send", "conversation_id": 1, "client_id": format!("c{i}"), "body": format!("m{i}") })).await;
    }
    let task = hub.begin_stop().expect("running");
    let mut acked = HashSet::new();
    let code = loop {
        let frame = ws.next().await;
        match frame["type"].as_str() {
            Some("ack") => {
                acked.insert(
                    frame["message"]["client_id"]
                        .as_str()
                        .expect("client id")
                        .to_owned(),
                );
            }
            Some("__close") => break frame["code"].as_u64(),
            _ => {}
        }
    };
    assert_eq!(code, Some(1001), "going away");
    tokio::time::timeout(WAIT, task)
        .await
        .expect("stops")
        .expect("task");
    let dir = hub.stop().await;

    let hub = TestHub::start_in(cfg, dir).await;
    let api = hub.api();
    let alice = api.login(&alice.username).await;
    let stored: HashSet<String> = api
        .history(&alice, 1)
        .await
        .iter()
        .map(|m| m["client_id"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        acked.is_subset(&stored),
        "every acknowledged message survived the restart"
    );
}

#[tokio::test]
async fn a_silent_connection_is_dropped_and_goes_offline() {
    let mut cfg = config();
    cfg.heartbeat = Duration::from_millis(200);
    let hub = TestHub::start_with(cfg).await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let mut b = Ws::connect(&hub, &bob).await;
    b.send(json!({ "type": "watch", "user_ids": [alice.id] }))
        .await;
    b.frame("watching").await;
    // Alice authenticates, then her client stops reading: it never answers a ping, like a
    // peer that vanished without closing.
    let silent = Ws::connect(&hub, &alice).await;
    let vanished = tokio::time::Instant::now();
    let online = b
        .expect("alice online", |f| {
            f["type"] == "presence" && f["user_id"] == alice.id
        })
        .await;
    assert_eq!(online["status"], "online");
    let offline = b
        .expect("alice offline", |f| {
            f["type"] == "presence" && f["user_id"] == alice.id
        })
        .await;
    assert_eq!(offline["status"], "offline");
    let detected = vanished.elapsed();
    println!(
        "half-open: a peer that stopped answering was dropped and shown offline after {} ms \
         (heartbeat 200 ms, bound 3 heartbeats + 1 s)",
        detected.as_millis()
    );
    assert!(
        detected < Duration::from_millis(1600),
        "within the bound: {detected:?}"
    );
    assert_eq!(
        hub.hub.connection_count(),
        1,
        "only Bob's connection is left"
    );
    // Bob, who answers pings, is still connected well past the heartbeat window.
    b.stay_connected(Duration::from_millis(800)).await;
    b.send(json!({ "type": "ping", "ref": "still" })).await;
    assert_eq!(b.frame("pong").await["ref"], "still");
    drop(silent);
}

#[tokio::test]
async fn a_lagging_client_catches_up_from_the_store_exactly_once() {
    let mut cfg = sending_at(10_000);
    cfg.outbound_queue = 2;
    let hub = TestHub::start_with(cfg).await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let mut a = Ws::connect(&hub, &alice).await;
    let mut b = Ws::connect(&hub, &bob).await;
    let body = "y".repeat(8000);
    for i in 0..300 {
        a.send(json!({ "type": "send", "conversation_id": 1, "client_id": format!("c{i}"), "body": format!("{i} {body}") })).await;
    }
    let mut seqs = Vec::new();
    while seqs.len() < 300 {
        let event = b.event("message_new").await;
        seqs.push(event["message"]["seq"].as_i64().expect("seq"));
    }
    let expected: Vec<i64> = (1..=300).collect();
    assert_eq!(seqs, expected, "all, in order, none twice");
    b.assert_none("an extra copy", |f| {
        f["type"] == "event" && f["event"]["kind"] == "message_new"
    })
    .await;
}

async fn ws_to(addr: &str, session: &Session) -> Ws {
    let url = format!("ws://{addr}/api/v1/ws");
    let socket = crate::common::raw_socket(&url, None)
        .await
        .expect("connects");
    let mut ws = Ws {
        socket,
        ready: serde_json::Value::Null,
        last_event_id: 0,
        held: Default::default(),
    };
    ws.send(json!({ "type": "auth", "token": session.token }))
        .await;
    ws.frame("synced").await;
    ws
}

#[tokio::test]
async fn sigterm_stops_the_binary_cleanly() {
    let dir = tempfile::tempdir().expect("dir");
    let mut bin = Binary::start(dir.path());
    let alice = bin.api().register("alice").await;
    let mut ws = ws_to(&bin.addr, &alice).await;
    bin.signal("TERM");
    assert_eq!(ws.closed().await, 1001);
    let status = bin.wait();
    assert_eq!(status.code(), Some(0), "graceful exit");
}

#[test]
fn cli_errors_are_one_clear_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let dir = tempfile::tempdir().expect("dir");
    let out = Command::new(env!("CARGO_BIN_EXE_chinwag"))
        .args(["--server", "--bind", &addr, "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already in use"), "{stderr}");

    let file = dir.path().join("file");
    std::fs::write(&file, b"x").expect("file");
    let out = Command::new(env!("CARGO_BIN_EXE_chinwag"))
        .args(["--server", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(file.join("sub"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("data directory"), "{stderr}");

    // An address to hand out must be one people can open.
    for bad in [
        "ftp://files.office.lan/",
        "http://",
        "http://a b/",
        "office.lan:7117",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_chinwag"))
            .args([
                "--server",
                "--bind",
                "127.0.0.1:0",
                "--url",
                bad,
                "--data-dir",
            ])
            .arg(dir.path().join("urls"))
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--url") && stderr.contains("address"),
            "{bad}: {stderr}"
        );
    }

    // Settings come from the environment too.
    let out = Command::new(env!("CARGO_BIN_EXE_chinwag"))
        .args(["--server", "--data-dir"])
        .arg(dir.path().join("env"))
        .env("CHINWAG_BIND", &addr)
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already in use"));
}

#[test]
fn the_binary_raises_its_open_files_limit_to_the_hard_limit() {
    // Started as systemd starts services: a soft limit of 1,024 open files.
    let dir = tempfile::tempdir().expect("dir");
    let server = crate::common::server_command(dir.path());
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"ulimit -Sn 1024 && exec "$0" "$@""#)
        .arg(server.get_program())
        .args(server.get_args());
    let (mut child, _addr, log) = crate::common::start_logged(command);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).expect("limits");
    let _ = child.kill();
    let _ = child.wait();
    let _ = log.join();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files");
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers.len(), 2, "{line}");
    assert_eq!(
        numbers[0], numbers[1],
        "soft limit raised to the hard one: {line}"
    );
}

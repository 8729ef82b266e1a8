//! Running a hub for an office: the config file and its precedence, JSON logs, and
//! retention deleting exactly what is older than the cut-off.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use chinwag_hub::HubConfig;
use serde_json::{json, Value};

use crate::common::{can_run, server_command, Need, TestHub};

fn chinwag(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chinwag"));
    command.args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("CHINWAG_") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().copied()).output().expect("runs")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// The `key = value  # source` line of `--print-config` for `key`, as (value, source).
fn setting<'a>(printed: &'a str, key: &str) -> (&'a str, &'a str) {
    let line = printed
        .lines()
        .find(|l| l.split('=').next().is_some_and(|k| k.trim() == key))
        .unwrap_or_else(|| panic!("no {key} in:\n{printed}"));
    let (value, source) = line
        .split_once('=')
        .expect("key = value")
        .1
        .rsplit_once('#')
        .expect("a source comment");
    (value.trim(), source.trim())
}

#[test]
fn flag_beats_environment_beats_file_beats_default() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("chinwag.toml");
    std::fs::write(
        &config,
        r#"
name = "From the file"
join_code = "file-code"
bind = "127.0.0.1:9001"
data_dir = "/srv/chinwag-from-file"
log_format = "json"
mdns = false
[limits]
max_upload_mb = 7
messages_per_second = 9
connections_per_address = 40
max_message_bytes = 2048
[retention]
days = 30
"#,
    )
    .expect("writes");
    let path = config.to_str().expect("utf-8");
    let out = chinwag(
        &[
            "--server",
            "--print-config",
            "--config",
            path,
            "--max-upload-mb",
            "3",
        ],
        &[
            ("CHINWAG_MAX_UPLOAD_MB", "5"),
            ("CHINWAG_MESSAGES_PER_SECOND", "11"),
            ("CHINWAG_NAME", "From the environment"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    // A flag beats the environment, which beats the file.
    assert_eq!(setting(&printed, "max_upload_mb"), ("3", "command line"));
    assert_eq!(
        setting(&printed, "messages_per_second"),
        ("11", "environment")
    );
    assert_eq!(
        setting(&printed, "name"),
        ("\"From the environment\"", "environment")
    );
    // The file beats the defaults.
    assert_eq!(
        setting(&printed, "max_message_bytes"),
        ("2048", "config file")
    );
    assert_eq!(
        setting(&printed, "join_code"),
        ("\"file-code\"", "config file")
    );
    assert_eq!(
        setting(&printed, "bind"),
        ("\"127.0.0.1:9001\"", "config file")
    );
    assert_eq!(
        setting(&printed, "data_dir"),
        ("\"/srv/chinwag-from-file\"", "config file")
    );
    assert_eq!(setting(&printed, "days"), ("30", "config file"));
    assert_eq!(
        setting(&printed, "connections_per_address"),
        ("40", "config file")
    );
    assert_eq!(setting(&printed, "mdns"), ("false", "config file"));
    assert_eq!(setting(&printed, "log_format"), ("\"json\"", "config file"));
    // What nobody set is the default.
    assert_eq!(setting(&printed, "sync"), ("\"full\"", "default"));

    // What it prints is itself a config file that gives the same settings.
    let again = dir.path().join("printed.toml");
    std::fs::write(&again, &printed).expect("writes");
    let out = chinwag(
        &[
            "--server",
            "--print-config",
            "--config",
            again.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let reprinted = text(&out.stdout);
    for key in [
        "max_upload_mb",
        "messages_per_second",
        "connections_per_address",
        "name",
        "join_code",
        "bind",
        "days",
        "mdns",
    ] {
        assert_eq!(
            setting(&reprinted, key).0,
            setting(&printed, key).0,
            "{key}"
        );
    }

    // Without a file: defaults, and the join code is not set.
    let out = chinwag(&["--server", "--print-config"], &[]);
    let printed = text(&out.stdout);
    assert_eq!(setting(&printed, "bind"), ("\"0.0.0.0:7117\"", "default"));
    assert_eq!(setting(&printed, "days"), ("0", "default"));
    assert!(printed.contains("# join_code: not set"), "{printed}");
}

#[test]
fn a_bad_config_file_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("dir");
    let cases = [
        ("nmae = \"typo\"\n", "unknown field `nmae`"),
        ("[limits]\nmax_upload_mb = 0\n", "between 1 and 1000000"),
        ("bind = \"not an address\"\n", "bind"),
        ("name = \"open\n", "line 1"),
        ("[retention]\ndays = -1\n", "days"),
        (
            "urls = [\"ftp://files.office.lan/\"]\n",
            "not an http:// or https:// address",
        ),
    ];
    for (i, (body, expected)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&file, body).expect("writes");
        let path = file.to_str().expect("utf-8");
        let out = chinwag(&["--server", "--print-config", "--config", path], &[]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{body}: {err}");
        assert!(err.contains(expected), "{body}: {err}");
        assert!(err.contains(path), "names the file: {err}");
    }
    let missing = dir.path().join("missing.toml");
    let out = chinwag(
        &["--server", "--config", missing.to_str().expect("utf-8")],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read the config file"));
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_ids_and_no_text() {
    let dir = tempfile::tempdir().expect("dir");
    let mut command = server_command(dir.path());
    command
        .args(["--log-format", "json"])
        .env("RUST_LOG", "debug,hyper=warn,warp=warn,reqwest=warn");
    let (mut child, addr, log) = crate::common::start_logged(command);
    let api = crate::common::Api::new(addr.parse().expect("addr"));
    let alice = api.register("alice").await;
    let secret = "quarterly-numbers-are-bad";
    let sent = api.send(&alice, 1, "c1", secret).await.body;
    let id = sent["id"].as_i64().expect("id");
    let edited = api
        .patch(
            &format!("/messages/{id}"),
            &alice.token,
            json!({"body": format!("{secret}, edited")}),
        )
        .await;
    assert_eq!(edited.status, 200);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let log = log.join().expect("log");
    let mut about_messages = 0;
    for line in log.lines() {
        let entry: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(
            entry["timestamp"].is_string() && entry["level"].is_string(),
            "{line}"
        );
        if entry["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("message "))
        {
            about_messages += 1;
            assert_eq!(entry["message_id"], id, "carries the id: {line}");
        }
    }
    assert!(about_messages >= 2, "sent and edited are logged:\n{log}");
    assert!(!log.contains(secret), "no message text in the log:\n{log}");
    assert!(!log.contains(&alice.token), "no token in the log");
}

/// `docs/chinwag.service` as an admin installs it: systemd's own checker accepts every line,
/// and its command (with its environment and `docs/chinwag.toml`) runs a hub that answers
/// `/healthz` and `/metrics`, logs JSON as the file asks, and stops cleanly on the unit's
/// `KillSignal` well within `TimeoutStopSec`. (No systemd runs as PID 1 here, so the unit is
/// not started by systemd itself; `--bind 127.0.0.1:0 --no-mdns` are added because tests
/// never touch the LAN. Flags beat the file, as documented.)
#[tokio::test]
async fn the_systemd_unit_verifies_and_its_command_runs_a_hub_from_the_config_file() {
    if !can_run(
        "systemd unit",
        Need::Program("systemd-analyze", "apt install systemd (scripts/test does)"),
    ) {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(root.join("docs/chinwag.service")).expect("unit");
    let dir = tempfile::tempdir().expect("dir");
    let binary = env!("CARGO_BIN_EXE_chinwag");
    let installed = unit.replace("/usr/local/bin/chinwag", binary);
    let unit_path = dir.path().join("chinwag.service");
    std::fs::write(&unit_path, &installed).expect("write unit");
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit_path)
        .output()
        .expect("systemd-analyze (package systemd; scripts/test installs it)");
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify: {}{}",
        text(&verify.stdout),
        text(&verify.stderr)
    );

    let value = |key: &str| -> Vec<&str> {
        installed
            .lines()
            .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .collect()
    };
    let exec = value("ExecStart");
    assert_eq!(exec.len(), 1, "one ExecStart");
    let mut words = exec[0].split_whitespace();
    assert_eq!(words.next(), Some(binary));
    let config = dir.path().join("chinwag.toml");
    std::fs::copy(root.join("docs/chinwag.toml"), &config).expect("config");
    let args: Vec<String> = words
        .map(|w| match w {
            "/etc/chinwag/chinwag.toml" => config.display().to_string(),
            other => other.to_owned(),
        })
        .collect();
    assert!(
        args.iter().any(|a| a == "--server") && args.iter().any(|a| a == "--config"),
        "{args:?}"
    );
    let data = dir.path().join("state");
    let mut command = Command::new(binary);
    command
        .args(&args)
        .args(["--bind", "127.0.0.1:0", "--no-mdns"]);
    for (key, _) in std::env::vars() {
        if key.starts_with("CHINWAG_") || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    for assignment in value("Environment") {
        let (key, val) = assignment.split_once('=').expect("KEY=value");
        let val = if val == "/var/lib/chinwag" {
            data.display().to_string()
        } else {
            val.to_owned()
        };
        command.env(key, val);
    }
    assert!(
        value("KillSignal") == ["SIGTERM"],
        "the hub stops cleanly on SIGTERM"
    );
    let (mut child, addr, log) = crate::common::start_logged(command);

    let hub = format!("http://{addr}");
    let health = reqwest::get(format!("{hub}/healthz"))
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let info: Value = reqwest::get(format!("{hub}/api/v1/hub"))
        .await
        .expect("hub")
        .json()
        .await
        .expect("json");
    assert_eq!(
        info["name"], "Office chat",
        "the name comes from the config file"
    );
    let metrics = reqwest::get(format!("{hub}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("# TYPE "), "{metrics}");
    assert!(
        data.join("chinwag.db").exists(),
        "the store is in the unit's StateDirectory (CHINWAG_DATA_DIR)"
    );

    let stopping = std::time::Instant::now();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("exits");
    let timeout: u64 = value("TimeoutStopSec")[0].parse().expect("seconds");
    assert!(status.success(), "exits 0 on SIGTERM: {status}");
    assert!(stopping.elapsed() < Duration::from_secs(timeout));
    let log = log.join().expect("log");
    assert!(!log.trim().is_empty());
    for line in log.lines() {
        serde_json::from_str::<Value>(line)
            .unwrap_or_else(|e| panic!("log_format = \"json\" from the file ({e}): {line}"));
    }
}

/// Sets a row's `created_at` to `days` ago (plus or minus `minutes`).
fn age(db: &Path, table: &str, id: i64, days: i64, minutes: i64) {
    let conn = rusqlite::Connection::open(db).expect("opens");
    let at = chinwag_store::now_millis() - days * 86_400_000 - minutes * 60_000;
    conn.execute(
        &format!("UPDATE {table} SET created_at = ?1 WHERE id = ?2"),
        [at, id],
    )
    .expect("ages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_exactly_what_is_older_than_the_cut_off() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let chat = api.direct(&alice, &bob).await;
    let picture = crate::files::image_bytes(64, 48, image::ImageFormat::Png);
    let upload = |name: &'static str, bytes: Vec<u8>| {
        let (api, alice) = (api.clone(), alice.clone());
        async move {
            let reply = api
                .upload(&alice, chat, name, "application/octet-stream", bytes)
                .await;
            assert_eq!(reply.status, 201, "{:?}", reply.body);
            reply.body["id"].as_i64().expect("file id")
        }
    };
    let send = |client_id: &'static str, body: &'static str, file: i64| {
        let (api, alice) = (api.clone(), alice.clone());
        async move {
            let reply = api.send_files(&alice, chat, client_id, body, &[file]).await;
            assert_eq!(reply.status, 201, "{:?}", reply.body);
            reply.body
        }
    };
    // Two messages share one picture's bytes; the old one goes, the content stays.
    let old_file = upload("old.png", picture.clone()).await;
    let old = send("old-1", "just over the cut-off", old_file).await;
    let kept_file = upload("kept.png", picture.clone()).await;
    let kept = send("kept-1", "just inside", kept_file).await;
    let only_old = upload("only-old.bin", b"only in an old message".to_vec()).await;
    let old_only = send("old-2", "", only_old).await;
    let abandoned = upload("never-sent.bin", b"uploaded, never sent".to_vec()).await;
    let fresh_unsent = upload("sent-later.bin", b"about to be sent".to_vec()).await;
    let recent = api.send(&bob, chat, "new-1", "written today").await.body;
    let dir = hub.stop().await;
    let db = dir.path().join("chinwag.db");
    let id = |v: &Value| v["id"].as_i64().expect("id");
    age(&db, "messages", id(&old), 30, 1);
    age(&db, "messages", id(&old_only), 45, 0);
    age(&db, "messages", id(&kept), 29, 59 * 24);
    age(&db, "files", abandoned, 8, 0);
    age(&db, "files", fresh_unsent, 6, 0);
    let conn = rusqlite::Connection::open(&db).expect("opens");
    // A message's events were written when it was.
    conn.execute(
        "UPDATE events SET created_at = (SELECT created_at FROM messages
             WHERE id = json_extract(payload, '$.message.id'))
         WHERE json_extract(payload, '$.message.id') IS NOT NULL",
        [],
    )
    .expect("ages events");
    let content = |file: i64| -> std::path::PathBuf {
        let hash: String = conn
            .query_row("SELECT sha256 FROM files WHERE id = ?1", [file], |r| {
                r.get(0)
            })
            .expect("hash");
        dir.path().join("files").join(&hash[..2]).join(&hash[2..])
    };
    let (shared, only_old_path, abandoned_path) =
        (content(old_file), content(only_old), content(abandoned));
    assert!(shared.exists() && only_old_path.exists() && abandoned_path.exists());

    // The hub restarts with a 30-day retention; its first pass comes soon after start.
    let config = HubConfig {
        retention_days: 30,
        ..crate::common::config()
    };
    let hub = TestHub::start_in(config, dir).await;
    let api = hub.api();
    let alice = api.login("alice").await;
    let mut history = Vec::new();
    for _ in 0..100 {
        history = api.history(&alice, chat).await;
        if history.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bodies: Vec<&str> = history
        .iter()
        .map(|m| m["body"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(bodies, ["just inside", "written today"], "{history:?}");
    assert_eq!(id(&history[1]), id(&recent));
    // Files of deleted messages are gone, content shared with a kept message stays.
    let status = |file: i64| {
        let (api, token) = (api.clone(), alice.token.clone());
        async move {
            api.fetch(Some(&token), &format!("/files/{file}"), &[])
                .await
                .0
        }
    };
    assert_eq!(status(old_file).await, 404);
    assert_eq!(status(only_old).await, 404);
    assert_eq!(status(kept_file).await, 200);
    assert!(shared.exists(), "still named by the kept message");
    assert!(!only_old_path.exists(), "no record names it any more");
    // An upload never sent goes after a week; a newer one can still be sent.
    assert!(!abandoned_path.exists());
    let late = api
        .send_files(
            &alice,
            chat,
            "late-1",
            "sent after an outage",
            &[fresh_unsent],
        )
        .await
        .body;
    assert_eq!(late["attachments"][0]["id"], fresh_unsent, "{late}");
    // The old messages' text is gone from the event log too.
    let conn = rusqlite::Connection::open(hub.dir.path().join("chinwag.db")).expect("opens");
    let leftovers: i64 = conn
        .query_row(
            "SELECT count(*) FROM events WHERE payload LIKE '%just over the cut-off%'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(leftovers, 0);
    // Search no longer finds them.
    let mut found = usize::MAX;
    for _ in 0..50 {
        let reply = api.get("/search?q=cut-off", &alice.token).await;
        found = reply.body["results"].as_array().map_or(0, Vec::len);
        if found == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(found, 0);
    hub.stop().await;
}

/// `chinwag admin ...` on a data directory, with standard input.
fn admin(dir: &Path, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_chinwag"))
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("writes");
    child.wait_with_output().expect("finishes")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_act_on_a_running_hub_and_a_stopped_one() {
    let dir = tempfile::tempdir().expect("dir");
    let mut bin = crate::common::Binary::start(dir.path());
    let api = bin.api();
    let alice = api.register("alice").await; // The first account: a hub admin.
    let secret = std::fs::read_to_string(dir.path().join("admin.json")).expect("admin file");
    assert!(secret.contains("http://127.0.0.1:"), "{secret}");

    // Create: from standard input, and generated.
    let out = admin(
        dir.path(),
        &[
            "users",
            "create",
            "carol",
            "--display-name",
            "Carol C",
            "--password-stdin",
        ],
        "carol-chosen-password\n",
    );
    assert_eq!(ok(&out), "", "nothing printed when the password was given");
    assert!(text(&out.stderr).contains("through the running hub"));
    let carol = api.sign_in("carol", "carol-chosen-password").await;
    assert_eq!(carol.status, 200, "{:?}", carol.body);
    let carol_token = carol.body["token"].as_str().expect("token").to_owned();
    let carol_id = carol.body["user"]["id"].as_i64().expect("id");
    let out = admin(dir.path(), &["users", "create", "dave"], "");
    let dave_password = ok(&out).trim().to_owned();
    assert_eq!(
        dave_password.len(),
        16,
        "a generated password: {dave_password}"
    );
    let dave = api.sign_in("dave", &dave_password).await;
    assert_eq!(dave.status, 200);
    // Bad input: a taken name, a bad name, a short password, someone who does not exist.
    let taken = admin(dir.path(), &["users", "create", "Carol"], "");
    assert!(!taken.status.success());
    assert!(
        text(&taken.stderr).contains("taken"),
        "{}",
        text(&taken.stderr)
    );
    let bad = admin(dir.path(), &["users", "create", "no spaces/here"], "");
    assert!(!bad.status.success());
    let short = admin(
        dir.path(),
        &["users", "create", "erin", "--password-stdin"],
        "x\n",
    );
    assert!(!short.status.success());
    assert!(
        text(&short.stderr).contains("password"),
        "{}",
        text(&short.stderr)
    );
    let nobody = admin(dir.path(), &["users", "disable", "nobody"], "");
    assert!(text(&nobody.stderr).contains("no user called \"nobody\""));

    // Disabling closes Carol's open connection at once, and she cannot sign in again.
    let carol_session = crate::common::Session {
        token: carol_token.clone(),
        id: carol_id,
        username: "carol".into(),
    };
    let (mut ws, _) = crate::common::Ws::connect_url(&bin.ws_url(), &carol_session, None).await;
    let out = admin(dir.path(), &["users", "disable", "carol"], "");
    ok(&out);
    let error = ws.frame("error").await;
    assert_eq!(error["code"], "unauthorized", "{error}");
    assert_eq!(ws.closed().await, 4401);
    assert_eq!(api.get("/me", &carol_token).await.status, 401);
    let again = api.sign_in("carol", "carol-chosen-password").await;
    assert_eq!(again.status, 403);
    assert!(again.message().contains("disabled"), "{}", again.message());
    let list = ok(&admin(dir.path(), &["users", "list"], ""));
    let row = list
        .lines()
        .find(|l| l.contains("\tcarol\t"))
        .expect("carol listed");
    assert!(row.contains("\tdisabled\t"), "{row}");
    // The others see it too.
    let directory = api.get("/users", &alice.token).await;
    let listed = directory.body.as_array().expect("list");
    assert!(listed
        .iter()
        .any(|e| e["username"] == "carol" && e["disabled"] == true));

    // Enable, reset the password (old sessions end), promote and demote.
    ok(&admin(dir.path(), &["users", "enable", "carol"], ""));
    let dave_token = dave.body["token"].as_str().expect("token").to_owned();
    let new_password = ok(&admin(dir.path(), &["users", "reset-password", "dave"], ""));
    assert_eq!(api.get("/me", &dave_token).await.status, 401, "signed out");
    let relogin = api.sign_in("dave", new_password.trim()).await;
    assert_eq!(relogin.status, 200);
    ok(&admin(dir.path(), &["users", "promote", "dave"], ""));
    assert_eq!(
        api.get("/me", relogin.body["token"].as_str().expect("t"))
            .await
            .body["is_admin"],
        true
    );
    ok(&admin(dir.path(), &["users", "demote", "alice"], ""));
    assert_eq!(api.get("/me", &alice.token).await.body["is_admin"], false);
    let last = admin(dir.path(), &["users", "demote", "dave"], "");
    assert!(!last.status.success(), "the hub keeps one admin");
    assert!(
        text(&last.stderr).contains("last admin"),
        "{}",
        text(&last.stderr)
    );

    // Conversations and stats, as text and JSON.
    api.send(&alice, 1, "hello-1", "hello everyone").await;
    let conversations = ok(&admin(dir.path(), &["conversations", "list"], ""));
    assert!(
        conversations
            .lines()
            .any(|l| l.starts_with("1\tgeneral\tgeneral\t3\t1\t0\t")),
        "{conversations}"
    );
    assert!(
        !conversations.contains("hello everyone"),
        "counts, never contents"
    );
    let stats: Value =
        serde_json::from_str(&ok(&admin(dir.path(), &["stats", "--json"], ""))).expect("JSON");
    assert_eq!(stats["users"], 3);
    assert_eq!(stats["messages"], 1);
    assert!(stats["store_bytes"].as_u64().expect("bytes") > 0);

    // With the hub stopped, the commands open the store themselves.
    bin.signal("TERM");
    bin.wait();
    assert!(
        !dir.path().join("admin.json").exists(),
        "removed when the hub stops"
    );
    let out = admin(dir.path(), &["users", "disable", "carol"], "");
    ok(&out);
    assert!(
        text(&out.stderr).contains("stopped hub"),
        "{}",
        text(&out.stderr)
    );
    let list = ok(&admin(dir.path(), &["users", "list", "--json"], ""));
    let users: Value = serde_json::from_str(&list).expect("JSON");
    let carol = users
        .as_array()
        .expect("list")
        .iter()
        .find(|u| u["username"] == "carol")
        .expect("carol");
    assert_eq!(carol["disabled"], true);
    assert_eq!(carol["sessions"], 0);
    // Nothing to act on: a clear error.
    let empty = tempfile::tempdir().expect("dir");
    let out = admin(empty.path(), &["stats"], "");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no Chinwag store"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderation_mute_block_and_report_end_to_end() {
    let hub = TestHub::start_with(crate::common::config()).await;
    let api = hub.api();
    let admin = api.register("admin").await;
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let carol = api.register("carol").await;
    let group = api.group(&alice, "Team", &[&bob, &carol]).await;
    let direct = api.direct(&bob, &alice).await;

    let before = api.send(&bob, direct, "dm-0", "before the block").await;
    assert_eq!(before.status, 201);
    let before_id = before.body["id"].as_i64().expect("id");

    // Alice blocks Bob: his direct messages are refused, his typing hidden from her only.
    let mut a = crate::common::Ws::connect(&hub, &alice).await;
    let mut c = crate::common::Ws::connect(&hub, &carol).await;
    let mut b = crate::common::Ws::connect(&hub, &bob).await;
    let put = api
        .put(&format!("/blocks/{}", bob.id), &alice.token, None)
        .await;
    assert_eq!(put.status, 204);
    assert_eq!(
        api.get("/blocks", &alice.token).await.body["blocked"],
        json!([bob.id])
    );
    // Her other devices learn it at once; Bob is not told.
    let mut a2 = crate::common::Ws::connect(&hub, &alice).await;
    let again = api
        .put(&format!("/blocks/{}", bob.id), &alice.token, None)
        .await;
    assert_eq!(again.status, 204, "blocking twice is the same as once");
    for ws in [&mut a, &mut a2] {
        let frame = ws.frame("blocked").await;
        assert_eq!(
            frame,
            json!({"type": "blocked", "user_id": bob.id, "blocked": true})
        );
    }
    b.assert_none("a block notice", |f| f["type"] == "blocked")
        .await;
    let refused = api.send(&bob, direct, "dm-1", "hello?").await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert_eq!(refused.code(), "forbidden");
    b.send(
        json!({"type": "send", "ref": "dm-2", "conversation_id": direct,
                  "client_id": "dm-2", "body": "hello again?"}),
    )
    .await;
    let over_ws = b.reply().await;
    assert_eq!(over_ws["code"], "forbidden", "{over_ws}");
    // Nor can he put new text in front of her by editing an old message (issue 21, item 11).
    let edit = api
        .patch(
            &format!("/messages/{before_id}"),
            &bob.token,
            json!({ "body": "new words for her" }),
        )
        .await;
    assert_eq!(
        (edit.status, edit.code()),
        (403, "forbidden"),
        "{:?}",
        edit.body
    );
    b.send(json!({"type": "edit", "ref": "e-1", "message_id": before_id, "body": "again"}))
        .await;
    assert_eq!(b.reply().await["code"], "forbidden");
    a.assert_none("an edit from Bob", |f| {
        f["event"]["kind"] == "message_edited"
    })
    .await;
    // Nor can he bury her in groups: conversation changes (groups created, people added,
    // direct chats opened) are rate limited, 30 at once, then 10 a minute (issue 21, item
    // 11). Opening his direct chat with her was his first.
    let mut made = 1;
    let refused = loop {
        let r = api
            .post(
                "/conversations",
                &bob.token,
                json!({ "name": format!("spam {made}"), "member_ids": [alice.id] }),
            )
            .await;
        if r.status != 201 {
            break r;
        }
        made += 1;
        assert!(made <= 30, "the burst is 30");
    };
    assert_eq!((refused.status, refused.code()), (429, "rate_limited"));
    assert!(refused.body["error"]["retry_after_ms"]
        .as_u64()
        .is_some_and(|ms| ms > 0));
    assert_eq!(made, 30);
    let add = api
        .post(
            &format!("/conversations/{group}/members"),
            &alice.token,
            json!({ "user_ids": [carol.id] }),
        )
        .await;
    assert_ne!(
        add.status, 429,
        "Alice's allowance is her own: {:?}",
        add.body
    );
    // Alice can still write to him, and his group messages still reach her.
    assert_eq!(
        api.send(&alice, direct, "dm-3", "please stop").await.status,
        201
    );
    assert_eq!(
        api.send(&bob, group, "g-1", "in the group").await.status,
        201
    );
    a.message("in the group").await;
    b.send(json!({"type": "typing", "conversation_id": group, "typing": true}))
        .await;
    let typing = c.frame("typing").await;
    assert_eq!(typing["user_id"], bob.id);
    a.assert_none("Bob's typing", |f| f["type"] == "typing")
        .await;
    // Bad input: blocking myself, someone who does not exist.
    let me = api
        .put(&format!("/blocks/{}", alice.id), &alice.token, None)
        .await;
    assert_eq!(me.status, 400);
    let ghost = api.put("/blocks/99999", &alice.token, None).await;
    assert_eq!(ghost.status, 404);
    // Unblocked, he can write again.
    let del = api
        .call(
            "DELETE",
            &format!("/blocks/{}", bob.id),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(del.status, 204);
    assert_eq!(api.send(&bob, direct, "dm-4", "sorry").await.status, 201);

    // Carol mutes the group: her summary says so; unmuting is the same call.
    let mute = |muted: bool| {
        let (api, token) = (api.clone(), carol.token.clone());
        async move {
            api.call(
                "PUT",
                &format!("/conversations/{group}/mute"),
                Some(&token),
                Some(json!({"muted": muted})),
            )
            .await
        }
    };
    let mut c2 = crate::common::Ws::connect(&hub, &carol).await;
    assert_eq!(mute(true).await.status, 204);
    // Every one of her connections hears it at once; nobody else does.
    for ws in [&mut c, &mut c2] {
        let frame = ws.frame("muted").await;
        assert_eq!(
            frame,
            json!({"type": "muted", "conversation_id": group, "muted": true})
        );
    }
    a.assert_none("someone else's mute", |f| f["type"] == "muted")
        .await;
    let summaries = api.get("/conversations", &carol.token).await.body;
    let team = summaries
        .as_array()
        .expect("list")
        .iter()
        .find(|s| s["id"] == group)
        .expect("team");
    assert_eq!(team["muted"], true);
    let bad = api
        .put(
            &format!("/conversations/{group}/mute"),
            &carol.token,
            Some(json!({"muted": "yes"})),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(mute(false).await.status, 204);
    assert_eq!(c2.frame("muted").await["muted"], false);

    // Carol reports Bob's message; the hub admin sees it, resolves it and deletes the message
    // in a group he is not in.
    let message = api.send(&bob, group, "g-2", "something awful").await.body;
    let id = message["id"].as_i64().expect("id");
    let report = api
        .post(
            &format!("/messages/{id}/report"),
            &carol.token,
            json!({"reason": "abusive"}),
        )
        .await;
    assert_eq!(report.status, 201, "{:?}", report.body);
    let long = api
        .post(
            &format!("/messages/{id}/report"),
            &carol.token,
            json!({"reason": "x".repeat(501)}),
        )
        .await;
    assert_eq!(long.status, 400);
    let not_admin = api.get("/admin/reports", &alice.token).await;
    assert_eq!(not_admin.status, 403);
    let reports = api.get("/admin/reports", &admin.token).await.body;
    assert_eq!(reports[0]["message"]["body"], "something awful");
    assert_eq!(reports[0]["reporter_id"], carol.id);
    assert_eq!(reports[0]["reason"], "abusive");
    let report_id = reports[0]["id"].as_i64().expect("id");
    let deleted = api.delete(&format!("/messages/{id}"), &admin.token).await;
    assert_eq!(deleted.status, 200);
    let event = c.event("message_deleted").await;
    assert_eq!(event["message"]["id"], id);
    let resolved = api
        .call(
            "PATCH",
            &format!("/admin/reports/{report_id}"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(resolved.status, 204);
    let reports = api.get("/admin/reports", &admin.token).await.body;
    assert!(reports[0]["resolved_at"].is_i64(), "{reports}");

    // The hub admin disables Bob from the app: his connection closes at once.
    let off = api
        .patch(
            &format!("/admin/users/{}", bob.id),
            &admin.token,
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(off.status, 200, "{:?}", off.body);
    assert_eq!(b.closed().await, 4401);
    // The hub keeps an admin: the only one cannot disable or demote themselves.
    let last = api
        .patch(
            &format!("/admin/users/{}", admin.id),
            &admin.token,
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(last.status, 400);
    assert!(last.message().contains("last admin"), "{}", last.message());
    let empty = api
        .patch(&format!("/admin/users/{}", bob.id), &admin.token, json!({}))
        .await;
    assert_eq!(empty.status, 400);
    let unknown = api
        .patch(
            &format!("/admin/users/{}", bob.id),
            &admin.token,
            json!({"disabled": false, "superpowers": true}),
        )
        .await;
    assert_eq!(unknown.status, 400);
    hub.stop().await;
}

/// Sets the `used_at` of every session of `username` to `days` ago.
fn idle(db: &Path, username: &str, days: i64) {
    let conn = rusqlite::Connection::open(db).expect("opens");
    conn.busy_timeout(Duration::from_secs(5)).expect("timeout");
    let at = chinwag_store::now_millis() - days * 86_400_000;
    let changed = conn
        .execute(
            "UPDATE sessions SET used_at = ?1
             WHERE user_id = (SELECT id FROM users WHERE username = ?2)",
            rusqlite::params![at, username],
        )
        .expect("ages");
    assert_eq!(changed, 1, "{username} has one session");
}

fn sessions_of(db: &Path, username: &str) -> Vec<i64> {
    let conn = rusqlite::Connection::open(db).expect("opens");
    conn.busy_timeout(Duration::from_secs(5)).expect("timeout");
    let mut stmt = conn
        .prepare(
            "SELECT used_at FROM sessions
             WHERE user_id = (SELECT id FROM users WHERE username = ?1)",
        )
        .expect("prepares");
    let rows = stmt.query_map([username], |r| r.get(0)).expect("queries");
    rows.collect::<rusqlite::Result<_>>().expect("reads")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_left_idle_past_the_limit_are_signed_out_and_open_ones_are_kept() {
    let hub = TestHub::start().await;
    let api = hub.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let carol = api.register("carol").await;
    let dave = api.register("dave").await;
    let dir = hub.stop().await;
    let db = dir.path().join("chinwag.db");
    idle(&db, "alice", 91); // past the 90-day limit
    idle(&db, "bob", 89); // inside it
    idle(&db, "carol", 400);

    let config = HubConfig {
        session_idle_days: 90,
        ..crate::common::config()
    };
    let hub = TestHub::start_in(config, dir).await;
    let api = hub.api();
    // Dave's session is fresh; he keeps a connection open while it is made to look idle.
    let _dave_online = crate::common::Ws::connect(&hub, &dave).await;
    assert_eq!(
        sessions_of(&db, "carol").len(),
        1,
        "the first sweep ran too early for this test to show anything"
    );
    idle(&db, "dave", 120);

    // An expired session is refused at once, before any sweep, over REST and WebSocket.
    let refused = api.get("/me", &alice.token).await;
    assert_eq!((refused.status, refused.code()), (401, "unauthorized"));
    let mut socket = crate::common::raw_socket(&hub.ws_url(), None)
        .await
        .expect("connects");
    use futures_util::{SinkExt, StreamExt};
    socket
        .send(tokio_tungstenite::tungstenite::Message::Text(
            json!({"type": "auth", "token": carol.token})
                .to_string()
                .into(),
        ))
        .await
        .expect("sent");
    let answer = socket.next().await.expect("answer").expect("frame");
    assert!(
        answer.to_text().unwrap_or("").contains("unauthorized"),
        "{answer:?}"
    );
    // A session used inside the limit works, and is marked as used now.
    assert_eq!(api.get("/me", &bob.token).await.status, 200);
    let now = chinwag_store::now_millis();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sessions_of(&db, "bob")[0] < now - 60_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "bob's use never recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The first sweep (soon after start) deletes the idle sessions, and keeps Dave's because
    // his connection is open.
    while !sessions_of(&db, "carol").is_empty() {
        assert!(std::time::Instant::now() < deadline, "idle sessions kept");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sessions_of(&db, "alice").is_empty());
    let dave_used = sessions_of(&db, "dave");
    assert_eq!(dave_used.len(), 1, "the open connection's session is kept");
    assert!(dave_used[0] >= now - 60_000, "and marked as used");
    assert_eq!(api.get("/me", &dave.token).await.status, 200);
    // Signing in again gives a working session.
    let alice = api.login("alice").await;
    assert_eq!(api.get("/me", &alice.token).await.status, 200);
}

#[test]
fn doctor_says_a_hub_answers_or_why_it_does_not() {
    let dir = tempfile::tempdir().expect("dir");
    let bin = crate::common::Binary::start(dir.path());
    let doctor = |address: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_chinwag"))
            .args(["doctor", address, "--json"])
            .output()
            .expect("runs")
    };
    let out = doctor(&bin.addr);
    let verdicts: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let checks: Vec<(&str, bool)> = verdicts
        .as_array()
        .expect("array")
        .iter()
        .map(|v| {
            (
                v["check"].as_str().expect("check"),
                v["ok"].as_bool().expect("ok"),
            )
        })
        .collect();
    assert_eq!(
        checks,
        [
            ("address", true),
            ("name", true),
            ("connection", true),
            ("hub", true),
            ("version", true)
        ],
        "{verdicts}"
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(verdicts[3]["says"]
        .as_str()
        .expect("says")
        .contains("A Chinwag hub answers"));

    // Nothing listening: refused, with the fix; exit 1. In words without --json.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = free.local_addr().expect("addr").port();
    drop(free);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chinwag"))
        .args(["doctor", &format!("127.0.0.1:{port}")])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let said = text(&out.stdout);
    assert!(
        said.contains("FAIL connection") && said.contains("nothing listens"),
        "{said}"
    );
    assert!(said.contains("Start the hub"), "{said}");
    // A name that does not exist (.invalid never resolves).
    let out = doctor("no-such-hub.invalid");
    let verdicts: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        verdicts.as_array().expect("array").last().expect("one")["check"],
        "name"
    );
    assert_eq!(out.status.code(), Some(1));
}

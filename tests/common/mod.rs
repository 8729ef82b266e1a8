//! Test harness: a real hub on `127.0.0.1:0` with a temporary database, driven by real HTTP
//! (reqwest) and WebSocket (tokio-tungstenite) clients.

#![allow(dead_code)]

mod node;
pub use node::TestNode;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chinwag_hub::{Hub, HubConfig};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a frame it expects.
pub const WAIT: Duration = Duration::from_secs(10);
/// How long a test waits to be sure a frame does *not* come.
pub const QUIET: Duration = Duration::from_millis(300);

pub struct TestHub {
    pub addr: SocketAddr,
    pub hub: Hub,
    pub dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestHub {
    pub async fn start() -> TestHub {
        Self::start_with(HubConfig::default()).await
    }

    pub async fn start_with(config: HubConfig) -> TestHub {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(config, dir).await
    }

    /// Starts a hub on an existing data directory (for restarts).
    pub async fn start_in(config: HubConfig, dir: tempfile::TempDir) -> TestHub {
        Self::start_on(config, dir, 0).await
    }

    /// Starts a hub on a given loopback port (0: any), e.g. where it was before a restart.
    pub async fn start_on(config: HubConfig, dir: tempfile::TempDir, port: u16) -> TestHub {
        let hub = Hub::open(config, &dir.path().join("chinwag.db"))
            .await
            .expect("hub opens");
        let listener =
            chinwag_hub::listen(std::net::SocketAddr::from(([127, 0, 0, 1], port))).expect("binds");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(chinwag_hub::serve(listener, hub.clone(), async move {
            let _ = rx.await;
        }));
        TestHub {
            addr,
            hub,
            dir,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn api(&self) -> Api {
        Api::new(self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/api/v1/ws", self.addr)
    }

    /// Graceful shutdown; returns the data directory for a restart.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(WAIT, task)
                .await
                .expect("hub stops within the wait")
                .expect("serve task");
        }
        self.dir
    }

    /// Signals shutdown without waiting.
    pub fn begin_stop(&mut self) -> Option<JoinHandle<()>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take()
    }
}

impl TestHub {
    /// Creates `n` accounts named `{prefix}{i}` straight through the store, each with a
    /// session, skipping the (deliberately slow) password hashing of registration. For tests
    /// that need a crowd, not for tests of registration.
    pub async fn crowd(&self, prefix: &str, n: usize) -> Vec<Session> {
        let tokens: Vec<String> = (0..n).map(|_| chinwag_hub::auth::new_token()).collect();
        let hashes: Vec<Vec<u8>> = tokens
            .iter()
            .map(|t| chinwag_hub::auth::token_hash(t))
            .collect();
        let prefix = prefix.to_owned();
        let ids = self
            .hub
            .store()
            .write(move |tx| {
                let mut ids = Vec::new();
                for (i, hash) in hashes.iter().enumerate() {
                    let name = format!("{prefix}{i}");
                    let user = tx.register(&name, &name, "not-a-password-hash")?;
                    tx.create_session(user.id, hash)?;
                    ids.push((user.id, name));
                }
                Ok(ids)
            })
            .await
            .expect("crowd created");
        ids.into_iter()
            .zip(tokens)
            .map(|((id, username), token)| Session {
                token,
                id: id.into(),
                username,
            })
            .collect()
    }
}

/// Tests that need more than a normal user has (root, to mount file systems; a system tool)
/// run where they can and otherwise skip, printing one line that says how to run them.
/// `scripts/test` sets `CHINWAG_ALL_TIERS=1`, which turns a skip into a failure, so CI (root,
/// with the tools installed) runs every one of them.
pub fn can_run(test: &str, need: Need) -> bool {
    use std::io::Write;
    let (ok, why, how) = match need {
        Need::Root(what) => (
            is_root(),
            what,
            "run as root: `sudo cargo test` or `scripts/test`",
        ),
        Need::Program(program, package) => (
            Command::new(program).arg("--version").output().is_ok(),
            program,
            package,
        ),
    };
    if ok {
        return true;
    }
    let line = format!("skipped: {test}: needs {why}; {how}");
    assert!(std::env::var_os("CHINWAG_ALL_TIERS").is_none(), "{line}");
    // Straight to stderr, past the test harness's capture, so the skip is seen.
    let _ = writeln!(std::io::stderr(), "{line}");
    false
}

/// What a test needs beyond a normal user.
pub enum Need {
    /// Root, for this (mounting a tmpfs, a loop device).
    Root(&'static str),
    /// A program, and how to get it.
    Program(&'static str, &'static str),
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

pub fn config() -> HubConfig {
    HubConfig::default()
}

/// The default config, but each user may send `rate` messages a second with bursts of as
/// many, and make as many conversation changes a minute: for tests about something other
/// than the rate limits.
pub fn sending_at(rate: u32) -> HubConfig {
    HubConfig {
        messages_per_second: rate,
        message_burst: rate,
        conversation_changes_per_minute: rate,
        conversation_changes_burst: rate,
        ..HubConfig::default()
    }
}

/// The client ids of a page of messages, in order.
pub fn client_ids(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .filter_map(|m| m["client_id"].as_str())
        .collect()
}

/// Asserts that a conversation's history numbers its messages 1, 2, 3... with no gaps.
pub fn assert_gapless(history: &[Value]) {
    let seqs: Vec<i64> = history
        .iter()
        .map(|m| m["seq"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "no gaps");
}

/// `PRAGMA integrity_check` of a database file ("ok" when sound).
pub fn integrity_check(db: &std::path::Path) -> String {
    rusqlite::Connection::open(db)
        .expect("db opens")
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity check")
}

/// `chinwag --server` on `127.0.0.1:0` with no mDNS and the given data directory, ready for
/// more arguments, environment and pipes.
pub fn server_command(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chinwag"));
    command
        .args([
            "--server",
            "--no-mdns",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir);
    command
}

/// Starts the binary with its standard error captured: the child, the address it printed,
/// and a thread that returns everything it logged once it exits.
pub fn start_logged(
    mut command: Command,
) -> (std::process::Child, String, std::thread::JoinHandle<String>) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let log = std::thread::spawn(move || {
        let mut all = String::new();
        std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut all).ok();
        all
    });
    let addr = printed_address(stdout);
    (child, addr, log)
}

/// The `HOST:PORT` a starting binary prints on its standard output (a line
/// `http://HOST:PORT/`); the rest of its output is drained so it never blocks on the pipe.
pub fn printed_address(stdout: std::process::ChildStdout) -> String {
    let mut lines = BufReader::new(stdout).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.trim()
                .strip_prefix("http://")
                .map(|a| a.trim_end_matches('/').to_owned())
        })
        .expect("prints its address");
    std::thread::spawn(move || for _ in lines {});
    addr
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub id: i64,
    pub username: String,
}

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

/// A response as tests look at it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

impl Api {
    pub fn new(addr: SocketAddr) -> Api {
        Api {
            base: format!("http://{addr}/api/v1"),
            http: reqwest::Client::new(),
        }
    }

    /// A client whose connections come from `local` (another loopback address, 127.0.0.2
    /// say): another machine, as far as the hub's per-address rules go.
    pub fn from_address(addr: SocketAddr, local: std::net::IpAddr) -> Api {
        Api {
            base: format!("http://{addr}/api/v1"),
            http: reqwest::Client::builder()
                .local_address(local)
                .build()
                .expect("client"),
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request sent");
        Self::reply(resp).await
    }

    pub async fn raw(&self, method: &str, path: &str, token: Option<&str>, body: Vec<u8>) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        Self::reply(req.send().await.expect("request sent")).await
    }

    async fn reply(resp: reqwest::Response) -> Reply {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call("POST", path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call("PATCH", path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Option<Value>) -> Reply {
        self.call("PUT", path, Some(token), body).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call("DELETE", path, Some(token), None).await
    }

    /// `POST /auth/login` with a password of the test's choosing.
    pub async fn sign_in(&self, username: &str, password: &str) -> Reply {
        let body = serde_json::json!({ "username": username, "password": password });
        self.call("POST", "/auth/login", None, Some(body)).await
    }

    /// Renames a group.
    pub async fn rename(&self, me: &Session, group: i64, name: &str) -> Reply {
        let body = serde_json::json!({ "name": name });
        self.patch(&format!("/conversations/{group}"), &me.token, body)
            .await
    }

    /// Removes `user` from a group.
    pub async fn remove_member(&self, me: &Session, group: i64, user: i64) -> Reply {
        self.delete(&format!("/conversations/{group}/members/{user}"), &me.token)
            .await
    }

    pub async fn register(&self, username: &str) -> Session {
        let reply = self
            .call(
                "POST",
                "/auth/register",
                None,
                Some(json!({
                    "username": username,
                    "display_name": capitalize(username),
                    "password": format!("{username}-password"),
                })),
            )
            .await;
        assert_eq!(reply.status, 201, "register {username}: {:?}", reply.body);
        Session {
            token: reply.body["token"].as_str().expect("token").to_owned(),
            id: reply.body["user"]["id"].as_i64().expect("id"),
            username: username.to_owned(),
        }
    }

    /// Logs in with the password `register` chose.
    pub async fn login(&self, username: &str) -> Session {
        let reply = self
            .call(
                "POST",
                "/auth/login",
                None,
                Some(json!({ "username": username, "password": format!("{username}-password") })),
            )
            .await;
        assert_eq!(reply.status, 200, "login {username}: {:?}", reply.body);
        Session {
            token: reply.body["token"].as_str().expect("token").to_owned(),
            id: reply.body["user"]["id"].as_i64().expect("id"),
            username: username.to_owned(),
        }
    }

    pub async fn direct(&self, me: &Session, other: &Session) -> i64 {
        let reply = self
            .post(
                "/conversations/direct",
                &me.token,
                json!({ "user_id": other.id }),
            )
            .await;
        assert!(matches!(reply.status, 200 | 201), "{:?}", reply.body);
        reply.body["id"].as_i64().expect("conversation id")
    }

    pub async fn group(&self, me: &Session, name: &str, others: &[&Session]) -> i64 {
        let ids: Vec<i64> = others.iter().map(|s| s.id).collect();
        let reply = self
            .post(
                "/conversations",
                &me.token,
                json!({ "name": name, "member_ids": ids }),
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body["id"].as_i64().expect("conversation id")
    }

    pub async fn send(
        &self,
        me: &Session,
        conversation: i64,
        client_id: &str,
        body: &str,
    ) -> Reply {
        self.post(
            &format!("/conversations/{conversation}/messages"),
            &me.token,
            json!({ "client_id": client_id, "body": body }),
        )
        .await
    }

    /// Uploads `bytes` as a file named `name` of type `mime` to a conversation.
    pub async fn upload(
        &self,
        me: &Session,
        conversation: i64,
        name: &str,
        mime: &str,
        bytes: Vec<u8>,
    ) -> Reply {
        let req = self
            .http
            .post(format!("{}/conversations/{conversation}/files", self.base))
            .query(&[("name", name)])
            .header("content-type", mime)
            .bearer_auth(&me.token)
            .body(bytes);
        Self::reply(req.send().await.expect("request sent")).await
    }

    /// Sends a message carrying uploaded files.
    pub async fn send_files(
        &self,
        me: &Session,
        conversation: i64,
        client_id: &str,
        body: &str,
        files: &[i64],
    ) -> Reply {
        self.post(
            &format!("/conversations/{conversation}/messages"),
            &me.token,
            json!({ "client_id": client_id, "body": body, "attachments": files }),
        )
        .await
    }

    /// `GET` a file (or its thumbnail) as raw bytes, with extra request headers.
    pub async fn fetch(
        &self,
        token: Option<&str>,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut req = self.http.get(format!("{}{}", self.base, path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.expect("body").to_vec();
        (status, headers, body)
    }

    /// `POST /conversations/{id}/leave` as `me`.
    pub async fn leave(&self, me: &Session, conversation: i64) -> Reply {
        self.call(
            "POST",
            &format!("/conversations/{conversation}/leave"),
            Some(&me.token),
            None,
        )
        .await
    }

    /// My line of the conversation list for a conversation: its summary, with my unread
    /// and mention counts and my read position as I see it.
    pub async fn line(&self, me: &Session, conversation: i64) -> Value {
        let list = self.get("/conversations", &me.token).await;
        list.body
            .as_array()
            .expect("list")
            .iter()
            .find(|c| c["id"] == conversation)
            .cloned()
            .expect("listed")
    }

    /// My unread count for a conversation, from the conversation list.
    pub async fn unread(&self, me: &Session, conversation: i64) -> i64 {
        self.line(me, conversation).await["unread"]
            .as_i64()
            .expect("unread")
    }

    /// I have read a conversation up to message `seq` (over REST, written at once).
    pub async fn read_up_to(&self, me: &Session, conversation: i64, seq: i64) {
        let r = self
            .post(
                &format!("/conversations/{conversation}/receipts"),
                &me.token,
                json!({ "read_seq": seq }),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }

    /// A group admin adds `who` to the group.
    pub async fn add_member(&self, admin: &Session, group: i64, who: &Session) {
        let r = self
            .post(
                &format!("/conversations/{group}/members"),
                &admin.token,
                json!({"user_ids": [who.id]}),
            )
            .await;
        assert!(r.status < 300, "{:?}", r.body);
    }

    /// A group admin hides what was said before from the people added from now on.
    pub async fn hide_history(&self, admin: &Session, group: i64) {
        let r = self
            .patch(
                &format!("/conversations/{group}"),
                &admin.token,
                json!({"history_visible": false}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }

    pub async fn history(&self, me: &Session, conversation: i64) -> Vec<Value> {
        let reply = self
            .get(
                &format!("/conversations/{conversation}/messages?limit=200"),
                &me.token,
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.body["messages"].as_array().expect("messages").clone()
    }
}

impl Api {
    /// Every message of a conversation, oldest first, through as many history pages as it
    /// takes.
    pub async fn all_messages(&self, me: &Session, conversation: i64) -> Vec<Value> {
        let mut all = Vec::new();
        let mut before = None::<i64>;
        loop {
            let path = match before {
                Some(seq) => {
                    format!("/conversations/{conversation}/messages?limit=200&before={seq}")
                }
                None => format!("/conversations/{conversation}/messages?limit=200"),
            };
            let page = self.get(&path, &me.token).await;
            assert_eq!(page.status, 200, "{:?}", page.body);
            let messages = page.body["messages"].as_array().expect("messages").clone();
            before = messages.first().and_then(|m| m["seq"].as_i64());
            let more = page.body["has_more"] == true;
            all.splice(0..0, messages);
            if !more {
                return all;
            }
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A WebSocket client as a test drives it.
pub struct Ws {
    pub socket: Socket,
    /// The `ready` frame, once authenticated.
    pub ready: Value,
    /// The id of the last `event` frame seen.
    pub last_event_id: i64,
    /// Frames that came while a reply was awaited ([`Ws::say`], [`Ws::reply`]): later reads
    /// take them first, so an event the hub sent before the ack is not lost to the test.
    pub held: std::collections::VecDeque<Value>,
}

pub fn client_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4 * 1024)
}

/// Opens a WebSocket without authenticating.
pub async fn raw_socket(
    url: &str,
    origin: Option<&str>,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let mut request = url.into_client_request().expect("request");
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().expect("origin header"));
    }
    tokio_tungstenite::connect_async_with_config(request, Some(client_config()), true)
        .await
        .map(|(socket, _)| socket)
}

/// A TCP connection to `addr` from the loopback address `local`.
pub async fn connect_from(addr: SocketAddr, local: std::net::IpAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(local, 0))?;
    socket.connect(addr).await
}

impl Ws {
    /// Connects, authenticates and reads through `synced` (replayed events are kept in
    /// `replayed`).
    pub async fn connect(hub: &TestHub, session: &Session) -> Ws {
        Self::connect_resume(hub, session, None).await.0
    }

    pub async fn connect_resume(
        hub: &TestHub,
        session: &Session,
        resume_from: Option<i64>,
    ) -> (Ws, Vec<Value>) {
        Self::connect_url(&hub.ws_url(), session, resume_from).await
    }

    /// Like [`Ws::connect_resume`], to any server speaking the protocol (a joined node).
    pub async fn connect_url(
        url: &str,
        session: &Session,
        resume_from: Option<i64>,
    ) -> (Ws, Vec<Value>) {
        let socket = raw_socket(url, None).await.expect("connects");
        Self::start(socket, session, resume_from).await
    }

    /// Connects from the loopback address `local`, authenticates and reads through `synced`.
    pub async fn connect_from(hub: &TestHub, session: &Session, local: std::net::IpAddr) -> Ws {
        let stream = connect_from(hub.addr, local).await.expect("connects");
        let request = hub.ws_url().into_client_request().expect("request");
        let (socket, _) = tokio_tungstenite::client_async_with_config(
            request,
            MaybeTlsStream::Plain(stream),
            Some(client_config()),
        )
        .await
        .expect("upgrades");
        Self::start(socket, session, None).await.0
    }

    /// Authenticates on `socket` and reads through `synced`.
    async fn start(
        socket: Socket,
        session: &Session,
        resume_from: Option<i64>,
    ) -> (Ws, Vec<Value>) {
        let mut ws = Ws {
            socket,
            ready: Value::Null,
            last_event_id: 0,
            held: Default::default(),
        };
        let mut auth = json!({ "type": "auth", "token": session.token });
        if let Some(from) = resume_from {
            auth["resume_from"] = json!(from);
        }
        ws.send(auth).await;
        let ready = ws.next().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        ws.last_event_id = match resume_from {
            Some(from) => from,
            None => ready["last_event_id"].as_i64().expect("last_event_id"),
        };
        ws.ready = ready;
        let mut replayed = Vec::new();
        loop {
            let frame = ws.next().await;
            match frame["type"].as_str() {
                Some("synced") => break,
                Some("event") => replayed.push(frame),
                _ => {}
            }
        }
        (ws, replayed)
    }

    pub async fn send(&mut self, frame: Value) {
        self.socket
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("frame sent");
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::Text(text.into()))
            .await
            .expect("frame sent");
    }

    /// The next JSON frame (pings are answered by tungstenite itself).
    pub async fn next(&mut self) -> Value {
        match self.try_next(WAIT).await {
            Some(frame) => frame,
            None => panic!("no frame within {WAIT:?}"),
        }
    }

    pub async fn try_next(&mut self, wait: Duration) -> Option<Value> {
        if let Some(held) = self.held.pop_front() {
            return Some(held);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??;
            match message.ok()? {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).expect("hub sends JSON");
                    if value["type"] == "event" {
                        let id = value["id"].as_i64().expect("event id");
                        assert!(
                            id > self.last_event_id,
                            "event ids increase: {id} after {}",
                            self.last_event_id
                        );
                        self.last_event_id = id;
                    }
                    return Some(value);
                }
                Message::Close(frame) => {
                    return Some(json!({
                        "type": "__close",
                        "code": frame.as_ref().map(|f| u16::from(f.code)),
                        "reason": frame.as_ref().map(|f| f.reason.to_string()),
                    }));
                }
                _ => continue,
            }
        }
    }

    /// Skips frames until one matches; panics if none does within the wait.
    pub async fn expect(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.try_next(left).await {
                Some(frame) if pred(&frame) => return frame,
                Some(_) => continue,
                None => panic!("expected {what} within {WAIT:?}"),
            }
        }
    }

    /// The next event of this kind.
    pub async fn event(&mut self, kind: &str) -> Value {
        let frame = self
            .expect(kind, |f| f["type"] == "event" && f["event"]["kind"] == kind)
            .await;
        frame["event"].clone()
    }

    /// The next `message_new` event whose body is `body`.
    pub async fn message(&mut self, body: &str) -> Value {
        let frame = self
            .expect(body, |f| {
                f["event"]["kind"] == "message_new" && f["event"]["message"]["body"] == body
            })
            .await;
        frame["event"]["message"].clone()
    }

    /// The next frame of this type.
    pub async fn frame(&mut self, kind: &str) -> Value {
        self.expect(kind, |f| f["type"] == kind).await
    }

    /// Asserts that no frame matching `pred` arrives within [`QUIET`].
    pub async fn assert_none(&mut self, what: &str, pred: impl Fn(&Value) -> bool) {
        let deadline = tokio::time::Instant::now() + QUIET;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match self.try_next(left).await {
                Some(frame) if pred(&frame) => panic!("unexpected {what}: {frame}"),
                Some(_) => continue,
                None => return,
            }
        }
    }

    /// Keeps reading (and so answering pings) for `duration`; panics if the hub closes.
    pub async fn stay_connected(&mut self, duration: Duration) {
        let deadline = tokio::time::Instant::now() + duration;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            if let Some(frame) = self.try_next(left).await {
                assert_ne!(frame["type"], "__close", "closed unexpectedly: {frame}");
            }
        }
    }

    /// Waits for the close frame and returns its code.
    pub async fn closed(&mut self) -> u16 {
        let frame = self.frame("__close").await;
        frame["code"].as_u64().expect("close code") as u16
    }

    /// The next reply to a message operation: its `ack` or `error` (for pipelined sends).
    pub async fn reply(&mut self) -> Value {
        self.await_reply("an ack or error", |f| {
            f["type"] == "ack" || f["type"] == "error"
        })
        .await
    }

    /// Like [`Ws::expect`], but the frames read past on the way are kept for later reads:
    /// the hub may send an event (my own message, say) before the ack it belongs to.
    async fn await_reply(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.try_next(left).await {
                Some(frame) if pred(&frame) => {
                    let rest: Vec<Value> = self.held.drain(..).collect();
                    self.held.extend(skipped);
                    self.held.extend(rest);
                    return frame;
                }
                Some(frame) => skipped.push(frame),
                None => panic!("expected {what} within {WAIT:?}"),
            }
        }
    }

    /// Sends a message and returns its `ack`.
    pub async fn say(&mut self, conversation: i64, client_id: &str, body: &str) -> Value {
        self.send(json!({
            "type": "send", "ref": client_id, "conversation_id": conversation,
            "client_id": client_id, "body": body
        }))
        .await;
        let reference = client_id.to_owned();
        self.await_reply("ack", move |f| {
            (f["type"] == "ack" || f["type"] == "error") && f["ref"] == reference.as_str()
        })
        .await
    }
}

// ----- the real binary -----

/// The real `chinwag --server` binary on `127.0.0.1:0`, killed when dropped.
pub struct Binary {
    pub child: Child,
    pub addr: String,
}

impl Binary {
    pub fn start(data_dir: &std::path::Path) -> Binary {
        Self::start_with(data_dir, &[])
    }

    /// Starts it with extra command-line arguments.
    pub fn start_with(data_dir: &std::path::Path, args: &[&str]) -> Binary {
        let mut child = server_command(data_dir)
            .args(["--name", "Crash Test"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut addr = None;
        for line in lines.by_ref() {
            let line = line.expect("line");
            if let Some(url) = line.trim().strip_prefix("http://") {
                addr = Some(url.trim_end_matches('/').to_owned());
                break;
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Binary {
            child,
            addr: addr.expect("the binary prints its URL"),
        }
    }

    pub fn api(&self) -> Api {
        Api::new(self.addr.parse().expect("socket address"))
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/api/v1/ws", self.addr)
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    pub fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "the hub did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! Join mode: this node uses a hub elsewhere on the LAN.
//!
//! The node serves the same web UI on loopback and speaks the hub's protocol to it, so the UI
//! does not care whether it is hosting or joined: REST is forwarded to the hub ([`proxy`]),
//! and the WebSocket is served by the node from one link to the hub ([`relay`]). What the
//! node keeps in sled ([`store`]) lets a message typed while the hub is away survive until
//! it is delivered, and the user read recent history meanwhile. It also browses for hubs on
//! the LAN and remembers hubs joined before (`/api/v1/node/*`).

pub mod notify;
mod proxy;
mod relay;
pub mod store;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use chinwag_discovery::{Browser, DiscoveredHub, HubEvent};
use chinwag_proto::ApiError;
use chinwag_proto::{ErrorCode, HubInfo};
use chinwag_web::{constant_time_eq, same_origin};
use chinwag_web::{error_response, rejection_error};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use warp::http::{header, HeaderMap, Method};
use warp::reply::Response;
use warp::{Filter, Reply};

pub use relay::{Joined, LinkState, Live};
pub use store::NodeStore;

use crate::{bind, default_data_dir, prepare_data_dir, shutdown_signal, DEFAULT_PORT};

/// The port a joined node serves its UI on unless told otherwise.
pub const DEFAULT_LOCAL_PORT: u16 = 7118;

/// Largest request body the node forwards (the hub applies its own, smaller limit).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Where a hub is: `host:port`, as typed or discovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubAddress {
    host: String,
    port: u16,
}

impl HubAddress {
    /// Accepts `host`, `host:port`, `[v6]:port` or an `http://` URL of a hub. The port
    /// defaults to 7117.
    pub fn parse(raw: &str) -> Result<HubAddress, String> {
        let raw = raw.trim();
        let raw = raw
            .strip_prefix("http://")
            .or_else(|| raw.strip_prefix("ws://"))
            .unwrap_or(raw);
        let raw = raw.split('/').next().unwrap_or("");
        if raw.is_empty() {
            return Err("give the hub's address as HOST or HOST:PORT".into());
        }
        if let Ok(addr) = raw.parse::<SocketAddr>() {
            return Self::checked(addr.ip().to_string(), addr.port());
        }
        if let Ok(ip) = raw.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Self::checked(ip.to_string(), DEFAULT_PORT);
        }
        let (host, port) = match raw.rsplit_once(':') {
            Some((host, port)) => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| format!("\"{port}\" is not a port number"))?;
                (host, port)
            }
            None => (raw, DEFAULT_PORT),
        };
        let valid = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if !valid {
            return Err(format!("\"{host}\" is not a host name or IP address"));
        }
        Self::checked(host.to_ascii_lowercase(), port)
    }

    fn checked(host: String, port: u16) -> Result<HubAddress, String> {
        if port == 0 {
            return Err("the port must be between 1 and 65535".into());
        }
        Ok(HubAddress { host, port })
    }

    pub fn http_url(&self) -> String {
        format!("http://{self}")
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{self}/api/v1/ws")
    }

    /// A name safe to use as a directory: one local state per hub.
    fn dir_name(&self) -> String {
        let host: String = self
            .host
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{host}_{}", self.port)
    }
}

impl fmt::Display for HubAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Hubs seen on the LAN, with a version that moves on every change (for long polls).
#[derive(Clone, Default)]
pub struct Directory {
    hubs: Arc<Mutex<BTreeMap<String, DiscoveredHub>>>,
    version: Arc<watch::Sender<u64>>,
    /// Hub ids never listed (our own hub, when this node hosts one).
    ignore: Arc<Vec<String>>,
}

impl Directory {
    pub fn new(ignore: Vec<String>) -> Directory {
        Directory {
            ignore: Arc::new(ignore),
            ..Directory::default()
        }
    }

    pub fn apply(&self, event: HubEvent) {
        let mut hubs = self.hubs.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            HubEvent::Added(hub) | HubEvent::Updated(hub) => {
                if self.ignore.contains(&hub.id) {
                    return;
                }
                hubs.insert(hub.id.clone(), hub);
            }
            HubEvent::Removed(id) => {
                if hubs.remove(&id).is_none() {
                    return;
                }
            }
        }
        drop(hubs);
        self.version.send_modify(|v| *v += 1);
    }

    pub fn version(&self) -> u64 {
        *self.version.borrow()
    }

    pub fn list(&self) -> Vec<DiscoveredHub> {
        let hubs = self.hubs.lock().unwrap_or_else(|p| p.into_inner());
        let mut list: Vec<DiscoveredHub> = hubs.values().cloned().collect();
        list.sort_by_key(|h| h.name.to_lowercase());
        list
    }

    /// Waits (at most `wait`) for the version to move past `since`.
    pub async fn changed_since(&self, since: u64, wait: Duration) {
        let mut rx = self.version.subscribe();
        let _ = tokio::time::timeout(wait, rx.wait_for(|v| *v != since)).await;
    }

    /// Browses until the returned task is aborted.
    pub fn browse(&self, browser: Browser) -> tokio::task::JoinHandle<()> {
        let directory = self.clone();
        let mut browser = browser;
        tokio::spawn(async move {
            while let Some(event) = browser.next().await {
                directory.apply(event);
            }
        })
    }
}

fn hub_json(hub: &DiscoveredHub) -> serde_json::Value {
    let best = hub.addresses.first().map(|ip| match ip {
        IpAddr::V6(_) => format!("[{ip}]:{}", hub.port),
        IpAddr::V4(_) => format!("{ip}:{}", hub.port),
    });
    json!({
        "id": hub.id,
        "name": hub.name,
        "address": best,
        "addresses": hub.addresses,
        "port": hub.port,
        "host": hub.host,
        "protocol": hub.protocol,
        "version": hub.version,
    })
}

/// Checks that a hub answers at `address` and is a Chinwag hub this build can speak to.
pub async fn verify(client: &reqwest::Client, address: &HubAddress) -> Result<HubInfo, ApiError> {
    let unreachable = || {
        ApiError::new(
            ErrorCode::Unavailable,
            format!("Nothing answers at {address}. Is the hub running, and on this network?"),
        )
    };
    let answer = client
        .get(format!("{}/api/v1/hub", address.http_url()))
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .map_err(|_| unreachable())?;
    if !answer.status().is_success() {
        return Err(unreachable());
    }
    let info: HubInfo = answer.json().await.map_err(|_| {
        ApiError::new(
            ErrorCode::Unavailable,
            format!("{address} answers, but it is not a Chinwag hub."),
        )
    })?;
    if info.protocol != chinwag_proto::PROTOCOL_VERSION {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            format!(
                "{} speaks protocol {}; this app speaks {}. Update the older one.",
                info.name,
                info.protocol,
                chinwag_proto::PROTOCOL_VERSION
            ),
        ));
    }
    Ok(info)
}

/// Refuses requests whose `Host` is not this node on loopback (DNS rebinding: a web page
/// must not reach the local node under its own name).
fn host_allowed(headers: &HeaderMap, local: SocketAddr) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_matches(['[', ']']);
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip == local.ip())
}

/// What the desktop start screen chose.
#[derive(Debug, Clone, serde::Deserialize, PartialEq, Eq)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum Choice {
    /// Start a hub on this computer and use it.
    Host {
        #[serde(default)]
        name: Option<String>,
    },
    /// Use the hub at this address.
    Join { address: String },
}

/// Carries out a [`Choice`] (the desktop app starts a hub, or checks the address) and
/// returns the joined node to use.
pub type Chooser = Arc<
    dyn Fn(Choice) -> std::pin::Pin<Box<dyn Future<Output = Result<Arc<Joined>, ApiError>> + Send>>
        + Send
        + Sync,
>;

/// The node's HTTP side: which hub it is joined to (none yet on the desktop start screen),
/// what it discovered, and how it is guarded.
pub struct NodeApi {
    slot: watch::Sender<Option<Arc<Joined>>>,
    directory: Directory,
    /// When set, every request must carry the cookie `chinwag_launch=SECRET`, obtained by
    /// opening `/?launch=SECRET` (the desktop window does; nobody else knows it).
    secret: Option<String>,
    chooser: Option<Chooser>,
    /// The desktop user asked to switch hubs: the start screen shows until they choose or
    /// go back; the current hub keeps working meanwhile.
    switching: std::sync::atomic::AtomicBool,
    /// What the page says it shows (`POST /api/v1/node/view`). Notifications skip what the
    /// user is looking at; the tray shows the unread count.
    view: watch::Sender<View>,
}

/// What the desktop page shows: the open conversation, whether its window has focus, and
/// how many messages are unread in all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct View {
    pub conversation_id: Option<i64>,
    pub focused: bool,
    #[serde(default)]
    pub unread: u32,
}

const LAUNCH_COOKIE: &str = "chinwag_launch";

impl NodeApi {
    fn new(
        joined: Option<Arc<Joined>>,
        directory: Directory,
        secret: Option<String>,
        chooser: Option<Chooser>,
    ) -> Arc<NodeApi> {
        Arc::new(NodeApi {
            slot: watch::channel(joined).0,
            directory,
            secret,
            chooser,
            switching: std::sync::atomic::AtomicBool::new(false),
            view: watch::channel(View::default()).0,
        })
    }

    /// A node joined to one hub (`chinwag --join`).
    pub fn joined(joined: Arc<Joined>, directory: Directory) -> Arc<NodeApi> {
        NodeApi::new(Some(joined), directory, None, None)
    }

    /// The desktop app's node: guarded by a per-launch secret, starting on the start screen
    /// unless `joined` is given (the choice remembered from last time).
    pub fn desktop(
        joined: Option<Arc<Joined>>,
        directory: Directory,
        secret: String,
        chooser: Chooser,
    ) -> Arc<NodeApi> {
        NodeApi::new(joined, directory, Some(secret), Some(chooser))
    }

    /// The hub this node uses, once chosen.
    pub fn current(&self) -> Option<Arc<Joined>> {
        self.slot.borrow().clone()
    }

    /// Sees the hub this node uses change (the desktop notifier follows it).
    pub fn watch_current(&self) -> watch::Receiver<Option<Arc<Joined>>> {
        self.slot.subscribe()
    }

    /// What the page shows.
    pub fn view(&self) -> View {
        *self.view.borrow()
    }

    /// Sees every change of what the page shows (the tray's unread count follows it).
    pub fn watch_view(&self) -> watch::Receiver<View> {
        self.view.subscribe()
    }

    /// Shows the start screen again (the desktop's "Switch hub" menu) or goes back.
    pub fn set_switching(&self, switching: bool) {
        self.switching
            .store(switching, std::sync::atomic::Ordering::Relaxed);
    }

    fn is_switching(&self) -> bool {
        self.switching.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the page should show the start screen.
    fn choosing(&self) -> bool {
        self.chooser.is_some() && (self.current().is_none() || self.is_switching())
    }

    fn set_current(&self, joined: Arc<Joined>) -> Option<Arc<Joined>> {
        self.slot.send_replace(Some(joined))
    }

    fn launch_ok(&self, headers: &HeaderMap) -> bool {
        let Some(secret) = &self.secret else {
            return true;
        };
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .any(|(name, value)| {
                name == LAUNCH_COOKIE && constant_time_eq(value.as_bytes(), secret.as_bytes())
            })
    }

    async fn handle(
        &self,
        rest: &str,
        method: &Method,
        headers: &HeaderMap,
        query: &str,
        body: &Bytes,
    ) -> Response {
        match (method, rest) {
            (&Method::POST, "choose") => self.choose(body).await,
            (&Method::POST, "view") => match serde_json::from_slice::<View>(body) {
                Ok(view) => {
                    self.view
                        .send_if_modified(|old| std::mem::replace(old, view) != view);
                    warp::http::StatusCode::NO_CONTENT.into_response()
                }
                Err(err) => error_response(&ApiError::from_json(&err)),
            },
            (&Method::POST, "switch") if self.chooser.is_some() => {
                #[derive(serde::Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Switch {
                    switching: bool,
                }
                match serde_json::from_slice::<Switch>(body) {
                    Ok(Switch { switching }) => {
                        self.set_switching(switching && self.current().is_some());
                        warp::http::StatusCode::NO_CONTENT.into_response()
                    }
                    Err(err) => error_response(&ApiError::from_json(&err)),
                }
            }
            (&Method::GET | &Method::PATCH, "notifications") if self.chooser.is_some() => {
                let Some(joined) = self.current() else {
                    return error_response(&not_chosen());
                };
                if !joined.carries_session(headers) {
                    return error_response(&ApiError::new(
                        ErrorCode::Unauthorized,
                        "Sign in to change your notifications.",
                    ));
                }
                if method == Method::GET {
                    return warp::reply::json(&joined.notify_settings()).into_response();
                }
                let change: notify::NotifyChange = match serde_json::from_slice(body) {
                    Ok(c) => c,
                    Err(err) => return error_response(&ApiError::from_json(&err)),
                };
                match joined.change_notify_settings(change) {
                    Ok(settings) => warp::reply::json(&settings).into_response(),
                    Err(err) => error_response(&err),
                }
            }
            (&Method::GET, "") => {
                let desktop = self.chooser.is_some();
                let Some(joined) = self.current() else {
                    return warp::reply::json(&json!({"mode": "choosing", "desktop": desktop}))
                        .into_response();
                };
                let authorized = joined.carries_session(headers);
                let (state, retry_in_ms) = match joined.link_state() {
                    LinkState::Online => ("online", None),
                    LinkState::Offline { retry_in_ms } => ("offline", retry_in_ms),
                    LinkState::SignedOut => ("signed_out", None),
                };
                let info = joined.store.hub_info();
                let mut out = json!({
                    "mode": "joined",
                    "hub": {
                        "address": joined.hub.to_string(),
                        "id": info.as_ref().map(|i| i.id.clone()),
                        "name": info.as_ref().map(|i| i.name.clone()),
                    },
                    "link": {"state": state, "retry_in_ms": retry_in_ms},
                    "desktop": desktop,
                    "switching": self.choosing(),
                });
                if desktop {
                    out["view"] = json!(self.view());
                }
                if authorized {
                    out["pending"] = json!(joined.pending());
                }
                warp::reply::json(&out).into_response()
            }
            (&Method::GET, "hubs") => {
                let since = query
                    .split('&')
                    .find_map(|p| p.strip_prefix("since="))
                    .and_then(|v| v.parse::<u64>().ok());
                if let Some(since) = since {
                    self.directory
                        .changed_since(since, Duration::from_secs(25))
                        .await;
                }
                let discovered: Vec<serde_json::Value> =
                    self.directory.list().iter().map(hub_json).collect();
                warp::reply::json(&json!({
                    "version": self.directory.version(),
                    "discovered": discovered,
                    "saved": self.current().map(|j| j.store.saved_hubs()).unwrap_or_default(),
                }))
                .into_response()
            }
            (&Method::POST, "verify") => {
                #[derive(serde::Deserialize)]
                #[serde(deny_unknown_fields)]
                struct VerifyRequest {
                    address: String,
                }
                let request: VerifyRequest = match serde_json::from_slice(body) {
                    Ok(r) => r,
                    Err(err) => return error_response(&ApiError::from_json(&err)),
                };
                let address = match HubAddress::parse(&request.address) {
                    Ok(a) => a,
                    Err(why) => {
                        return error_response(&ApiError::new(
                            ErrorCode::InvalidField,
                            format!("address: {why}."),
                        ))
                    }
                };
                match verify(&reqwest::Client::new(), &address).await {
                    Ok(info) => warp::reply::json(&json!({
                        "address": address.to_string(),
                        "hub": info,
                    }))
                    .into_response(),
                    Err(err) => error_response(&err),
                }
            }
            // Known paths (the desktop's own only on the desktop), wrong method.
            _ if matches!(rest, "" | "hubs" | "verify" | "choose" | "view")
                || (self.chooser.is_some() && matches!(rest, "switch" | "notifications")) =>
            {
                let mut response = error_response(&ApiError::new(
                    ErrorCode::MethodNotAllowed,
                    "That method is not allowed here.",
                ));
                let allow = match rest {
                    "verify" | "choose" | "view" | "switch" => "POST",
                    "notifications" => "GET, PATCH",
                    _ => "GET",
                };
                response
                    .headers_mut()
                    .insert(header::ALLOW, warp::http::HeaderValue::from_static(allow));
                response
            }
            _ => error_response(&ApiError::new(
                ErrorCode::NotFound,
                "There is nothing at this address.",
            )),
        }
    }
}

impl NodeApi {
    /// The start screen's choice: only on the desktop, and only once per launch.
    async fn choose(&self, body: &Bytes) -> Response {
        let Some(chooser) = &self.chooser else {
            return error_response(&ApiError::new(
                ErrorCode::NotFound,
                "There is nothing at this address.",
            ));
        };
        let choice: Choice = match serde_json::from_slice(body) {
            Ok(c) => c,
            Err(err) => return error_response(&ApiError::from_json(&err)),
        };
        if !self.choosing() {
            return error_response(&ApiError::new(
                ErrorCode::Forbidden,
                "This app already uses a hub; switch hubs from the menu.",
            ));
        }
        // Back to the hub in use (from "Switch hub"): keep its state as it is.
        if let (Choice::Join { address }, Some(current)) = (&choice, self.current()) {
            if HubAddress::parse(address).is_ok_and(|a| a == current.hub) {
                self.set_switching(false);
                return warp::reply::json(&json!({"mode": "joined", "hub": {"address": address}}))
                    .into_response();
            }
        }
        match chooser(choice).await {
            Ok(joined) => {
                let address = joined.hub.to_string();
                self.set_switching(false);
                if let Some(old) = self.set_current(joined.clone()) {
                    if !Arc::ptr_eq(&old, &joined) {
                        Joined::close(old).await;
                    }
                }
                warp::reply::json(&json!({"mode": "joined", "hub": {"address": address}}))
                    .into_response()
            }
            Err(err) => error_response(&err),
        }
    }
}

async fn api(
    node: Arc<NodeApi>,
    path: String,
    method: Method,
    headers: HeaderMap,
    query: String,
    body: Bytes,
) -> Response {
    if let Some(rest) = node_path(&path) {
        let rest = rest.to_owned();
        return node.handle(&rest, &method, &headers, &query, &body).await;
    }
    match node.current() {
        Some(joined) => proxy::forward(joined, path, method, headers, query, body).await,
        None => error_response(&not_chosen()),
    }
}

fn not_chosen() -> ApiError {
    ApiError {
        code: ErrorCode::Unavailable,
        message: "Choose a hub to join, or host one, first.".into(),
        retry_after_ms: Some(1000),
    }
}

/// `node` and `node/...` are the node's own; everything else goes to the hub.
fn node_path(path: &str) -> Option<&str> {
    match path.strip_prefix("node")? {
        "" => Some(""),
        rest => rest.strip_prefix('/'),
    }
}

/// Serves the joined node's UI, REST and WebSocket on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    joined: Arc<Joined>,
    directory: Directory,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    serve_node(listener, NodeApi::joined(joined, directory), shutdown).await;
}

/// Serves a node (joined, or on the desktop possibly still choosing) until `shutdown`, then
/// closes its link.
pub async fn serve_node(
    listener: TcpListener,
    node: Arc<NodeApi>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let local = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    warp::serve(routes(node.clone(), local))
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
    if let Some(joined) = node.current() {
        Joined::close(joined).await;
    }
}

fn routes(
    node: Arc<NodeApi>,
    local: SocketAddr,
) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone {
    let with_node = warp::any().map(move || node.clone());
    // `/?launch=SECRET` hands the window its cookie; everything else needs it.
    let launch = warp::get()
        .and(warp::path::end())
        .and(warp::query::raw())
        .and(with_node.clone())
        .and_then(|query: String, node: Arc<NodeApi>| async move {
            let given = query
                .split('&')
                .find_map(|p| p.strip_prefix("launch="))
                .unwrap_or("");
            match &node.secret {
                Some(secret) if constant_time_eq(given.as_bytes(), secret.as_bytes()) => {
                    let cookie =
                        format!("{LAUNCH_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict");
                    let mut response =
                        warp::http::Response::new(warp::hyper::body::Bytes::new().into());
                    *response.status_mut() = warp::http::StatusCode::SEE_OTHER;
                    response
                        .headers_mut()
                        .insert(header::LOCATION, warp::http::HeaderValue::from_static("/"));
                    if let Ok(value) = warp::http::HeaderValue::from_str(&cookie) {
                        response.headers_mut().insert(header::SET_COOKIE, value);
                    }
                    Ok::<Response, warp::Rejection>(response)
                }
                _ => Err(warp::reject::not_found()),
            }
        });
    let gate = warp::header::headers_cloned()
        .and(with_node.clone())
        .and_then(move |headers: HeaderMap, node: Arc<NodeApi>| async move {
            if !host_allowed(&headers, local) {
                Err(warp::reject::custom(BadHost))
            } else if !node.launch_ok(&headers) {
                Err(warp::reject::custom(NoLaunchCookie))
            } else {
                Ok(())
            }
        })
        .untuple_one();

    let ws_route = warp::path!("api" / "v1" / "ws")
        .and(warp::ws())
        .and(warp::header::headers_cloned())
        .and(with_node.clone())
        .map(|ws: warp::ws::Ws, headers: HeaderMap, node: Arc<NodeApi>| {
            if !same_origin(&headers) {
                return error_response(&ApiError::new(
                    ErrorCode::BadOrigin,
                    "WebSocket connections are only accepted from this app's own page.",
                ));
            }
            let Some(joined) = node.current() else {
                return error_response(&not_chosen());
            };
            let max = joined
                .store
                .hub_info()
                .map(|h| h.limits.max_frame_bytes)
                .unwrap_or(64 * 1024);
            ws.max_message_size(max)
                .max_frame_size(max)
                .on_upgrade(move |socket| joined.ui_socket(socket))
                .into_response()
        });
    let api_route = warp::path("api")
        .and(warp::path("v1"))
        .and(warp::path::tail())
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::body::stream())
        .and(with_node.clone())
        .then(
            |tail: warp::path::Tail,
             method: Method,
             headers: HeaderMap,
             query: String,
             body,
             node: Arc<NodeApi>| async move {
                let path = tail.as_str();
                if proxy::is_file_transfer(path) {
                    return match node.current() {
                        Some(joined) => {
                            proxy::forward_file(joined, path, method, &headers, &query, body).await
                        }
                        None => error_response(&not_chosen()),
                    };
                }
                let body = match chinwag_web::read_body(body, MAX_BODY_BYTES).await {
                    Ok(body) => body,
                    Err(err) => return error_response(&err),
                };
                api(node, tail.as_str().to_owned(), method, headers, query, body).await
            },
        );
    let ui = warp::get()
        .and(warp::path::tail())
        .and(warp::header::headers_cloned())
        .and(with_node)
        .map(
            |tail: warp::path::Tail, headers: HeaderMap, node: Arc<NodeApi>| {
                // Until a hub is chosen, the app's page is the start screen.
                let path = match tail.as_str() {
                    "" | "index.html" if node.choosing() => "start.html",
                    other => other,
                };
                chinwag_web::assets::serve(path, &headers)
            },
        );
    launch
        .or(gate.and(ws_route.or(api_route).unify().or(ui).unify()))
        .unify()
        .recover(recover)
        .unify()
}

#[derive(Debug)]
struct BadHost;
impl warp::reject::Reject for BadHost {}

#[derive(Debug)]
struct NoLaunchCookie;
impl warp::reject::Reject for NoLaunchCookie {}

async fn recover(rejection: warp::Rejection) -> Result<Response, std::convert::Infallible> {
    let err = if rejection.find::<NoLaunchCookie>().is_some() {
        ApiError::new(
            ErrorCode::Forbidden,
            "This is the Chinwag app's private address; open Chinwag itself.",
        )
    } else if rejection.find::<BadHost>().is_some() {
        ApiError::new(
            ErrorCode::Forbidden,
            "This app answers only under its loopback address.",
        )
    } else {
        rejection_error(&rejection)
    };
    Ok(error_response(&err))
}

/// How `chinwag --join` runs.
#[derive(Debug, Clone)]
pub struct JoinOptions {
    pub hub: String,
    /// Where the local UI is served (loopback).
    pub bind: SocketAddr,
    pub data_dir: Option<PathBuf>,
    /// Browse for hubs on the LAN (listed at `/api/v1/node/hubs`).
    pub browse: bool,
    /// Browse on loopback too (one-machine setups and tests in a network namespace).
    pub browse_loopback: bool,
}

impl Default for JoinOptions {
    fn default() -> Self {
        JoinOptions {
            hub: String::new(),
            bind: SocketAddr::from(([127, 0, 0, 1], DEFAULT_LOCAL_PORT)),
            data_dir: None,
            browse: true,
            browse_loopback: false,
        }
    }
}

/// Opens the node's local state for `hub` under `data_dir`.
pub fn open_store(data_dir: &std::path::Path, hub: &HubAddress) -> Result<NodeStore> {
    let dir = data_dir.join("joined").join(hub.dir_name());
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    NodeStore::open(&dir).map_err(|err| {
        anyhow!(
            "cannot open the local state in {} ({err}); is another Chinwag using it?",
            dir.display()
        )
    })
}

/// Runs a node joined to a hub until SIGINT or SIGTERM.
pub async fn run_join(options: JoinOptions) -> Result<()> {
    let hub = HubAddress::parse(&options.hub).map_err(|why| anyhow!("--join: {why}"))?;
    let data_dir = match options.data_dir {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    prepare_data_dir(&data_dir)?;
    let store = open_store(&data_dir, &hub)?;
    let listener = bind(options.bind).await?;
    let addr = listener.local_addr()?;
    let directory = Directory::new(Vec::new());
    let browsing = if options.browse {
        match Browser::start(chinwag_discovery::Options {
            include_loopback: options.browse_loopback,
        }) {
            Ok(browser) => Some(directory.browse(browser)),
            Err(err) => {
                tracing::warn!("cannot browse for hubs on the LAN: {err}");
                None
            }
        }
    } else {
        None
    };
    let joined = Joined::open(store, hub.clone()).await;
    match verify(&joined.http, &hub).await {
        Ok(info) => println!("Joining \"{}\" at {hub}.", info.name),
        Err(err) => println!(
            "{} Working offline; messages you send are kept until it is back.",
            err.message
        ),
    }
    println!("Chinwag is running. Open http://{addr}/");
    serve(listener, joined, directory, shutdown_signal()).await;
    if let Some(task) = browsing {
        task.abort();
    }
    println!("Chinwag stopped.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_addresses_parse_as_people_type_them() {
        let ok = |raw: &str| HubAddress::parse(raw).map(|a| a.to_string());
        assert_eq!(ok("office-pc").as_deref(), Ok("office-pc:7117"));
        assert_eq!(ok(" 10.0.0.5:8000 ").as_deref(), Ok("10.0.0.5:8000"));
        assert_eq!(
            ok("http://Hub.local:7117/").as_deref(),
            Ok("hub.local:7117")
        );
        assert_eq!(ok("[fe80::1]:9000").as_deref(), Ok("[fe80::1]:9000"));
        assert_eq!(ok("::1").as_deref(), Ok("[::1]:7117"));
        assert!(HubAddress::parse("").is_err());
        assert!(HubAddress::parse("host:99999").is_err());
        assert!(HubAddress::parse("host:0").is_err());
        assert!(HubAddress::parse("bad host!:80").is_err());
        assert!(HubAddress::parse("a:b:c").is_err());
    }

    #[test]
    fn only_loopback_hosts_reach_the_node() {
        let local: SocketAddr = "127.0.0.1:7118".parse().expect("addr");
        let with = |host: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, host.parse().expect("value"));
            host_allowed(&h, local)
        };
        assert!(with("127.0.0.1:7118"));
        assert!(with("localhost:7118"));
        assert!(with("[::1]:7118"));
        assert!(!with("evil.example:7118"));
        assert!(!with("192.168.1.9:7118"));
        assert!(!host_allowed(&HeaderMap::new(), local));
    }
}

//! The node's own endpoints, `/api/v1/node/…`, and the state behind them: which hub the node
//! uses (none yet on the desktop start screen), what the desktop window shows, and the hubs
//! it heard of. The routes are a [`Table`] like the hub's, one line each; everything else
//! under `/api/v1` is forwarded to the hub (`proxy.rs`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chinwag_proto::node::{
    HubList, NodeHub, NodeMode, NodeState, SwitchRequest, Verified, VerifyRequest,
};
use chinwag_proto::{ApiError, ErrorCode};
use chinwag_web::table::{Miss, Table};
use chinwag_web::{constant_time_eq, error_response};
use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use warp::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use warp::reply::Response;
use warp::Reply;

use super::{directory, notify, proxy, verify, Directory, HubAddress, Joined};

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
    pub(super) secret: Option<String>,
    chooser: Option<Chooser>,
    /// The desktop user asked to switch hubs: the start screen shows until they choose or
    /// go back; the current hub keeps working meanwhile.
    switching: std::sync::atomic::AtomicBool,
    /// What the page says it shows (`POST /api/v1/node/view`). Notifications skip what the
    /// user is looking at; the tray shows the unread count.
    view: watch::Sender<View>,
    /// `/api/v1/node/…`: the desktop's node has two more endpoints.
    routes: Table<Handler>,
}

pub use chinwag_proto::node::View;

pub(super) const LAUNCH_COOKIE: &str = "chinwag_launch";

impl NodeApi {
    fn new(
        joined: Option<Arc<Joined>>,
        directory: Directory,
        secret: Option<String>,
        chooser: Option<Chooser>,
    ) -> Arc<NodeApi> {
        let desktop = chooser.is_some();
        Arc::new(NodeApi {
            slot: watch::channel(joined).0,
            directory,
            secret,
            chooser,
            switching: std::sync::atomic::AtomicBool::new(false),
            view: watch::channel(View::default()).0,
            routes: routes(desktop),
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
    pub(super) fn choosing(&self) -> bool {
        self.chooser.is_some() && (self.current().is_none() || self.is_switching())
    }

    fn set_current(&self, joined: Arc<Joined>) -> Option<Arc<Joined>> {
        self.slot.send_replace(Some(joined))
    }

    pub(super) fn launch_ok(&self, headers: &HeaderMap) -> bool {
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
}

pub(super) async fn api(
    node: Arc<NodeApi>,
    path: String,
    method: Method,
    headers: HeaderMap,
    query: String,
    body: Bytes,
) -> Response {
    if let Some(rest) = node_path(&path) {
        let rest = rest.to_owned();
        return node.handle(&rest, method, headers, query, body).await;
    }
    match node.current() {
        Some(joined) => proxy::forward(joined, path, method, headers, query, body).await,
        None => error_response(&not_chosen()),
    }
}

pub(super) fn not_chosen() -> ApiError {
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

/// A request to the node's own endpoints.
struct NodeRequest {
    headers: HeaderMap,
    query: String,
    body: Bytes,
}

impl NodeRequest {
    fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| ApiError::from_json(&e))
    }
}

type NodeResult = Result<Response, ApiError>;
type Handler =
    Box<dyn Fn(Arc<NodeApi>, NodeRequest) -> BoxFuture<'static, NodeResult> + Send + Sync>;

fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Arc<NodeApi>, NodeRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = NodeResult> + Send + 'static,
{
    Box::new(move |node, req| Box::pin(f(node, req)))
}

/// The node's endpoints; `desktop` adds the desktop app's own.
#[rustfmt::skip] // one line per endpoint
fn routes(desktop: bool) -> Table<Handler> {
    use Method as M;
    let table = Table::default()
        .add(M::GET, "", handler(state))
        .add(M::GET, "hubs", handler(hubs))
        .add(M::POST, "verify", handler(verify_address))
        .add(M::POST, "choose", handler(choose))
        .add(M::POST, "view", handler(set_view));
    if !desktop {
        return table;
    }
    table
        .add(M::POST, "switch", handler(switch))
        .add(M::GET, "notifications", handler(notifications))
        .add(M::PATCH, "notifications", handler(change_notifications))
}

impl NodeApi {
    /// Answers `/api/v1/node/{rest}`.
    async fn handle(
        self: Arc<Self>,
        rest: &str,
        method: Method,
        headers: HeaderMap,
        query: String,
        body: Bytes,
    ) -> Response {
        let found = self
            .routes
            .find(&method, rest)
            .map(|(route, _)| &route.handler);
        if found.is_ok() && method != Method::GET && !chinwag_web::is_json(&headers) {
            // As on the hub: a page of another site can post text or a form here without
            // asking, but not JSON (that needs a CORS preflight, never granted), so no page
            // can make the node choose a hub or probe an address for it.
            return error_response(&ApiError::bad_request(
                "Send the body as JSON with `Content-Type: application/json`.",
            ));
        }
        let reply = match found {
            Ok(handler) => handler(
                self.clone(),
                NodeRequest {
                    headers,
                    query,
                    body,
                },
            ),
            Err(Miss::Method { allow }) => {
                let mut response = error_response(&ApiError::new(
                    ErrorCode::MethodNotAllowed,
                    "That method is not allowed here.",
                ));
                if let Ok(value) = HeaderValue::from_str(&allow) {
                    response.headers_mut().insert(header::ALLOW, value);
                }
                return response;
            }
            Err(Miss::NotFound | Miss::BadId(_)) => return error_response(&nothing_here()),
        };
        reply.await.unwrap_or_else(|err| error_response(&err))
    }
}

fn nothing_here() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "There is nothing at this address.")
}

fn json<T: serde::Serialize>(value: &T) -> NodeResult {
    Ok(warp::reply::json(value).into_response())
}

fn no_content() -> NodeResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/node`: what the node is doing (choosing, or joined: to which hub, and
/// whether it reaches it); the outbox only to the signed-in user.
async fn state(node: Arc<NodeApi>, req: NodeRequest) -> NodeResult {
    let desktop = node.chooser.is_some();
    let Some(joined) = node.current() else {
        return json(&NodeState {
            desktop: Some(desktop),
            ..NodeState::bare(NodeMode::Choosing)
        });
    };
    let info = joined.store.hub_info();
    json(&NodeState {
        mode: NodeMode::Joined,
        hub: Some(NodeHub {
            address: joined.hub.to_string(),
            id: info.as_ref().map(|i| i.id.clone()),
            name: info.as_ref().map(|i| i.name.clone()),
        }),
        link: Some(joined.link_state()),
        desktop: Some(desktop),
        switching: Some(node.choosing()),
        view: desktop.then(|| node.view()),
        pending: joined
            .carries_session(&req.headers)
            .then(|| joined.pending()),
    })
}

/// `GET /api/v1/node/hubs[?since=VERSION]`: hubs heard on the LAN and joined before; with
/// `since`, waits (up to 25 s) for the list to change.
async fn hubs(node: Arc<NodeApi>, req: NodeRequest) -> NodeResult {
    let since = req
        .query
        .split('&')
        .find_map(|p| p.strip_prefix("since="))
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(since) = since {
        node.directory
            .changed_since(since, Duration::from_secs(25))
            .await;
    }
    json(&HubList {
        version: node.directory.version(),
        discovered: node.directory.list().iter().map(directory::entry).collect(),
        saved: node
            .current()
            .map(|j| j.store.saved_hubs())
            .unwrap_or_default(),
    })
}

/// `POST /api/v1/node/verify`: whether a Chinwag hub this app can speak to answers at an
/// address.
async fn verify_address(_node: Arc<NodeApi>, req: NodeRequest) -> NodeResult {
    let request: VerifyRequest = req.json()?;
    let address = HubAddress::parse(&request.address)
        .map_err(|why| ApiError::invalid(format!("address: {why}.")))?;
    let hub = verify(&reqwest::Client::new(), &address).await?;
    json(&Verified {
        address: address.to_string(),
        hub,
    })
}

/// `POST /api/v1/node/choose`: the start screen's choice, only on the desktop, and only while
/// it shows.
async fn choose(node: Arc<NodeApi>, req: NodeRequest) -> NodeResult {
    let Some(chooser) = &node.chooser else {
        return Err(nothing_here());
    };
    let choice: Choice = req.json()?;
    if !node.choosing() {
        return Err(ApiError::forbidden(
            "This app already uses a hub; switch hubs from the menu.",
        ));
    }
    let joined_to = |address: String| NodeState {
        hub: Some(NodeHub {
            address,
            id: None,
            name: None,
        }),
        ..NodeState::bare(NodeMode::Joined)
    };
    // Back to the hub in use (from "Switch hub"): keep its state as it is.
    if let (Choice::Join { address }, Some(current)) = (&choice, node.current()) {
        if HubAddress::parse(address).is_ok_and(|a| a == current.hub) {
            node.set_switching(false);
            return json(&joined_to(address.clone()));
        }
    }
    let joined = chooser(choice).await?;
    let address = joined.hub.to_string();
    node.set_switching(false);
    if let Some(old) = node.set_current(joined.clone()) {
        if !Arc::ptr_eq(&old, &joined) {
            Joined::close(old).await;
        }
    }
    json(&joined_to(address))
}

/// `POST /api/v1/node/view`: what the page shows (notifications skip it; the tray counts
/// its unread).
async fn set_view(node: Arc<NodeApi>, req: NodeRequest) -> NodeResult {
    let view: View = req.json()?;
    node.view
        .send_if_modified(|old| std::mem::replace(old, view) != view);
    no_content()
}

/// `POST /api/v1/node/switch` (desktop): shows the start screen to pick another hub, or
/// goes back.
async fn switch(node: Arc<NodeApi>, req: NodeRequest) -> NodeResult {
    let SwitchRequest { switching } = req.json()?;
    node.set_switching(switching && node.current().is_some());
    no_content()
}

/// The node in use, for a request carrying its user's session.
fn signed_in(node: &NodeApi, req: &NodeRequest) -> Result<Arc<Joined>, ApiError> {
    let joined = node.current().ok_or_else(not_chosen)?;
    if !joined.carries_session(&req.headers) {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "Sign in to change your notifications.",
        ));
    }
    Ok(joined)
}

/// `GET /api/v1/node/notifications` (desktop): my notification settings.
async fn notifications(node: Arc<NodeApi>, req: NodeRequest) -> NodeResult {
    json(&signed_in(&node, &req)?.notify_settings())
}

/// `PATCH /api/v1/node/notifications` (desktop): changes them.
async fn change_notifications(node: Arc<NodeApi>, req: NodeRequest) -> NodeResult {
    let joined = signed_in(&node, &req)?;
    let change: notify::NotifyChange = req.json()?;
    json(&joined.change_notify_settings(change)?)
}

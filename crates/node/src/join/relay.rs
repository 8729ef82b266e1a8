//! The joined node's core: one link to the hub for the signed-in user, and the local
//! WebSocket that the UI speaks the hub's protocol to.
//!
//! Events from the link are logged (sled) and then broadcast to every local connection; a
//! local connection resumes from the log exactly as it would from the hub. `send` frames go
//! to the link's durable outbox under the UI's own `client_id`, so a message typed while the
//! hub is away is kept on disk and delivered once when it is back; its `ack` is routed to the
//! connection that sent it. Other frames are relayed with a `ref` of the node's own and the
//! reply routed back. Node-only frame: `{"type":"link","state":"online"|"offline",...}`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chinwag_link::{Link, LinkConfig, LinkEvent, Pending};
use chinwag_proto::{
    event_frame, ClientFrame, ConversationDetail, ConversationId, ConversationKind,
    ConversationSummary, ErrorCode, EventId, FileId, HubInfo, ServerFrame, User, UserId,
};
use chinwag_proto::{parse_client_frame, ApiError};
use chinwag_store::now_millis;
use chinwag_web::{bearer, constant_time_eq};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::{broadcast, mpsc, watch};
use warp::ws::{Message as WsMessage, WebSocket};

use super::notify;
use super::store::{NodeStore, SavedHub, Session};
use super::HubAddress;

/// How long the UI has to send `auth`.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Events replayed per read of the log.
const REPLAY_BATCH: usize = 500;

/// Something every local connection receives.
#[derive(Debug, Clone)]
pub enum Live {
    Event {
        id: EventId,
        text: Arc<str>,
    },
    Frame(Arc<str>),
    /// Close every local connection with this code (the session ended).
    Close(u16, &'static str),
}

/// The link as the UI sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Nobody is signed in on this node.
    SignedOut,
    /// Signed in, not connected yet (or reconnecting); `retry_in_ms` when waiting.
    Offline {
        retry_in_ms: Option<u64>,
    },
    Online,
}

impl LinkState {
    pub(crate) fn frame(&self) -> String {
        match self {
            LinkState::Online => json!({"type": "link", "state": "online"}),
            LinkState::Offline { retry_in_ms } => {
                json!({"type": "link", "state": "offline", "retry_in_ms": retry_in_ms})
            }
            LinkState::SignedOut => json!({"type": "link", "state": "signed_out"}),
        }
        .to_string()
    }
}

type Owner = (u64, Option<String>);

/// A node joined to one hub.
pub struct Joined {
    pub(crate) hub: HubAddress,
    pub(crate) store: NodeStore,
    pub(crate) http: reqwest::Client,
    link: tokio::sync::Mutex<Option<Link>>,
    session: Mutex<Option<Session>>,
    status: watch::Sender<LinkState>,
    live: broadcast::Sender<Live>,
    conns: Mutex<HashMap<u64, mpsc::Sender<String>>>,
    /// Relayed frame `ref` → the local connection and its own `ref`.
    routes: Mutex<HashMap<String, Owner>>,
    /// Queued message `client_id` → who to send its `ack` to.
    owners: Mutex<HashMap<String, Owner>>,
    next_id: AtomicU64,
    settings_lock: Mutex<()>,
    settings_changed: watch::Sender<notify::NotifySettings>,
    /// Test hook: how fast the link retries.
    pub(crate) backoff: (Duration, Duration),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".into())
}

fn error_frame(reference: Option<String>, err: &ApiError) -> String {
    text(&err.frame(reference))
}

pub(crate) fn unreachable_error(hub: &HubAddress) -> ApiError {
    ApiError {
        code: ErrorCode::Unavailable,
        message: format!(
            "The hub at {hub} cannot be reached right now. Messages you send are kept and go \
             out when it is back."
        ),
        retry_after_ms: Some(2000),
    }
}

impl Joined {
    /// Opens the node's state and, if someone is signed in, starts the link.
    pub async fn open(store: NodeStore, hub: HubAddress) -> Arc<Joined> {
        Self::open_with_backoff(
            store,
            hub,
            (Duration::from_millis(250), Duration::from_secs(15)),
        )
        .await
    }

    pub async fn open_with_backoff(
        store: NodeStore,
        hub: HubAddress,
        backoff: (Duration, Duration),
    ) -> Arc<Joined> {
        let session = store.session();
        let (status, _) = watch::channel(if session.is_some() {
            LinkState::Offline { retry_in_ms: None }
        } else {
            LinkState::SignedOut
        });
        let settings = store.notify_settings();
        let joined = Arc::new(Joined {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(3))
                .timeout(Duration::from_secs(15))
                .build()
                .unwrap_or_default(),
            hub,
            store,
            link: tokio::sync::Mutex::new(None),
            session: Mutex::new(session.clone()),
            status,
            live: broadcast::channel(4096).0,
            conns: Mutex::new(HashMap::new()),
            routes: Mutex::new(HashMap::new()),
            owners: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            settings_lock: Mutex::new(()),
            settings_changed: watch::channel(settings).0,
            backoff,
        });
        if let Some(session) = session {
            joined.start_link(&session.token).await;
        }
        joined
    }

    /// Everything sent to local connections (the desktop app's notifier listens here).
    pub fn subscribe(&self) -> broadcast::Receiver<Live> {
        self.live.subscribe()
    }

    /// Sends a node frame to every local connection (e.g. "open this conversation").
    pub fn announce(&self, frame: serde_json::Value) {
        let _ = self.live.send(Live::Frame(frame.to_string().into()));
    }

    /// The hub this node is joined to.
    pub fn hub(&self) -> &HubAddress {
        &self.hub
    }

    /// The hub's name, once the node has met it.
    pub fn hub_name(&self) -> Option<String> {
        self.store.hub_info().map(|h| h.name)
    }

    /// The hub's id, once the node has met it.
    pub fn hub_id(&self) -> Option<String> {
        self.store.hub_info().map(|h| h.id)
    }

    /// The signed-in user's id.
    pub fn user_id(&self) -> Option<UserId> {
        self.session_user_id()
    }

    /// The desktop notification for a message that just arrived, or `None` (see
    /// [`notify::decide`]). Names come from what the node kept; a conversation or user it
    /// has not seen yet (a new direct chat, a new colleague) is asked of the hub.
    pub async fn notice(
        &self,
        message: &chinwag_proto::Message,
        attention: notify::Attention,
    ) -> Option<notify::Notice> {
        let me = lock(&self.session).as_ref().map(|s| notify::Me {
            id: s.user.id,
            username: s.user.username.clone(),
            display_name: s.user.display_name.clone(),
        })?;
        let settings = self.store.notify_settings();
        // Cheap checks first: most messages are mine or in the conversation on screen.
        let quick = notify::Place {
            direct: true,
            name: None,
            muted: false,
        };
        notify::decide(&settings, &me, message, "", &quick, attention, now_millis())?;
        let sender = self.user_name(message.sender_id).await;
        let place = self.place(message.conversation_id).await;
        notify::decide(
            &settings,
            &me,
            message,
            &sender,
            &place,
            attention,
            now_millis(),
        )
    }

    async fn user_name(&self, id: UserId) -> String {
        let cached = self
            .store
            .cache_get("users")
            .and_then(|raw| serde_json::from_slice::<Vec<User>>(&raw).ok())
            .and_then(|users| users.into_iter().find(|u| u.id == id));
        let user = match cached {
            Some(user) => Some(user),
            None => self.ask_hub::<User>(&format!("users/{id}")).await,
        };
        user.map(|u| u.display_name)
            .unwrap_or_else(|| "Someone".into())
    }

    async fn place(&self, id: ConversationId) -> notify::Place {
        // The kept list has my `muted` flag; a conversation missing from it is new to this
        // node (and so not muted yet).
        let cached = self
            .store
            .cache_get("conversations")
            .and_then(|raw| serde_json::from_slice::<Vec<ConversationSummary>>(&raw).ok())
            .and_then(|all| all.into_iter().find(|c| c.conversation.id == id))
            .map(|c| (c.conversation, c.muted));
        let conversation = match cached {
            Some(c) => Some(c),
            None => self
                .ask_hub::<ConversationDetail>(&format!("conversations/{id}"))
                .await
                .map(|d| (d.conversation, false)),
        };
        match conversation {
            Some((c, muted)) => notify::Place {
                direct: c.kind == ConversationKind::Direct,
                name: match c.kind {
                    ConversationKind::Direct => None,
                    ConversationKind::General => Some("# general".into()),
                    _ => c.name,
                },
                muted,
            },
            None => notify::Place {
                direct: false,
                name: None,
                muted: false,
            },
        }
    }

    /// A read from the hub as the signed-in user, or `None` (offline, refused, too slow).
    async fn ask_hub<T: serde::de::DeserializeOwned>(&self, path: &str) -> Option<T> {
        let token = self.session_token()?;
        let url = format!("{}/api/v1/{path}", self.hub.http_url());
        let response = self
            .http
            .get(url)
            .bearer_auth(token)
            .timeout(Duration::from_secs(3))
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    async fn clear_user(&self) -> super::store::Result<()> {
        let cleared = self.store.clear_user().await;
        self.settings_changed
            .send_replace(notify::NotifySettings::default());
        cleared
    }

    /// The user's notification settings for this hub.
    pub fn notify_settings(&self) -> notify::NotifySettings {
        self.store.notify_settings()
    }

    /// Changes the notification settings; returns the new ones.
    pub fn change_notify_settings(
        &self,
        change: notify::NotifyChange,
    ) -> Result<notify::NotifySettings, ApiError> {
        let _guard = lock(&self.settings_lock);
        let mut settings = self.store.notify_settings();
        settings.apply(change, now_millis())?;
        self.store.set_notify_settings(&settings).map_err(|err| {
            tracing::warn!("cannot save the notification settings: {err}");
            ApiError::internal()
        })?;
        let _ = self.settings_changed.send(settings.clone());
        Ok(settings)
    }

    /// Sees every change of the notification settings (the tray's "mute" item follows it).
    pub fn watch_notify_settings(&self) -> watch::Receiver<notify::NotifySettings> {
        self.settings_changed.subscribe()
    }

    pub fn link_state(&self) -> LinkState {
        self.status.borrow().clone()
    }

    /// Waits until the link state satisfies `f` (tests and tools).
    pub async fn wait_for(&self, f: impl Fn(&LinkState) -> bool) {
        let mut rx = self.status.subscribe();
        let _ = rx.wait_for(|s| f(s)).await;
    }

    pub(crate) fn session_token(&self) -> Option<String> {
        lock(&self.session).as_ref().map(|s| s.token.clone())
    }

    /// Whether a request carries the signed-in user's token (`Authorization: Bearer`).
    pub(crate) fn carries_session(&self, headers: &warp::http::HeaderMap) -> bool {
        let sent = bearer(
            headers
                .get(warp::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok()),
        );
        match (sent, lock(&self.session).as_ref()) {
            (Some(sent), Some(ours)) => constant_time_eq(sent.as_bytes(), ours.token.as_bytes()),
            _ => false,
        }
    }

    pub(crate) fn session_user_id(&self) -> Option<UserId> {
        lock(&self.session).as_ref().map(|s| s.user.id)
    }

    pub fn pending(&self) -> Vec<Pending> {
        self.store.link.pending().unwrap_or_default()
    }

    fn set_status(&self, state: LinkState) {
        let frame: Arc<str> = state.frame().into();
        self.status.send_replace(state);
        let _ = self.live.send(Live::Frame(frame));
    }

    async fn start_link(self: &Arc<Self>, token: &str) {
        let mut slot = self.link.lock().await;
        if let Some(old) = slot.take() {
            old.shutdown().await;
        }
        let mut config = LinkConfig::new(self.hub.ws_url(), token);
        config.backoff_min = self.backoff.0;
        config.backoff_max = self.backoff.1;
        let (link, events) = Link::start(config, self.store.link.clone());
        *slot = Some(link);
        drop(slot);
        self.set_status(LinkState::Offline { retry_in_ms: None });
        tokio::spawn(self.clone().pump(events));
    }

    /// Someone signed in through this node (or the UI presented a token the hub accepts).
    pub(crate) async fn signed_in(self: &Arc<Self>, token: String, user: User) {
        let previous = lock(&self.session).clone();
        if previous.as_ref().is_some_and(|p| p.token == token) {
            return;
        }
        if previous.as_ref().is_some_and(|p| p.user.id != user.id) {
            // Another person: nothing of the previous one may show.
            self.stop_link().await;
            if let Err(err) = self.clear_user().await {
                tracing::warn!("cannot clear the previous user's data: {err}");
            }
        }
        let session = Session { token, user };
        if let Err(err) = self.store.set_session(&session).await {
            tracing::warn!("cannot store the session: {err}");
        }
        *lock(&self.session) = Some(session.clone());
        self.start_link(&session.token).await;
    }

    /// Signed out (or the hub refused the token): stop the link and forget the user's data.
    pub(crate) async fn signed_out(&self) {
        *lock(&self.session) = None;
        self.stop_link().await;
        if let Err(err) = self.clear_user().await {
            tracing::warn!("cannot clear the user's data: {err}");
        }
        self.set_status(LinkState::SignedOut);
        let _ = self.live.send(Live::Close(4401, "signed out of the hub"));
    }

    async fn stop_link(&self) {
        if let Some(link) = self.link.lock().await.take() {
            link.shutdown().await;
        }
    }

    /// Stops the link cleanly (the node is shutting down); the outbox stays on disk.
    pub async fn close(this: Arc<Self>) {
        this.shutdown().await;
    }

    async fn shutdown(&self) {
        self.stop_link().await;
        let _ = self.live.send(Live::Close(1001, "the app is closing"));
        if let Err(err) = self.store.flush().await {
            tracing::warn!("cannot flush local state: {err}");
        }
    }

    /// Asks the hub whether `token` is valid; adopts it when it is. `Ok(false)`: refused.
    pub(crate) async fn adopt(self: &Arc<Self>, token: &str) -> Result<bool, ApiError> {
        let response = self
            .http
            .get(format!("{}/api/v1/me", self.hub.http_url()))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|_| unreachable_error(&self.hub))?;
        match response.status().as_u16() {
            200 => {
                let user: User = response.json().await.map_err(|_| ApiError::internal())?;
                self.signed_in(token.to_owned(), user).await;
                Ok(true)
            }
            401 => Ok(false),
            _ => Err(unreachable_error(&self.hub)),
        }
    }

    async fn pump(self: Arc<Self>, mut events: mpsc::Receiver<LinkEvent>) {
        while let Some(event) = events.recv().await {
            match event {
                LinkEvent::Connected { user, hub, .. } => self.connected(user, hub).await,
                LinkEvent::Synced => {}
                LinkEvent::Event(frame) => {
                    let body = text(&frame.event);
                    let frame_text = event_frame(frame.id, &body);
                    if let Err(err) = self.store.append_event(frame.id, &frame_text, &frame.event) {
                        tracing::warn!("cannot log event {}: {err}", frame.id);
                    }
                    let _ = self.live.send(Live::Event {
                        id: frame.id,
                        text: frame_text.into(),
                    });
                }
                LinkEvent::Acked { message, duplicate } => {
                    let owner = lock(&self.owners).remove(&message.client_id);
                    if let Some((conn, reference)) = owner {
                        let ack = ServerFrame::Ack {
                            reference,
                            message,
                            duplicate,
                        };
                        self.to_conn(conn, text(&ack));
                    }
                }
                LinkEvent::Refused { client_id, error } => {
                    let owner = lock(&self.owners).remove(&client_id);
                    if let Some((conn, reference)) = owner {
                        self.to_conn(conn, text(&ServerFrame::Error { reference, error }));
                    }
                }
                LinkEvent::Frame(frame) => self.hub_frame(frame),
                LinkEvent::Disconnected { retry_in } => {
                    self.fail_routes();
                    self.set_status(LinkState::Offline {
                        retry_in_ms: Some(retry_in.as_millis() as u64),
                    });
                }
                LinkEvent::Unauthorized => {
                    tracing::info!("the hub refused the stored session; signing out");
                    // The link task has ended already; `signed_out` only tidies up.
                    let this = self.clone();
                    tokio::spawn(async move { this.signed_out().await });
                    return;
                }
            }
        }
    }

    async fn connected(&self, user: User, hub: HubInfo) {
        {
            let mut session = lock(&self.session);
            if let Some(session) = session.as_mut() {
                session.user = user;
            }
        }
        if let Err(err) = self.store.set_hub_info(&hub) {
            tracing::warn!("cannot store the hub's details: {err}");
        }
        let saved = SavedHub {
            address: self.hub.to_string(),
            id: hub.id.clone(),
            name: hub.name.clone(),
            last_joined_at: now_millis(),
        };
        if let Err(err) = self.store.save_hub(&saved) {
            tracing::warn!("cannot save the hub: {err}");
        }
        // Local windows re-send their `watch` lists when they hear the link is online.
        self.set_status(LinkState::Online);
    }

    fn hub_frame(&self, frame: ServerFrame) {
        let routed = |reference: &Option<String>| {
            reference
                .as_ref()
                .and_then(|r| lock(&self.routes).remove(r))
        };
        match frame {
            ServerFrame::Typing { .. }
            | ServerFrame::Presence { .. }
            | ServerFrame::Blocked { .. } => {
                let _ = self.live.send(Live::Frame(text(&frame).into()));
            }
            ServerFrame::Muted {
                conversation_id,
                muted,
            } => {
                // Muted on another device: notifications here follow at once.
                self.store.set_kept_mute(conversation_id, muted);
                let _ = self.live.send(Live::Frame(text(&frame).into()));
            }
            ServerFrame::Watching {
                reference,
                presence,
            } => {
                if let Some((conn, reference)) = routed(&reference) {
                    let reply = ServerFrame::Watching {
                        reference,
                        presence,
                    };
                    self.to_conn(conn, text(&reply));
                }
            }
            ServerFrame::Ack {
                reference,
                message,
                duplicate,
            } => {
                if let Some((conn, reference)) = routed(&reference) {
                    let ack = ServerFrame::Ack {
                        reference,
                        message,
                        duplicate,
                    };
                    self.to_conn(conn, text(&ack));
                }
            }
            ServerFrame::Ok { reference } => {
                if let Some((conn, reference)) = routed(&reference) {
                    self.to_conn(conn, text(&ServerFrame::Ok { reference }));
                }
            }
            ServerFrame::Pong { reference } => {
                if let Some((conn, reference)) = routed(&reference) {
                    self.to_conn(conn, text(&ServerFrame::Pong { reference }));
                }
            }
            ServerFrame::Error { reference, error } => match routed(&reference) {
                Some((conn, reference)) => {
                    self.to_conn(conn, text(&ServerFrame::Error { reference, error }))
                }
                None => tracing::debug!("the hub reported: {}", error.message),
            },
            ServerFrame::Ready { .. } | ServerFrame::Synced { .. } => {}
        }
    }

    /// Frames relayed to the hub will get no reply from a lost connection: answer them.
    fn fail_routes(&self) {
        let routes: Vec<Owner> = lock(&self.routes).drain().map(|(_, v)| v).collect();
        let err = unreachable_error(&self.hub);
        for (conn, reference) in routes {
            self.to_conn(conn, error_frame(reference, &err));
        }
    }

    fn to_conn(&self, conn: u64, frame: String) {
        let sender = lock(&self.conns).get(&conn).cloned();
        if let Some(sender) = sender {
            let _ = sender.try_send(frame);
        }
    }

    fn ready_frame(&self, user: &User) -> String {
        let hub = self.store.hub_info();
        let last_event_id = self.last_event_id();
        json!({
            "type": "ready",
            "user": user,
            "hub": hub,
            "last_event_id": last_event_id,
        })
        .to_string()
    }

    fn last_event_id(&self) -> EventId {
        self.store
            .last_event_id()
            .or_else(|| self.store.link.cursor().ok().flatten())
            .unwrap_or(0)
    }

    fn max_message_bytes(&self) -> usize {
        self.store
            .hub_info()
            .map(|h| h.limits.max_message_bytes)
            .unwrap_or(16 * 1024)
    }

    /// Handles one frame from a local connection; returns the immediate reply, if any.
    async fn handle_ui_frame(&self, conn: u64, raw: &str) -> Option<String> {
        let frame = match parse_client_frame(raw) {
            Ok(frame) => frame,
            Err((err, reference)) => return Some(error_frame(reference, &err)),
        };
        let reference = frame.reference().map(str::to_owned);
        match frame {
            ClientFrame::Auth { .. } => Some(error_frame(
                None,
                &ApiError::bad_request("This connection is authenticated already."),
            )),
            ClientFrame::Ping { reference } => Some(text(&ServerFrame::Pong { reference })),
            ClientFrame::Send {
                reference,
                conversation_id,
                client_id,
                body,
                attachments,
            } => {
                if let Err(err) = self.check_send(&client_id, &body, &attachments) {
                    return Some(error_frame(reference, &err));
                }
                let pending = Pending {
                    client_id: client_id.clone(),
                    conversation_id,
                    body,
                    attachments,
                    created_at: now_millis(),
                };
                lock(&self.owners).insert(client_id, (conn, reference.clone()));
                let link = self.link.lock().await;
                let Some(link) = link.as_ref() else {
                    return Some(error_frame(reference, &ApiError::unauthorized()));
                };
                match link.enqueue(&pending).await {
                    Ok(_) => None,
                    Err(err) => {
                        tracing::error!("cannot queue a message: {err}");
                        lock(&self.owners).remove(&pending.client_id);
                        Some(error_frame(reference, &ApiError::internal()))
                    }
                }
            }
            other => {
                if self.link_state() != LinkState::Online {
                    return Some(error_frame(reference, &unreachable_error(&self.hub)));
                }
                let ours = format!("n{}", self.next_id.fetch_add(1, Ordering::Relaxed));
                let Some(relayed) = with_reference(&other, &ours) else {
                    return Some(error_frame(reference, &ApiError::internal()));
                };
                lock(&self.routes).insert(ours, (conn, reference.clone()));
                let link = self.link.lock().await;
                let sent = match link.as_ref() {
                    Some(link) => link.send_frame(relayed).await.is_ok(),
                    None => false,
                };
                if sent {
                    None
                } else {
                    Some(error_frame(reference, &unreachable_error(&self.hub)))
                }
            }
        }
    }

    fn check_send(&self, client_id: &str, body: &str, files: &[FileId]) -> Result<(), ApiError> {
        let max = self.max_message_bytes();
        chinwag_proto::validate::message_size(body, max)?;
        chinwag_proto::validate::client_id(client_id).map_err(ApiError::from)?;
        chinwag_proto::validate::message_body(body, max, !files.is_empty())
            .map_err(ApiError::from)?;
        Ok(())
    }

    /// Serves one local WebSocket until it closes.
    pub(crate) async fn ui_socket(self: Arc<Self>, socket: WebSocket) {
        let (mut sink, mut stream) = socket.split();
        let first = tokio::time::timeout(AUTH_TIMEOUT, stream.next()).await;
        let auth = match first {
            Ok(Some(Ok(message))) => message
                .to_str()
                .ok()
                .and_then(|t| serde_json::from_str::<ClientFrame>(t).ok()),
            _ => None,
        };
        let Some(ClientFrame::Auth { token, resume_from }) = auth else {
            let err = ApiError::new(
                ErrorCode::Unauthorized,
                r#"The first frame must be {"type":"auth","token":"..."}."#,
            );
            let _ = sink.send(WsMessage::text(error_frame(None, &err))).await;
            let _ = sink
                .send(WsMessage::close_with(4401u16, "unauthorized"))
                .await;
            return;
        };
        let known = self
            .session_token()
            .is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes()));
        if !known {
            match self.adopt(&token).await {
                Ok(true) => {}
                Ok(false) => {
                    let err = ApiError::unauthorized();
                    let _ = sink.send(WsMessage::text(error_frame(None, &err))).await;
                    let _ = sink
                        .send(WsMessage::close_with(4401u16, "unauthorized"))
                        .await;
                    return;
                }
                Err(err) => {
                    let _ = sink.send(WsMessage::text(error_frame(None, &err))).await;
                    let _ = sink
                        .send(WsMessage::close_with(1013u16, "the hub cannot be reached"))
                        .await;
                    return;
                }
            }
        }
        let Some(user) = lock(&self.session).as_ref().map(|s| s.user.clone()) else {
            let _ = sink
                .send(WsMessage::close_with(4401u16, "signed out"))
                .await;
            return;
        };

        let conn = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, mut direct) = mpsc::channel::<String>(256);
        lock(&self.conns).insert(conn, tx);
        let _registered = Registered {
            joined: self.clone(),
            conn,
        };
        // Subscribe before reading the log: anything logged meanwhile arrives twice and the
        // cursor drops the second copy.
        let mut live = self.live.subscribe();
        let ready = self.ready_frame(&user);
        if sink.send(WsMessage::text(ready)).await.is_err() {
            return;
        }
        let newest = self.last_event_id();
        let mut cursor = resume_from.map(|r| r.clamp(0, newest)).unwrap_or(newest);
        // The log keeps the newest events only: resuming from before them would skip some.
        let reset = resume_from.is_some_and(|from| from < self.store.log_floor());
        if reset {
            cursor = newest;
        } else if !self.replay(&mut sink, &mut cursor).await {
            return;
        }
        let synced = ServerFrame::Synced {
            last_event_id: cursor,
            reset,
        };
        if sink.send(WsMessage::text(text(&synced))).await.is_err() {
            return;
        }
        let state = self.link_state();
        if state != LinkState::Online && sink.send(WsMessage::text(state.frame())).await.is_err() {
            return;
        }

        loop {
            tokio::select! {
                item = live.recv() => {
                    let out = match item {
                        Ok(Live::Event { id, text }) => {
                            if id <= cursor {
                                continue;
                            }
                            cursor = id;
                            text.to_string()
                        }
                        Ok(Live::Frame(text)) => text.to_string(),
                        Ok(Live::Close(code, reason)) => {
                            let _ = sink.send(WsMessage::close_with(code, reason)).await;
                            return;
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            if !self.replay(&mut sink, &mut cursor).await {
                                return;
                            }
                            continue;
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    };
                    if sink.send(WsMessage::text(out)).await.is_err() {
                        return;
                    }
                }
                Some(out) = direct.recv() => {
                    if sink.send(WsMessage::text(out)).await.is_err() {
                        return;
                    }
                }
                incoming = stream.next() => {
                    let message = match incoming {
                        Some(Ok(message)) => message,
                        Some(Err(err)) => {
                            tracing::debug!("local connection failed: {err}");
                            let _ = sink.send(WsMessage::close_with(1009u16, "frame too large")).await;
                            return;
                        }
                        None => return,
                    };
                    if message.is_close() {
                        return;
                    }
                    let Ok(raw) = message.to_str() else {
                        continue; // pings, pongs and binary frames
                    };
                    if let Some(reply) = self.handle_ui_frame(conn, raw).await {
                        if sink.send(WsMessage::text(reply)).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Sends logged events after `cursor`, advancing it. False when the socket failed.
    async fn replay<S>(&self, sink: &mut S, cursor: &mut EventId) -> bool
    where
        S: futures_util::Sink<WsMessage> + Unpin,
    {
        loop {
            let batch = self.store.events_after(*cursor, REPLAY_BATCH);
            let done = batch.len() < REPLAY_BATCH;
            for (id, frame) in batch {
                if sink.send(WsMessage::text(frame)).await.is_err() {
                    return false;
                }
                *cursor = id;
            }
            if done {
                return true;
            }
        }
    }
}

/// Drops a local connection's routes when it goes away.
struct Registered {
    joined: Arc<Joined>,
    conn: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&self.joined.conns).remove(&self.conn);
        lock(&self.joined.routes).retain(|_, (c, _)| *c != self.conn);
        // Queued messages stay queued; their acks just have nobody to go to.
        lock(&self.joined.owners).retain(|_, (c, _)| *c != self.conn);
    }
}

fn with_reference(frame: &ClientFrame, reference: &str) -> Option<ClientFrame> {
    let mut value = serde_json::to_value(frame).ok()?;
    value
        .as_object_mut()?
        .insert("ref".into(), serde_json::Value::String(reference.into()));
    serde_json::from_value(value).ok()
}

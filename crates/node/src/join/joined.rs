//! The joined node's state: one link to the hub for the signed-in user, the session, the
//! local connections (served in `socket.rs`) and the routes of relayed replies.
//!
//! Events from the link are logged (sled) and then broadcast to every local connection; a
//! local connection resumes from the log exactly as it would from the hub. `send` frames go
//! to the link's durable outbox under the UI's own `client_id`, so a message typed while the
//! hub is away is kept on disk and delivered once when it is back; its `ack` is routed to the
//! connection that sent it. Other frames are relayed with a `ref` of the node's own and the
//! reply routed back. Node-only frame: `{"type":"link","state":"online"|"offline",...}`.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chinwag_link::{Link, LinkConfig, LinkEvent, Pending};
use chinwag_proto::ApiError;
use chinwag_proto::{
    event_frame, ConversationDetail, ConversationId, ConversationKind, ConversationSummary,
    ErrorCode, EventId, HubInfo, ServerFrame, User, UserId,
};
use chinwag_store::now_millis;
use chinwag_web::{bearer_token, constant_time_eq};
use tokio::sync::{broadcast, mpsc, watch};

use super::notify;
use super::store::{NodeStore, SavedHub, Session};
use super::HubAddress;

/// How long the UI has to send `auth`.
pub(super) const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Events replayed per read of the log.
pub(super) const REPLAY_BATCH: usize = 500;

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

pub use chinwag_proto::node::LinkState;

/// The `link` frame for a link state.
pub(super) fn link_frame(state: &LinkState) -> String {
    text(&chinwag_proto::node::LinkFrame::from(state.clone()))
}

pub(super) type Owner = (u64, Option<String>);

/// A node joined to one hub.
pub struct Joined {
    pub(crate) hub: HubAddress,
    pub(crate) store: NodeStore,
    pub(crate) http: reqwest::Client,
    pub(super) link: tokio::sync::Mutex<Option<Link>>,
    pub(super) session: Mutex<Option<Session>>,
    pub(super) status: watch::Sender<LinkState>,
    pub(super) live: broadcast::Sender<Live>,
    pub(super) conns: Mutex<HashMap<u64, mpsc::Sender<String>>>,
    /// Relayed frame `ref` → the local connection and its own `ref`.
    pub(super) routes: Mutex<HashMap<String, Owner>>,
    /// Queued message `client_id` → who to send its `ack` to.
    pub(super) owners: Mutex<HashMap<String, Owner>>,
    pub(super) next_id: AtomicU64,
    pub(super) settings_lock: Mutex<()>,
    pub(super) settings_changed: watch::Sender<notify::NotifySettings>,
    /// Where the settings' trips to the hub run (a change may come from the tray, outside
    /// the runtime).
    runtime: tokio::runtime::Handle,
    /// Test hook: how fast the link retries.
    pub(crate) backoff: (Duration, Duration),
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".into())
}

pub(super) fn error_frame(reference: Option<String>, err: &ApiError) -> String {
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
            runtime: tokio::runtime::Handle::current(),
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
    pub fn announce<T: serde::Serialize>(&self, frame: &T) {
        let _ = self.live.send(Live::Frame(text(frame).into()));
    }

    /// The hub this node is joined to.
    pub fn hub(&self) -> &HubAddress {
        &self.hub
    }

    /// The hub's name, once the node has met it.
    pub fn hub_name(&self) -> Option<String> {
        self.store.hub_info().map(|h| h.name)
    }

    /// The addresses the hub says people open to reach it, once the node has met it.
    pub fn hub_addresses(&self) -> Vec<String> {
        self.store
            .hub_info()
            .map(|h| h.addresses)
            .unwrap_or_default()
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
        let me = lock(&self.session).as_ref().map(|s| s.user.id)?;
        let settings = self.store.notify_settings();
        // Cheap checks first: most messages are mine or in the conversation on screen.
        let quick = notify::Place {
            direct: true,
            name: None,
            muted: false,
        };
        notify::decide(&settings, me, message, "", &quick, attention, now_millis())?;
        let sender = self.user_name(message.sender_id).await;
        let place = self.place(message.conversation_id).await;
        notify::decide(
            &settings,
            me,
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

    /// Changes the notification settings here at once, and on the hub, which keeps them for
    /// the person's every device (`/me/notifications`); while the hub is out of reach the
    /// change waits and goes when the link is back. A per-conversation mute in the change
    /// is this computer's own (the app now mutes on the hub). Returns the new settings.
    pub fn change_notify_settings(
        self: &Arc<Self>,
        change: notify::NotifyChange,
    ) -> Result<notify::NotifySettings, ApiError> {
        let for_hub =
            change.level.is_some() || change.previews.is_some() || change.muted_until.is_some();
        let settings = self.update_notify(|settings| settings.apply(change, now_millis()))?;
        if for_hub {
            if let Err(err) = self.store.set_notify_unsynced(true) {
                tracing::warn!("cannot note the settings for the hub: {err}");
            }
            let joined = self.clone();
            self.runtime
                .spawn(async move { joined.push_notify().await });
        }
        Ok(settings)
    }

    /// Gives the hub the settings kept here; true when it took them.
    async fn push_notify(&self) -> bool {
        let Some(token) = self.session_token() else {
            return false;
        };
        let settings = self.store.notify_settings();
        let body = serde_json::json!({
            "level": settings.level,
            "previews": settings.previews,
            "muted_until": settings.muted_until,
        });
        let sent = self
            .http
            .patch(format!("{}/api/v1/me/notifications", self.hub.http_url()))
            .bearer_auth(token)
            .json(&body)
            .timeout(Duration::from_secs(3))
            .send()
            .await;
        match sent {
            Ok(reply) if reply.status().is_success() => {
                if let Err(err) = self.store.set_notify_unsynced(false) {
                    tracing::warn!("cannot note the settings as sent: {err}");
                }
                true
            }
            Ok(reply) if reply.status().is_client_error() => {
                // The hub will never take these (an older hub, say): stop trying.
                tracing::warn!(
                    "the hub refused the notification settings: {}",
                    reply.status()
                );
                let _ = self.store.set_notify_unsynced(false);
                false
            }
            _ => false, // out of reach: sent when the link is back
        }
    }

    /// On connecting: this computer takes the settings the hub keeps for the person, unless
    /// its own are newer (changed while the hub was away, or chosen before the hub kept
    /// them: the hub has only the defaults), which then go to the hub.
    async fn adopt_hub_notify(&self) {
        let Some(kept) = self
            .ask_hub::<notify::NotifySettings>("me/notifications")
            .await
        else {
            return;
        };
        let same = |a: &notify::NotifySettings, b: &notify::NotifySettings| {
            a.level == b.level && a.previews == b.previews && a.muted_until == b.muted_until
        };
        let defaults = notify::NotifySettings::default();
        let local = self.store.notify_settings();
        if self.store.notify_unsynced() || (same(&kept, &defaults) && !same(&local, &defaults)) {
            self.push_notify().await;
            return;
        }
        if same(&kept, &local) {
            return;
        }
        // A failure is logged where it happens; the next connection tries again.
        let _ = self.update_notify(|settings| {
            settings.level = kept.level;
            settings.previews = kept.previews;
            settings.muted_until = kept.muted_until;
            Ok(())
        });
    }

    /// Changes the settings kept here (under the lock, so two changes never lose one) and
    /// tells who follows them (the desktop's notifier and tray).
    fn update_notify(
        &self,
        change: impl FnOnce(&mut notify::NotifySettings) -> Result<(), ApiError>,
    ) -> Result<notify::NotifySettings, ApiError> {
        let settings = {
            let _guard = lock(&self.settings_lock);
            let mut settings = self.store.notify_settings();
            change(&mut settings)?;
            self.store.set_notify_settings(&settings).map_err(|err| {
                tracing::warn!("cannot save the notification settings: {err}");
                ApiError::internal()
            })?;
            settings
        };
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
        let sent = bearer_token(headers);
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
        let frame: Arc<str> = link_frame(&state).into();
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
                LinkEvent::Connected { user, hub, .. } => {
                    self.connected(user, hub).await;
                    // Beside the events, not in their way: a trip to the hub.
                    let joined = self.clone();
                    tokio::spawn(async move { joined.adopt_hub_notify().await });
                }
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
}

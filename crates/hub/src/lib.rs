//! Chinwag's hub: the HTTP and WebSocket server that a desktop app or `chinwag --server`
//! runs.
//!
//! What it owns: the use cases (`api`: one transport-free function per operation), the REST
//! API under `/api/v1` (`routes`, one line per endpoint, over thin handlers in `rest`), the
//! WebSocket endpoint `/api/v1/ws` (`ws`, whose frame arms call the same use cases),
//! authentication and throttling ([`auth`]), and live fan-out, presence and typing
//! ([`fanout`]). It persists through `chinwag-store`, speaks only the shapes defined in
//! `chinwag-proto`, and shares its HTTP pieces (UI assets, JSON errors) with the joined node
//! through `chinwag-web`.
//!
//! What it must not do: know about Tauri, mDNS or the command line, or keep durable state
//! anywhere but the store. Entry point: [`Hub::open`] then [`serve`] on a listener the caller
//! bound.

mod api;
pub mod auth;
pub mod fanout;
mod files;
mod http;
mod limits;
mod metrics;
mod queue;
mod receipts;
mod rest;
mod retention;
mod routes;
mod ws;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chinwag_proto::{HubInfo, Limits, UserId, PROTOCOL_VERSION};
use chinwag_store::{queries, Committed, Store, StoreConfig, StoreError};
use chinwag_web::serve::{ConnectionLimits, Gate};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_util::task::TaskTracker;
use warp::Filter;

use crate::auth::{CodeThrottle, LoginThrottle};
use crate::fanout::Fanout;
use crate::limits::KeyedLimit;

/// Everything an admin or a test can tune. [`HubConfig::default`] is what `chinwag --server`
/// uses unless told otherwise.
#[derive(Debug, Clone)]
pub struct HubConfig {
    pub name: String,
    /// When set, registration requires this code.
    pub join_code: Option<String>,
    pub max_message_bytes: usize,
    pub max_frame_bytes: usize,
    pub max_body_bytes: usize,
    /// Largest file upload, in bytes.
    pub max_upload_bytes: u64,
    /// An upload must bring at least `upload_min_bytes` in every `upload_idle_timeout`, or it
    /// is dropped (`408 timeout`): a stalled or trickling upload does not hold a connection.
    pub upload_idle_timeout: Duration,
    pub upload_min_bytes: u64,
    /// Any other request body must have arrived whole within this.
    pub body_timeout: Duration,
    /// A connection must send a request's headers within this (idle between requests, the
    /// next request's), or it is closed.
    pub header_timeout: Duration,
    pub messages_per_second: u32,
    pub message_burst: u32,
    pub typing_per_second: u32,
    pub heartbeat: Duration,
    pub typing_ttl: Duration,
    /// How long a new WebSocket may take to send its `auth` frame.
    pub auth_timeout: Duration,
    /// TCP connections (HTTP and WebSocket alike) in all, and from one address.
    pub max_connections: usize,
    pub max_connections_per_addr: usize,
    /// Frames queued per connection before it is considered lagging.
    pub outbound_queue: usize,
    /// Failed logins allowed per username, and per address, within `login_window`.
    pub login_failures_per_user: u32,
    pub login_failures_per_addr: u32,
    pub login_window: Duration,
    /// Wrong join codes allowed per address, and in all, within `login_window`.
    pub join_code_failures_per_addr: u32,
    pub join_code_failures_total: u32,
    /// Conversation changes (groups created, people added, direct chats opened) per user
    /// per minute, and the burst allowed.
    pub conversation_changes_per_minute: u32,
    pub conversation_changes_burst: u32,
    /// Bad frames tolerated within 10 seconds before the connection is closed.
    pub max_bad_frames: u32,
    /// Extra `Origin`s allowed to open WebSockets (the hub's own origin always is).
    pub allowed_origins: Vec<String>,
    /// The addresses people open to reach the hub (`HubInfo::addresses`).
    pub urls: Vec<String>,
    /// Messages (and their files) older than this many days are deleted; 0 keeps them all.
    pub retention_days: u32,
    /// Sessions not used for this many days are signed out; 0 keeps them until sign-out.
    pub session_idle_days: u32,
    /// A bearer token that acts as a hub admin (for `chinwag admin` on this machine).
    pub admin_token: Option<String>,
    pub store: StoreConfig,
}

/// A session's `used_at` is brought up to date when it is older than this (an hour), so
/// that using a session is not a write per request.
pub(crate) const SESSION_TOUCH_MS: i64 = 60 * 60 * 1000;

impl HubConfig {
    /// Sessions last used before this (milliseconds) have expired; 0 when they never do.
    pub fn session_idle_cutoff(&self, now: i64) -> i64 {
        match self.session_idle_days {
            0 => 0,
            days => now - i64::from(days) * 24 * 60 * 60 * 1000,
        }
    }
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            name: "Chinwag".into(),
            join_code: None,
            max_message_bytes: 16 * 1024,
            max_frame_bytes: 64 * 1024,
            max_body_bytes: 64 * 1024,
            max_upload_bytes: 100 * 1024 * 1024,
            upload_idle_timeout: Duration::from_secs(60),
            upload_min_bytes: 16 * 1024,
            body_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            messages_per_second: 20,
            message_burst: 60,
            typing_per_second: 4,
            heartbeat: Duration::from_secs(30),
            typing_ttl: Duration::from_secs(6),
            auth_timeout: Duration::from_secs(10),
            max_connections: 20_000,
            max_connections_per_addr: 512,
            outbound_queue: 1024,
            login_failures_per_user: 5,
            login_failures_per_addr: 30,
            login_window: Duration::from_secs(15 * 60),
            join_code_failures_per_addr: 10,
            join_code_failures_total: 100,
            conversation_changes_per_minute: 10,
            conversation_changes_burst: 30,
            max_bad_frames: 20,
            allowed_origins: Vec::new(),
            urls: Vec::new(),
            retention_days: 0,
            session_idle_days: 90,
            admin_token: None,
            store: StoreConfig::default(),
        }
    }
}

/// Logs a message operation (at debug level) by ids only: a log line never carries a
/// message's text (nor a token or password; see SECURITY.md).
pub(crate) fn log_message(what: &'static str, message: &chinwag_proto::Message) {
    tracing::debug!(
        message_id = message.id.get(),
        conversation = message.conversation_id.get(),
        user = message.sender_id.get(),
        seq = message.seq,
        attachments = message.attachments.len(),
        "message {what}"
    );
}

/// Largest history page.
pub const MAX_HISTORY_PAGE: u32 = 200;

/// A running hub's state. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    state: Arc<HubState>,
}

pub(crate) struct HubState {
    pub config: HubConfig,
    pub info: HubInfo,
    pub store: Store,
    pub files: files::Files,
    pub metrics: metrics::Metrics,
    /// The database file, for its size in `/metrics`.
    pub db_path: std::path::PathBuf,
    pub fanout: Arc<Fanout>,
    pub throttle: LoginThrottle,
    pub join_codes: CodeThrottle,
    /// Password hashing is slow on purpose; at most this many run at once.
    pub hashing: Semaphore,
    /// Every accepted connection takes a place here (see `chinwag_web::serve`).
    pub gate: Arc<Gate>,
    /// Sends, edits, deletes and uploads per user.
    pub send_limit: KeyedLimit<UserId>,
    pub change_limit: KeyedLimit<UserId>,
    pub shutdown: watch::Sender<bool>,
    pub tasks: TaskTracker,
    /// Delivered/read reports, coalesced per person and conversation.
    pub receipts: receipts::Receipts,
    /// Whether any account exists (`HubInfo::first_account` is its opposite).
    pub accounts_exist: std::sync::atomic::AtomicBool,
}

impl Hub {
    /// Opens the store at `db_path` (creating and migrating it) and prepares the hub.
    pub async fn open(config: HubConfig, db_path: &Path) -> Result<Hub, StoreError> {
        let fanout = Arc::new(Fanout::new(config.typing_ttl));
        let publisher = {
            let fanout = fanout.clone();
            Arc::new(move |events: &[Committed]| fanout.publish(events))
        };
        let store = Store::open(db_path, config.store.clone(), publisher)?;
        let files_dir = db_path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("files");
        let files = files::Files::open(&files_dir).map_err(|err| {
            StoreError::Unavailable(format!(
                "cannot use the file directory {}: {err}",
                files_dir.display()
            ))
        })?;
        let (hub_id, memberships, last_event_id, blocks, accounts_exist) = store
            .read(|c| {
                Ok((
                    queries::hub_id(c)?,
                    queries::all_memberships(c)?,
                    queries::last_event_id(c)?,
                    queries::all_blocks(c)?,
                    queries::any_user(c)?,
                ))
            })
            .await?;
        fanout.load_memberships(memberships);
        for (blocker, blocked) in blocks {
            fanout.set_blocked(blocker, blocked, true);
        }
        fanout.set_last_published(last_event_id);
        let info = HubInfo {
            id: hub_id,
            name: config.name.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            protocol: PROTOCOL_VERSION,
            join_code_required: config.join_code.is_some(),
            limits: Limits {
                max_message_bytes: config.max_message_bytes,
                max_frame_bytes: config.max_frame_bytes,
                max_body_bytes: config.max_body_bytes,
                messages_per_second: config.messages_per_second,
                typing_per_second: config.typing_per_second,
                max_history_page: MAX_HISTORY_PAGE,
                heartbeat_ms: config.heartbeat.as_millis() as u64,
                typing_ttl_ms: config.typing_ttl.as_millis() as u64,
                max_upload_bytes: config.max_upload_bytes,
                max_attachments: chinwag_store::MAX_ATTACHMENTS,
                max_reactions_per_message: chinwag_proto::validate::MAX_REACTIONS_PER_MESSAGE,
                max_reactions_per_person: chinwag_proto::validate::MAX_REACTIONS_PER_PERSON,
            },
            online: None,
            addresses: config.urls.clone(),
            first_account: false,
        };
        let hashers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let state = HubState {
            throttle: LoginThrottle::new(
                config.login_failures_per_user,
                config.login_failures_per_addr,
                config.login_window,
            ),
            join_codes: CodeThrottle::new(
                config.join_code_failures_per_addr,
                config.join_code_failures_total,
                config.login_window,
            ),
            hashing: Semaphore::new(hashers),
            gate: Gate::new(ConnectionLimits {
                max_connections: config.max_connections,
                per_addr: config.max_connections_per_addr,
                header_timeout: config.header_timeout,
            }),
            send_limit: KeyedLimit::new(config.messages_per_second, config.message_burst),
            change_limit: KeyedLimit::per_minute(
                config.conversation_changes_per_minute,
                config.conversation_changes_burst,
            ),
            shutdown: watch::channel(false).0,
            receipts: receipts::Receipts::new(receipts::WINDOW),
            accounts_exist: accounts_exist.into(),
            tasks: TaskTracker::new(),
            config,
            info,
            store,
            files,
            metrics: metrics::Metrics::default(),
            db_path: db_path.to_owned(),
            fanout,
        };
        Ok(Hub {
            state: Arc::new(state),
        })
    }

    pub fn info(&self) -> &HubInfo {
        &self.state.info
    }

    /// The hub's store, for tools and tests that inspect it directly.
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// The hub's whole HTTP surface as a warp filter, for running it in-process (the fuzzer
    /// drives it with `warp::test`); [`serve`] is what a real hub uses.
    pub fn routes(
        &self,
    ) -> impl Filter<Extract = (warp::reply::Response,), Error = std::convert::Infallible> + Clone
    {
        routes::filter(self.state.clone())
    }

    /// Open WebSocket connections right now.
    pub fn connection_count(&self) -> usize {
        self.state.fanout.connection_count()
    }

    /// Bytes of frames waiting in connections' queues: all of them, or one user's.
    pub fn queued_bytes(&self, user_id: Option<UserId>) -> usize {
        self.state.fanout.queued_bytes(user_id)
    }
}

/// Opens the hub's listening socket. Connections it accepts have Nagle's algorithm off
/// (`TCP_NODELAY` is set on the listener, and accepted sockets inherit it): chat frames are
/// small, and Nagle's wait for the peer's delayed ACK would hold them back by tens of
/// milliseconds.
pub fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Serves the hub on `listener` until `shutdown` resolves, then shuts down gracefully: stop
/// accepting, let in-flight requests finish, close WebSockets with 1001 (going away), commit
/// every queued write, and return.
pub async fn serve(
    listener: TcpListener,
    hub: Hub,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let state = hub.state.clone();
    let routes = routes::filter(state.clone());

    let sweeper = {
        let state = state.clone();
        let mut stop = state.shutdown.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        state.fanout.expire_typing();
                        state.send_limit.forget_idle();
                        state.change_limit.forget_idle();
                    }
                    _ = stop.changed() => break,
                }
            }
        })
    };

    // The search index follows the messages in batches, a moment behind (see schema V2).
    let indexer = {
        let store = state.store.clone();
        let mut stop = state.shutdown.subscribe();
        tokio::spawn(async move {
            const BATCH: usize = 2_000;
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            let mut failing = false;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => break,
                }
                // Drain a backlog (after a restore, say) a batch at a time, letting other
                // writes in between.
                loop {
                    match store.write(|tx| tx.index_pending(BATCH)).await {
                        Ok(done) => {
                            failing = false;
                            if done < BATCH {
                                break;
                            }
                        }
                        Err(err) => {
                            if !failing {
                                tracing::warn!(
                                    "cannot update the search index (will retry): {err}"
                                );
                            }
                            failing = true;
                            break;
                        }
                    }
                }
            }
        })
    };

    let retention = {
        let state = state.clone();
        let mut stop = state.shutdown.subscribe();
        tokio::spawn(async move {
            // Soon after start (a hub that was off catches up), then hourly.
            let mut tick = tokio::time::interval_at(
                tokio::time::Instant::now() + Duration::from_secs(2),
                Duration::from_secs(3600),
            );
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => break,
                }
                retention::run(&state).await;
                retention::expire_sessions(&state).await;
            }
        })
    };

    let signal_state = state.clone();
    chinwag_web::serve::serve(listener, routes, state.gate.clone(), async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections");
        signal_state.shutdown.send_replace(true);
    })
    .await;

    state.shutdown.send_replace(true);
    state.tasks.close();
    if tokio::time::timeout(Duration::from_secs(5), state.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close within 5 s");
    }
    let _ = sweeper.await;
    let _ = indexer.await;
    let _ = retention.await;
    state.store.close().await;
    tracing::info!("hub stopped; every queued write is committed");
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn accepted_connections_have_nagle_off() {
        let listener =
            super::listen(std::net::SocketAddr::from(([127, 0, 0, 1], 0))).expect("listens");
        let addr = listener.local_addr().expect("addr");
        let _client = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        let (accepted, _) = listener.accept().await.expect("accepts");
        assert!(
            accepted.nodelay().expect("reads TCP_NODELAY"),
            "inherited from the listener"
        );
    }
}

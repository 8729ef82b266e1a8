//! Chinwag's link: one client connection to a hub, kept alive.
//!
//! [`Link::start`] runs a task that connects to the hub's WebSocket, authenticates with a
//! session token and resumes from the last event it processed (kept in [`LocalState`]). When
//! the connection drops it reconnects with exponential backoff and jitter. Messages given to
//! [`Link::send`] go to the durable outbox first and are sent — with the same `client_id`
//! every time — once the link is synced, until the hub acknowledges them; the hub's
//! idempotency makes that exactly once, across reconnects and restarts of either side.
//!
//! This is also the project's Rust client library (tests and benchmarks use it). It speaks
//! only `chinwag-proto` and knows nothing of warp, SQLite or Tauri.

pub mod raw;
mod state;

use std::collections::HashSet;
use std::time::Duration;

use chinwag_proto::{
    ClientFrame, ConversationId, ErrorBody, ErrorCode, EventFrame, EventId, HubInfo, Message,
    ServerFrame, User,
};
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub use state::{LocalState, Pending};

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("local state: {0}")]
    State(#[from] sled::Error),
    #[error("local state entry: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the link has stopped")]
    Stopped,
}

pub type Result<T, E = LinkError> = std::result::Result<T, E>;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// The hub's WebSocket URL, e.g. `ws://192.168.1.20:7117/api/v1/ws`.
    pub url: String,
    pub token: String,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// When nothing has been heard for this long, the link pings the hub.
    pub keepalive: Duration,
    /// A connection that hears nothing (not even a pong) for this long is considered dead. A
    /// cable pulled out leaves TCP silent rather than closed; this is how it is noticed.
    pub idle_timeout: Duration,
}

impl LinkConfig {
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Self {
        LinkConfig {
            url: url.into(),
            token: token.into(),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(15),
            keepalive: Duration::from_secs(4),
            idle_timeout: Duration::from_secs(12),
        }
    }
}

/// What the link reports, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkEvent {
    /// Authenticated (`ready`); replayed events follow, then `Synced`.
    Connected {
        user: User,
        hub: HubInfo,
        last_event_id: EventId,
    },
    /// Every missed event has been delivered; the outbox is being sent.
    Synced,
    /// A durable event, exactly once and in order across reconnects.
    Event(EventFrame),
    /// A queued message was committed by the hub and left the outbox.
    Acked { message: Message, duplicate: bool },
    /// The hub refused a queued message for good (e.g. too large, not a member); it left the
    /// outbox.
    Refused { client_id: String, error: ErrorBody },
    /// Typing, presence of watched people, and replies to frames sent with
    /// [`Link::send_frame`].
    Frame(ServerFrame),
    /// The connection is gone; the next attempt is in `retry_in`.
    Disconnected { retry_in: Duration },
    /// The token was refused; the link has stopped.
    Unauthorized,
}

enum Command {
    /// Send whatever is in the outbox.
    Flush,
    Frame(ClientFrame),
    Shutdown,
}

/// A running link. Events arrive on the receiver returned by [`Link::start`].
pub struct Link {
    commands: mpsc::Sender<Command>,
    state: LocalState,
    task: JoinHandle<()>,
}

impl Link {
    pub fn start(config: LinkConfig, state: LocalState) -> (Link, mpsc::Receiver<LinkEvent>) {
        let (commands, command_rx) = mpsc::channel(256);
        let (events, event_rx) = mpsc::channel(1024);
        let task = tokio::spawn(run(config, state.clone(), command_rx, events));
        (
            Link {
                commands,
                state,
                task,
            },
            event_rx,
        )
    }

    /// Queues a message durably and sends it as soon as the link is synced. Returns its
    /// `client_id`.
    pub async fn send(&self, conversation_id: ConversationId, body: &str) -> Result<String> {
        let pending = Pending {
            client_id: new_client_id(),
            conversation_id,
            body: body.to_owned(),
            attachments: Vec::new(),
            reply_to: None,
            created_at: now_millis(),
        };
        self.enqueue(&pending).await?;
        Ok(pending.client_id)
    }

    /// Queues a message whose `client_id` the caller chose (a UI relaying its own outbox).
    /// Queuing the same `client_id` twice keeps one entry; returns whether it was new.
    pub async fn enqueue(&self, pending: &Pending) -> Result<bool> {
        let added = self.state.push(pending).await?;
        // If the task is busy the flush happens on the next sync anyway.
        let _ = self.commands.try_send(Command::Flush);
        Ok(added)
    }

    /// Sends any other frame (typing, receipts, presence) if connected; dropped otherwise.
    pub async fn send_frame(&self, frame: ClientFrame) -> Result<()> {
        self.commands
            .send(Command::Frame(frame))
            .await
            .map_err(|_| LinkError::Stopped)
    }

    /// Messages still waiting for the hub.
    pub fn pending(&self) -> Result<Vec<Pending>> {
        self.state.pending()
    }

    /// Closes the connection cleanly and stops; the outbox and cursor stay on disk.
    pub async fn shutdown(self) {
        let _ = self.commands.send(Command::Shutdown).await;
        let _ = self.task.await;
        let _ = self.state.flush().await;
    }
}

fn new_client_id() -> String {
    let bytes: [u8; 16] = rand::thread_rng().gen();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The wait before reconnect attempt `attempt`: doubling from the minimum, capped, then
/// jittered to between half and all of it so many clients do not reconnect in step.
pub fn backoff(attempt: u32, min: Duration, max: Duration) -> Duration {
    let base = min
        .saturating_mul(2u32.saturating_pow(attempt.min(20)))
        .min(max);
    let factor = rand::thread_rng().gen_range(0.5..=1.0);
    base.mul_f64(factor)
}

enum End {
    Lost { synced: bool },
    Unauthorized,
    Shutdown,
}

async fn run(
    config: LinkConfig,
    state: LocalState,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<LinkEvent>,
) {
    let mut attempt = 0u32;
    loop {
        match session(&config, &state, &mut commands, &events).await {
            End::Shutdown => return,
            End::Unauthorized => {
                let _ = events.send(LinkEvent::Unauthorized).await;
                return;
            }
            End::Lost { synced } => {
                if synced {
                    attempt = 0;
                }
            }
        }
        let delay = backoff(attempt, config.backoff_min, config.backoff_max);
        attempt = attempt.saturating_add(1);
        if events
            .send(LinkEvent::Disconnected { retry_in: delay })
            .await
            .is_err()
        {
            return;
        }
        let wake = tokio::time::sleep(delay);
        tokio::pin!(wake);
        loop {
            tokio::select! {
                _ = &mut wake => break,
                command = commands.recv() => match command {
                    None | Some(Command::Shutdown) => return,
                    // Stored already; sent after the next sync. Frames are ephemeral.
                    Some(Command::Flush | Command::Frame(_)) => {}
                },
            }
        }
    }
}

async fn session(
    config: &LinkConfig,
    state: &LocalState,
    commands: &mut mpsc::Receiver<Command>,
    events: &mpsc::Sender<LinkEvent>,
) -> End {
    let connect = raw::connect(&config.url, None);
    let mut ws = match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(err)) => {
            tracing::debug!("cannot reach the hub: {err}");
            return End::Lost { synced: false };
        }
        Err(_) => return End::Lost { synced: false },
    };
    let resume_from = state.cursor().ok().flatten();
    if ws
        .send(raw::auth_text(&config.token, resume_from))
        .await
        .is_err()
    {
        return End::Lost { synced: false };
    }
    let mut synced = false;
    let mut cursor = resume_from;
    let mut in_flight: HashSet<String> = HashSet::new();
    let mut last_heard = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(config.keepalive.min(config.idle_timeout));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let flush = tokio::select! {
            _ = tick.tick() => {
                let silent = last_heard.elapsed();
                if silent >= config.idle_timeout {
                    tracing::info!("the hub has been silent for {silent:?}; reconnecting");
                    return End::Lost { synced };
                }
                if silent >= config.keepalive
                    && ws.send(WsMessage::Ping(Vec::new().into())).await.is_err()
                {
                    return End::Lost { synced };
                }
                false
            }
            incoming = ws.next() => {
                let message = match incoming {
                    None | Some(Err(_)) => return End::Lost { synced },
                    Some(Ok(message)) => message,
                };
                last_heard = tokio::time::Instant::now();
                let raw = match message {
                    WsMessage::Text(raw) => raw,
                    WsMessage::Close(frame) => {
                        if frame.is_some_and(|f| u16::from(f.code) == 4401) {
                            return End::Unauthorized;
                        }
                        return End::Lost { synced };
                    }
                    _ => continue,
                };
                match handle(&raw, state, events, &mut cursor, &mut in_flight).await {
                    Handled::Continue => false,
                    Handled::Synced => {
                        synced = true;
                        true
                    }
                    Handled::Retry(after) => {
                        // Rate-limited or unavailable: try the outbox again a little later.
                        tokio::time::sleep(after).await;
                        true
                    }
                    Handled::Gone => return End::Shutdown,
                }
            }
            command = commands.recv() => match command {
                None | Some(Command::Shutdown) => {
                    let _ = ws.close(None).await;
                    return End::Shutdown;
                }
                Some(Command::Flush) => synced,
                Some(Command::Frame(frame)) => {
                    if ws.send(raw::text(&frame)).await.is_err() {
                        return End::Lost { synced };
                    }
                    false
                }
            },
        };
        if flush {
            let Ok(pending) = state.pending() else {
                continue;
            };
            for item in pending {
                if !in_flight.insert(item.client_id.clone()) {
                    continue;
                }
                let frame = ClientFrame::Send {
                    reference: Some(item.client_id.clone()),
                    conversation_id: item.conversation_id,
                    client_id: item.client_id,
                    body: item.body,
                    attachments: item.attachments,
                    reply_to: item.reply_to,
                };
                if ws.send(raw::text(&frame)).await.is_err() {
                    return End::Lost { synced };
                }
            }
        }
    }
}

enum Handled {
    Continue,
    Synced,
    Retry(Duration),
    /// The consumer of events is gone.
    Gone,
}

async fn handle(
    raw: &str,
    state: &LocalState,
    events: &mpsc::Sender<LinkEvent>,
    cursor: &mut Option<EventId>,
    in_flight: &mut HashSet<String>,
) -> Handled {
    let emit = |event| async move { events.send(event).await.is_ok() };
    // `event` frames are decoded on their own (the hub builds them from stored JSON); the
    // rest are `ServerFrame`s.
    let Ok(value) = serde_json::from_str::<serde_json::Value>(raw) else {
        return Handled::Continue;
    };
    if value["type"] == "event" {
        let Ok(frame) = serde_json::from_value::<EventFrame>(value) else {
            tracing::debug!("ignoring an event this version does not know");
            return Handled::Continue;
        };
        if cursor.is_some_and(|c| frame.id <= c) {
            return Handled::Continue;
        }
        *cursor = Some(frame.id);
        let _ = state.set_cursor(frame.id);
        return if emit(LinkEvent::Event(frame)).await {
            Handled::Continue
        } else {
            Handled::Gone
        };
    }
    let Ok(frame) = serde_json::from_value::<ServerFrame>(value) else {
        tracing::debug!("ignoring a frame this version does not know");
        return Handled::Continue;
    };
    let delivered = match frame {
        ServerFrame::Ready {
            user,
            hub,
            last_event_id,
            ..
        } => {
            if cursor.is_none() {
                *cursor = Some(last_event_id);
                let _ = state.set_cursor(last_event_id);
            }
            emit(LinkEvent::Connected {
                user,
                hub,
                last_event_id,
            })
            .await
        }
        ServerFrame::Synced {
            reset,
            last_event_id,
        } => {
            if reset {
                // Nothing was replayed (the hub's log does not reach our cursor, or was
                // restored from before it): follow from its newest, or every event up to
                // our old cursor would be taken for one already seen.
                *cursor = Some(last_event_id);
                let _ = state.set_cursor(last_event_id);
            }
            let _ = state.flush().await;
            if !emit(LinkEvent::Synced).await {
                return Handled::Gone;
            }
            return Handled::Synced;
        }
        ServerFrame::Ack {
            message, duplicate, ..
        } => {
            in_flight.remove(&message.client_id);
            match state.remove(&message.client_id) {
                Ok(true) => emit(LinkEvent::Acked { message, duplicate }).await,
                _ => true,
            }
        }
        ServerFrame::Error {
            reference: Some(reference),
            error,
        } if state
            .pending()
            .map(|p| p.iter().any(|i| i.client_id == reference))
            .unwrap_or(false) =>
        {
            in_flight.remove(&reference);
            if matches!(error.code, ErrorCode::RateLimited | ErrorCode::Unavailable) {
                let after = Duration::from_millis(error.retry_after_ms.unwrap_or(1000).max(100));
                return Handled::Retry(after);
            }
            let _ = state.remove(&reference);
            emit(LinkEvent::Refused {
                client_id: reference,
                error,
            })
            .await
        }
        other => emit(LinkEvent::Frame(other)).await,
    };
    if delivered {
        Handled::Continue
    } else {
        Handled::Gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters() {
        let min = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        for attempt in 0..30 {
            let d = backoff(attempt, min, max);
            let base = (min * 2u32.saturating_pow(attempt.min(20))).min(max);
            assert!(d >= base / 2 && d <= base, "attempt {attempt}: {d:?}");
        }
    }

    #[tokio::test]
    async fn outbox_survives_reopening_and_removes_by_client_id() {
        let dir = tempfile::tempdir().expect("dir");
        {
            let state = LocalState::open(dir.path()).expect("opens");
            for i in 0..3 {
                state
                    .push(&Pending {
                        client_id: format!("c{i}"),
                        conversation_id: ConversationId(1),
                        body: format!("m{i}"),
                        attachments: Vec::new(),
                        reply_to: None,
                        created_at: 0,
                    })
                    .await
                    .expect("pushed");
            }
            state.set_cursor(EventId(42)).expect("cursor");
            state.flush().await.expect("flush");
        }
        let state = LocalState::open(dir.path()).expect("reopens");
        let ids: Vec<String> = state
            .pending()
            .expect("pending")
            .into_iter()
            .map(|p| p.client_id)
            .collect();
        assert_eq!(ids, ["c0", "c1", "c2"], "kept, in order");
        assert!(state.remove("c1").expect("remove"));
        assert!(!state.remove("c1").expect("remove twice"));
        assert_eq!(state.pending().expect("pending").len(), 2);
        assert_eq!(state.cursor().expect("cursor"), Some(EventId(42)));
    }
}

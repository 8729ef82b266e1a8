//! The joined node's WebSocket face: the local connections the UI opens. Each authenticates
//! with the node's session, resumes from the node's event log exactly as it would from the
//! hub, then receives live frames; its `send` frames go to the link's durable outbox and its
//! other frames are relayed to the hub under a `ref` of the node's own.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chinwag_link::Pending;
use chinwag_proto::node::NodeReady;
use chinwag_proto::{parse_client_frame, validate, ApiError};
use chinwag_proto::{ClientFrame, ErrorCode, EventId, FileId, ServerFrame, User};
use chinwag_store::now_millis;
use chinwag_web::constant_time_eq;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{broadcast, mpsc};
use warp::ws::{Message as WsMessage, WebSocket};

use super::joined::*;

impl Joined {
    fn ready_frame(&self, user: &User, reference: Option<String>) -> String {
        let ready = NodeReady {
            reference,
            user: user.clone(),
            hub: self.store.hub_info(),
            last_event_id: self.last_event_id(),
        };
        text(&ready)
    }

    fn last_event_id(&self) -> EventId {
        self.store
            .last_event_id()
            .or_else(|| self.store.link.cursor().ok().flatten())
            .unwrap_or_default()
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
                reply_to,
            } => {
                if let Err(err) = self.check_send(&client_id, &body, &attachments) {
                    return Some(error_frame(reference, &err));
                }
                let pending = Pending {
                    client_id: client_id.clone(),
                    conversation_id,
                    body,
                    attachments,
                    reply_to,
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
                if reference.is_none()
                    && matches!(
                        other,
                        ClientFrame::Delivered { .. } | ClientFrame::Read { .. }
                    )
                {
                    // Nobody waits for it: relayed as it came, so the hub may merge it with
                    // the next ones (a report with a `ref` is written at once).
                    let link = self.link.lock().await;
                    if let Some(link) = link.as_ref() {
                        let _ = link.send_frame(other).await;
                    }
                    return None;
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
        let Some(ClientFrame::Auth {
            reference,
            token,
            resume_from,
        }) = auth
        else {
            let err = ApiError::new(
                ErrorCode::Unauthorized,
                r#"The first frame must be {"type":"auth","token":"..."}."#,
            );
            return refuse(&mut sink, None, &err, 4401, "unauthorized").await;
        };
        let resume_from = match validate::resume_from(resume_from) {
            Ok(from) => from,
            Err(invalid) => {
                let err = invalid.into();
                return refuse(&mut sink, reference, &err, 1008, "bad resume_from").await;
            }
        };
        let known = self
            .session_token()
            .is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes()));
        if !known {
            match self.adopt(&token).await {
                Ok(true) => {}
                Ok(false) => {
                    let err = ApiError::unauthorized();
                    return refuse(&mut sink, reference, &err, 4401, "unauthorized").await;
                }
                Err(err) => {
                    let reason = "the hub cannot be reached";
                    return refuse(&mut sink, reference, &err, 1013, reason).await;
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
        let ready = self.ready_frame(&user, reference);
        if sink.send(WsMessage::text(ready)).await.is_err() {
            return;
        }
        let newest = self.last_event_id();
        let mut cursor = resume_from.unwrap_or(newest);
        // The log keeps the newest events only: resuming from before them would skip some;
        // a cursor past the newest comes from a log this node no longer has. Either way
        // nothing can be replayed, and the client reloads.
        let reset = resume_from.is_some_and(|from| from < self.store.log_floor() || from > newest);
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
        if state != LinkState::Online
            && sink
                .send(WsMessage::text(link_frame(&state)))
                .await
                .is_err()
        {
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

/// Refuses a connection's first frame: the error (with the frame's `ref`), then the close.
async fn refuse<S>(
    sink: &mut S,
    reference: Option<String>,
    err: &ApiError,
    code: u16,
    reason: &'static str,
) where
    S: futures_util::Sink<WsMessage> + Unpin,
{
    let _ = sink
        .send(WsMessage::text(error_frame(reference, err)))
        .await;
    let _ = sink.send(WsMessage::close_with(code, reason)).await;
}

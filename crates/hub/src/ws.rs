//! The WebSocket endpoint `/api/v1/ws`.
//!
//! The upgrade is done here rather than with warp's `Ws` so that the connection gets a small
//! read buffer and hard frame limits (tokio-tungstenite would otherwise preallocate 128 KiB
//! per connection). Each connection then runs two halves: a reader task that decodes client
//! frames and submits work, and a writer loop that owns the socket and sends, in order, the
//! replies to those frames, the live events from the fan-out and the heartbeats.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chinwag_proto::rest::SendRequest;
use chinwag_proto::{
    event_frame, ApiError, ClientFrame, ConversationId, ErrorCode, EventId, ServerFrame, User,
    UserId,
};
use chinwag_store::queries;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;
use warp::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use warp::reply::Response;

use crate::api::live::{self, Allowance};
use crate::api::{messages, Pending};
use crate::auth;
use crate::fanout::{frame_text, ConnId, Fanout};
use crate::queue;
use crate::HubState;
use chinwag_web::error_response;

/// Close code sent when authentication fails or the session is revoked.
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
/// Replies a connection may have in flight before its reader waits.
const MAX_PENDING: usize = 256;
/// Events read from the store per page during a catch-up.
const CATCH_UP_PAGE: u32 = 500;
/// Most frames written before one flush.
const WRITE_BATCH: usize = 64;

type ReplyFuture = BoxFuture<'static, Option<Utf8Bytes>>;

/// What the reader hands the writer.
enum Reply {
    /// A reply to a client frame, in the order the frames arrived.
    Frame(ReplyFuture),
    /// Close the connection with this code and reason.
    Close(u16, String),
}

/// Answers the upgrade request: checks origin and headers (connection limits were applied
/// when the socket was accepted, see `chinwag_web::serve`), then replies
/// 101 and starts the connection.
pub(crate) fn upgrade(
    state: Arc<HubState>,
    method: Method,
    headers: HeaderMap,
    on_upgrade: Option<OnUpgrade>,
) -> Response {
    match prepare(&state, &method, &headers, on_upgrade) {
        Ok((key, on_upgrade)) => {
            // A 1 KiB read buffer: it is allocated for every connection, most of them idle,
            // and clients' frames are small (a bigger one is read in several calls, into a
            // buffer tungstenite sizes for that frame). 4 KiB cost 3 KiB per idle connection.
            let config = WebSocketConfig::default()
                .read_buffer_size(1024)
                .write_buffer_size(8 * 1024)
                .max_write_buffer_size(4 * 1024 * 1024)
                .max_message_size(Some(state.config.max_frame_bytes))
                .max_frame_size(Some(state.config.max_frame_bytes));
            let tasks = state.tasks.clone();
            tasks.spawn(async move {
                match on_upgrade.await {
                    Ok(upgraded) => {
                        let ws = WebSocketStream::from_raw_socket(
                            TokioIo::new(upgraded),
                            Role::Server,
                            Some(config),
                        )
                        .await;
                        connection(state, ws).await;
                    }
                    Err(err) => tracing::debug!("websocket upgrade failed: {err}"),
                }
            });
            let mut response = Response::default();
            *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            let headers = response.headers_mut();
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
                headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
            }
            response
        }
        Err(err) => error_response(&err),
    }
}

fn prepare(
    state: &Arc<HubState>,
    method: &Method,
    headers: &HeaderMap,
    on_upgrade: Option<OnUpgrade>,
) -> Result<(String, OnUpgrade), ApiError> {
    if method != Method::GET {
        return Err(ApiError::new(
            ErrorCode::MethodNotAllowed,
            "The WebSocket endpoint takes GET with an upgrade.",
        ));
    }
    if !origin_allowed(state, headers) {
        return Err(ApiError::new(
            ErrorCode::BadOrigin,
            "WebSocket connections are accepted only from this hub's own pages.",
        ));
    }
    let header_is = |name: header::HeaderName, want: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(want))
            })
    };
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (Some(key), Some(on_upgrade)) = (key, on_upgrade) else {
        return Err(not_websocket());
    };
    if !header_is(header::UPGRADE, "websocket")
        || !header_is(header::CONNECTION, "upgrade")
        || !header_is(header::SEC_WEBSOCKET_VERSION, "13")
    {
        return Err(not_websocket());
    }
    Ok((key, on_upgrade))
}

fn not_websocket() -> ApiError {
    ApiError::bad_request(
        "This is the WebSocket endpoint: connect with a WebSocket client (version 13).",
    )
}

/// A browser always sends `Origin`; it must be the hub's own (same host and port as the
/// `Host` it asked for) or one the admin allowed. Clients that are not browsers send none.
fn origin_allowed(state: &HubState, headers: &HeaderMap) -> bool {
    let listed = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_some_and(|origin| {
            state
                .config
                .allowed_origins
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(origin))
        });
    listed || chinwag_web::same_origin(headers)
}

/// Removes the connection from the fan-out however the connection ends.
struct Registered {
    fanout: Arc<Fanout>,
    id: ConnId,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.fanout.unregister(self.id);
    }
}

fn close_message(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from(reason),
    }))
}

async fn send<S>(sink: &mut S, message: Message, limit: Duration) -> bool
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    matches!(
        tokio::time::timeout(limit, sink.send(message)).await,
        Ok(Ok(()))
    )
}

async fn connection<T>(state: Arc<HubState>, ws: WebSocketStream<T>)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut stream) = ws.split();
    let mut shutdown = state.shutdown.subscribe();
    // A client that stops reading must not hold its task forever: a send that cannot finish
    // within two heartbeats ends the connection.
    let send_limit = (state.config.heartbeat * 2).max(Duration::from_secs(5));

    let first = tokio::select! {
        first = tokio::time::timeout(state.config.auth_timeout, stream.next()) => first,
        _ = shutdown.changed() => {
            send(&mut sink, close_message(1001, "the hub is shutting down"), send_limit).await;
            drain_until_closed(&mut stream).await;
            return;
        }
    };
    let Authenticated {
        user,
        session,
        resume_from,
        reference,
    } = match authenticate(&state, first).await {
        Ok(auth) => auth,
        Err(Some((err, code, reference))) => {
            send(
                &mut sink,
                Message::Text(frame_text(&err.frame(reference))),
                send_limit,
            )
            .await;
            send(&mut sink, close_message(code, &err.message), send_limit).await;
            drain_until_closed(&mut stream).await;
            return;
        }
        Err(None) => return,
    };

    let mut reg = state
        .fanout
        .register(user.id, session, state.config.outbound_queue);
    let _registered = Registered {
        fanout: state.fanout.clone(),
        id: reg.id,
    };
    // From memory, not the store: every event after it reaches this connection's queue.
    let last_event_id = reg.last_event_id;
    let ready = ServerFrame::Ready {
        reference,
        user: user.clone(),
        hub: state.info.clone(),
        last_event_id,
    };
    if !send(&mut sink, Message::Text(frame_text(&ready)), send_limit).await {
        return;
    }
    // Events up to the cursor have been delivered (or were known to the client already).
    let (mut cursor, reset) = match resume_from {
        // A cursor from a future this hub has not reached: its log was restored from an
        // older backup. Nothing can be replayed: the client reloads, as from a joined node
        // whose log no longer reaches back (`reset`).
        Some(from) if from > last_event_id => (last_event_id, true),
        Some(from) => {
            let mut cursor = from;
            if !catch_up(&state, user.id, &mut cursor, &mut sink, send_limit).await {
                return;
            }
            (cursor, false)
        }
        None => (last_event_id, false),
    };
    let synced = ServerFrame::Synced {
        reset,
        last_event_id: cursor,
    };
    if !send(&mut sink, Message::Text(frame_text(&synced)), send_limit).await {
        return;
    }

    let started = Instant::now();
    let last_seen = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU32::new(0));
    let (reply_tx, mut reply_rx) = queue::bounded::<Reply>(64);
    let stop_reading = CancellationToken::new();
    let reader = tokio::spawn(reader(
        ReaderCtx {
            state: state.clone(),
            user_id: user.id,
            conn: reg.id,
            started,
            last_seen: last_seen.clone(),
            errors,
        },
        stream,
        reply_tx,
        stop_reading.clone(),
    ));

    let heartbeat = state.config.heartbeat;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    let mut pending: FuturesOrdered<ReplyFuture> = FuturesOrdered::new();
    let close: Option<(u16, String)> = loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => break Some((1001, "the hub is shutting down".into())),
            _ = reg.kicked.notified() => {
                let err = ApiError::new(ErrorCode::Unauthorized, "This session was signed out.");
                send(&mut sink, Message::Text(frame_text(&err.frame(None))), send_limit).await;
                break Some((CLOSE_UNAUTHORIZED, "session revoked".into()));
            }
            Some(done) = pending.next(), if !pending.is_empty() => {
                // This reply and every other one already done, then one flush: a client with
                // many sends in flight gets their acks in one write after a group commit.
                let batch = async {
                    let mut next = Some(done);
                    let mut fed = 0;
                    while let Some(done) = next.take() {
                        if let Some(text) = done {
                            sink.feed(Message::Text(text)).await?;
                            fed += 1;
                        }
                        if fed < WRITE_BATCH {
                            next = pending.next().now_or_never().flatten();
                        }
                    }
                    sink.flush().await
                };
                if !matches!(tokio::time::timeout(send_limit, batch).await, Ok(Ok(()))) {
                    break None;
                }
            }
            reply = reply_rx.recv(), if pending.len() < MAX_PENDING => match reply {
                Some(Reply::Frame(future)) => pending.push_back(future),
                Some(Reply::Close(code, reason)) => break Some((code, reason)),
                None => break None,
            },
            out = reg.queue.recv() => {
                let Some(out) = out else { break None };
                if reg.lagged.swap(false, Ordering::AcqRel) {
                    state.metrics.resyncs.fetch_add(1, Ordering::Relaxed);
                    if !catch_up(&state, user.id, &mut cursor, &mut sink, send_limit).await {
                        break None;
                    }
                }
                // Write this frame and whatever else is already queued, then flush once: a
                // busy conversation costs one write per batch rather than one per frame.
                let batch = async {
                    let mut next = Some(out);
                    let mut fed = 0;
                    while let Some(out) = next.take() {
                        let fresh = out.event_id.is_none_or(|id| id > cursor);
                        if fresh {
                            if let Some(id) = out.event_id {
                                cursor = id;
                            }
                            sink.feed(Message::Text(out.text)).await?;
                            fed += 1;
                        }
                        if fed < WRITE_BATCH && !reg.lagged.load(Ordering::Acquire) {
                            next = reg.queue.try_recv();
                        }
                    }
                    sink.flush().await
                };
                if !matches!(tokio::time::timeout(send_limit, batch).await, Ok(Ok(()))) {
                    break None;
                }
            }
            _ = ping.tick() => {
                let silent_ms = (started.elapsed().as_millis() as u64)
                    .saturating_sub(last_seen.load(Ordering::Relaxed));
                if silent_ms > heartbeat.as_millis() as u64 * 5 / 2 {
                    tracing::debug!(user = user.id.get(), "no heartbeat for {silent_ms} ms; dropping");
                    // The peer is gone: a goodbye, but no waiting for answers from it.
                    send(&mut sink, close_message(1001, "no heartbeat"), send_limit).await;
                    break None;
                }
                if !send(&mut sink, Message::Ping(Default::default()), send_limit).await {
                    break None;
                }
            }
        }
    };
    let Some((code, reason)) = close else {
        // The socket failed or stopped taking writes: nothing more can be said.
        reader.abort();
        return;
    };
    // A close the hub decided (going away, revoked, abuse): stop reading, answer every frame
    // already read, say goodbye, then read what the peer still sends until its own close, so
    // that closing the socket does not reset it and wipe the answers on their way.
    stop_reading.cancel();
    let stream = answer_what_was_read(&mut sink, reader, reply_rx, pending, send_limit).await;
    send(&mut sink, close_message(code, &reason), send_limit).await;
    if let Some(mut stream) = stream {
        drain_until_closed(&mut stream).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
}

/// How long a closing connection may take to answer the frames it had read.
const ANSWER_BEFORE_CLOSE: Duration = Duration::from_secs(3);
/// How long a closing connection reads what the peer still sends, waiting for its close.
const DRAIN_BEFORE_CLOSE: Duration = Duration::from_secs(1);

/// Once the reader was told to stop: sends, in order, the reply to every frame it read
/// (those writes are committed or refused either way, and the client should hear which), and
/// gives back the stream when the reader has stopped. Bounded by [`ANSWER_BEFORE_CLOSE`].
async fn answer_what_was_read<S, R>(
    sink: &mut S,
    reader: tokio::task::JoinHandle<R>,
    mut replies: queue::Receiver<Reply>,
    mut pending: FuturesOrdered<ReplyFuture>,
    limit: Duration,
) -> Option<R>
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    let abort = reader.abort_handle();
    let answer = async {
        // The reader's sender drops when it returns: then every frame it read is in hand.
        let mut reading = true;
        while reading || !pending.is_empty() {
            tokio::select! {
                biased;
                Some(done) = pending.next(), if !pending.is_empty() => {
                    if let Some(text) = done {
                        if !send(sink, Message::Text(text), limit).await {
                            return None;
                        }
                    }
                }
                reply = replies.recv(), if reading => match reply {
                    Some(Reply::Frame(future)) => pending.push_back(future),
                    Some(Reply::Close(..)) => {}
                    None => reading = false,
                },
            }
        }
        reader.await.ok()
    };
    let stream = tokio::time::timeout(ANSWER_BEFORE_CLOSE, answer)
        .await
        .ok()
        .flatten();
    abort.abort();
    stream
}

/// After the hub's close frame: reads and drops what the peer still sends, until its close
/// frame or [`DRAIN_BEFORE_CLOSE`]. A socket closed with unread input is reset, and a reset
/// discards what was still on its way to the peer (the last answers, the close frame).
async fn drain_until_closed<S>(stream: &mut S)
where
    S: Stream<Item = Result<Message, WsError>> + Unpin,
{
    let drain = async {
        while let Some(Ok(message)) = stream.next().await {
            if message.is_close() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_BEFORE_CLOSE, drain).await;
}

/// A connection's `auth` frame, accepted.
struct Authenticated {
    user: User,
    /// The session's token hash.
    session: Vec<u8>,
    resume_from: Option<EventId>,
    /// The frame's `ref`, echoed in `ready`.
    reference: Option<String>,
}

/// A refused first frame: the error to send (with the frame's `ref`, if it had one) and the
/// close code.
type Refused = (ApiError, u16, Option<String>);

/// Checks the first frame. `Err(None)` means the peer went away.
async fn authenticate(
    state: &HubState,
    first: Result<Option<Result<Message, WsError>>, tokio::time::error::Elapsed>,
) -> Result<Authenticated, Option<Refused>> {
    let message = match first {
        Err(_) => {
            return Err(Some((
                ApiError::new(
                    ErrorCode::Unauthorized,
                    format!(
                        "No auth frame within {} seconds.",
                        state.config.auth_timeout.as_secs()
                    ),
                ),
                1008,
                None,
            )))
        }
        Ok(None) | Ok(Some(Err(_))) => return Err(None),
        Ok(Some(Ok(message))) => message,
    };
    let wrong_first = || {
        Some((
            ApiError::new(
                ErrorCode::Unauthorized,
                r#"The first frame must be {"type":"auth","token":"..."}."#,
            ),
            CLOSE_UNAUTHORIZED,
            None,
        ))
    };
    let Message::Text(text) = message else {
        return Err(wrong_first());
    };
    let Ok(ClientFrame::Auth {
        reference,
        token,
        resume_from,
    }) = serde_json::from_str(&text)
    else {
        return Err(wrong_first());
    };
    let resume_from = match chinwag_proto::validate::resume_from(resume_from) {
        Ok(from) => from,
        Err(invalid) => return Err(Some((invalid.into(), 1008, reference))),
    };
    let hash = auth::token_hash(&token);
    let user = match crate::api::accounts::session_user(state, &hash).await {
        Ok(user) => user,
        Err(err) => return Err(Some((err, 1011, reference))),
    };
    match user {
        Some(user) => Ok(Authenticated {
            user,
            session: hash,
            resume_from,
            reference,
        }),
        None => Err(Some((
            ApiError::unauthorized(),
            CLOSE_UNAUTHORIZED,
            reference,
        ))),
    }
}

/// Sends every event after `cursor` that the user may see, from the store, advancing the
/// cursor. False when the socket failed.
async fn catch_up<S>(
    state: &HubState,
    user_id: UserId,
    cursor: &mut EventId,
    sink: &mut S,
    limit: Duration,
) -> bool
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    loop {
        let after = *cursor;
        let rows = match state
            .store
            .read(move |c| queries::events_for_user(c, user_id, after, CATCH_UP_PAGE))
            .await
        {
            Ok(rows) => rows,
            Err(err) => {
                tracing::error!("catch-up read failed: {err}");
                return false;
            }
        };
        let count = rows.len();
        for (id, payload) in rows {
            let text = Utf8Bytes::from(event_frame(id, &payload));
            if !send(sink, Message::Text(text), limit).await {
                return false;
            }
            *cursor = id;
        }
        if count < CATCH_UP_PAGE as usize {
            return true;
        }
    }
}

struct ReaderCtx {
    state: Arc<HubState>,
    user_id: UserId,
    conn: ConnId,
    started: Instant,
    last_seen: Arc<AtomicU64>,
    /// Errors reported by replies that completed later (store refusals).
    errors: Arc<AtomicU32>,
}

/// Counts a connection's bad frames in 10-second windows.
struct Abuse {
    window: Instant,
    count: u32,
    seen_late: u32,
}

impl Abuse {
    fn exceeded(&mut self, immediate: bool, late_total: u32, max: u32) -> bool {
        if self.window.elapsed() > Duration::from_secs(10) {
            self.window = Instant::now();
            self.count = 0;
        }
        self.count += u32::from(immediate) + late_total.saturating_sub(self.seen_late);
        self.seen_late = late_total;
        self.count > max
    }
}

/// Reads and handles the client's frames until the stream ends, the connection must close,
/// or `stop` (then it finishes the frame in hand first); gives the stream back, so that what
/// the peer still sends can be drained before the socket closes.
async fn reader<S>(
    ctx: ReaderCtx,
    mut stream: S,
    replies: queue::Sender<Reply>,
    stop: CancellationToken,
) -> S
where
    S: Stream<Item = Result<Message, WsError>> + Unpin,
{
    let config = &ctx.state.config;
    let allowance = Allowance::new(&ctx.state);
    let mut abuse = Abuse {
        window: Instant::now(),
        count: 0,
        seen_late: 0,
    };
    loop {
        let next = tokio::select! {
            biased;
            () = stop.cancelled() => return stream,
            next = stream.next() => next,
        };
        let message = match next {
            None => return stream,
            Some(Ok(message)) => message,
            Some(Err(err)) => {
                let close = match err {
                    WsError::Capacity(_) => Some((
                        1009,
                        format!(
                            "frame too large: the limit is {} bytes",
                            config.max_frame_bytes
                        ),
                    )),
                    WsError::Utf8(_) => Some((1007, "text frames must be UTF-8".into())),
                    WsError::Protocol(p) => Some((1002, format!("protocol error: {p}"))),
                    _ => None,
                };
                if let Some((code, reason)) = close {
                    let _ = replies.send(Reply::Close(code, reason)).await;
                }
                return stream;
            }
        };
        ctx.last_seen
            .store(ctx.started.elapsed().as_millis() as u64, Ordering::Relaxed);
        let outcome = match message {
            Message::Text(text) => handle_text(&ctx, &text, &allowance).await,
            Message::Binary(_) => Err((
                ApiError::bad_request("Frames must be JSON text, not binary."),
                None,
            )),
            Message::Close(_) => return stream,
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(None),
        };
        let (reply, failed) = match outcome {
            Ok(reply) => (reply, false),
            Err((err, reference)) => {
                let abuse = is_abuse(err.code);
                let text = frame_text(&err.frame(reference));
                let ready: ReplyFuture = Box::pin(async move { Some(text) });
                (Some(ready), abuse)
            }
        };
        if let Some(reply) = reply {
            if replies.send(Reply::Frame(reply)).await.is_err() {
                return stream;
            }
        }
        let late = ctx.errors.load(Ordering::Relaxed);
        if abuse.exceeded(failed, late, config.max_bad_frames) {
            let _ = replies
                .send(Reply::Close(1008, "too many bad frames".into()))
                .await;
            return stream;
        }
    }
}

type Handled = Result<Option<ReplyFuture>, (ApiError, Option<String>)>;

/// Decodes one text frame and hands it to its use case. Immediate failures come back as
/// `Err`; failures of work done by the store come back later through the reply future.
async fn handle_text(ctx: &ReaderCtx, text: &str, allowance: &Allowance) -> Handled {
    let frame = chinwag_proto::parse_client_frame(text)?;
    let reference = frame.reference().map(str::to_owned);
    let fail = |err: ApiError| (err, reference.clone());
    let hub = &ctx.state;
    let me = ctx.user_id;
    match frame {
        ClientFrame::Auth { .. } => Err(fail(ApiError::bad_request(
            "This connection is already authenticated.",
        ))),
        ClientFrame::Send {
            reference,
            conversation_id,
            client_id,
            body,
            attachments,
            reply_to,
        } => {
            let req = SendRequest {
                client_id,
                body,
                attachments,
                reply_to,
            };
            let pending = messages::send(hub, me, conversation_id, req)
                .await
                .map_err(fail)?;
            Ok(Some(later(ctx, reference, pending, |sent, reference| {
                frame_text(&ServerFrame::Ack {
                    reference,
                    message: sent.message,
                    duplicate: sent.duplicate,
                })
            })))
        }
        ClientFrame::Edit {
            reference,
            message_id,
            body,
        } => {
            let pending = messages::edit(hub, me, message_id, body)
                .await
                .map_err(fail)?;
            Ok(Some(later(ctx, reference, pending, ack)))
        }
        ClientFrame::Delete {
            reference,
            message_id,
        } => {
            let pending = messages::delete(hub, me, message_id).await.map_err(fail)?;
            Ok(Some(later(ctx, reference, pending, ack)))
        }
        ClientFrame::Typing {
            reference,
            conversation_id,
            typing,
        } => {
            live::typing(hub, allowance, me, conversation_id, typing).map_err(fail)?;
            Ok(ok_reply(reference))
        }
        ClientFrame::Delivered {
            reference,
            conversation_id,
            seq,
        } => receipt(ctx, reference, conversation_id, Some(seq), None).await,
        ClientFrame::Read {
            reference,
            conversation_id,
            seq,
        } => receipt(ctx, reference, conversation_id, None, Some(seq)).await,
        ClientFrame::Presence { reference, status } => {
            live::presence(hub, ctx.conn, status).map_err(fail)?;
            Ok(ok_reply(reference))
        }
        ClientFrame::Watch {
            reference,
            user_ids,
        } => match live::watch(hub, allowance, ctx.conn, &user_ids, reference.clone()) {
            Ok(None) => Ok(None),
            Ok(Some(text)) => Ok(Some(Box::pin(async move { Some(text) }))),
            Err(err) => Err(fail(err)),
        },
        ClientFrame::React {
            reference,
            message_id,
            emoji,
            on,
        } => {
            let pending = messages::react(hub, me, message_id, emoji, on)
                .await
                .map_err(fail)?;
            Ok(Some(later(ctx, reference, pending, |_, reference| {
                frame_text(&ServerFrame::Ok { reference })
            })))
        }
        ClientFrame::MarkUnread {
            reference,
            conversation_id,
            seq,
        } => {
            let pending = messages::mark_unread(hub, me, conversation_id, seq)
                .await
                .map_err(fail)?;
            Ok(Some(later(ctx, reference, pending, |(), reference| {
                frame_text(&ServerFrame::Ok { reference })
            })))
        }
        ClientFrame::Ping { reference } => {
            let text = frame_text(&ServerFrame::Pong { reference });
            Ok(Some(Box::pin(async move { Some(text) })))
        }
    }
}

/// A receipt's reply: `ok` when the frame had a `ref`, nothing otherwise.
async fn receipt(
    ctx: &ReaderCtx,
    reference: Option<String>,
    conversation_id: ConversationId,
    delivered: Option<i64>,
    read: Option<i64>,
) -> Handled {
    let at_once = reference.is_some();
    let Some(pending) = messages::receipt(
        &ctx.state,
        ctx.user_id,
        conversation_id,
        delivered,
        read,
        at_once,
    )
    .await
    .map_err(|e| (e, reference.clone()))?
    else {
        return Ok(None); // merged into the person's next write
    };
    let errors = ctx.errors.clone();
    Ok(Some(Box::pin(async move {
        match pending.await {
            Ok(_) => reference.map(|reference| {
                frame_text(&ServerFrame::Ok {
                    reference: Some(reference),
                })
            }),
            Err(err) => Some(late_error(&errors, err, reference)),
        }
    })))
}

/// The `ack` of an edit or delete.
fn ack(message: chinwag_proto::Message, reference: Option<String>) -> Utf8Bytes {
    frame_text(&ServerFrame::Ack {
        reference,
        message,
        duplicate: false,
    })
}

/// The reply to a queued write: `done`'s frame once it commits, with the frame's `ref`, or
/// the error it failed with.
fn later<T: Send + 'static>(
    ctx: &ReaderCtx,
    reference: Option<String>,
    pending: Pending<T>,
    done: fn(T, Option<String>) -> Utf8Bytes,
) -> ReplyFuture {
    let errors = ctx.errors.clone();
    Box::pin(async move {
        Some(match pending.await {
            Ok(value) => done(value, reference),
            Err(err) => late_error(&errors, err, reference),
        })
    })
}

fn late_error(errors: &AtomicU32, err: ApiError, reference: Option<String>) -> Utf8Bytes {
    if is_abuse(err.code) {
        errors.fetch_add(1, Ordering::Relaxed);
    }
    frame_text(&err.frame(reference))
}

/// Whether a refused frame counts towards closing the connection (1008, "too many bad
/// frames"). Pace is not abuse: a client told `rate_limited` that waits `retry_after_ms`, or
/// one whose frames meet a hub that cannot save right now (`unavailable`), is doing what
/// the protocol asks and is slowed down, never thrown off.
fn is_abuse(code: ErrorCode) -> bool {
    !matches!(code, ErrorCode::RateLimited | ErrorCode::Unavailable)
}

fn ok_reply(reference: Option<String>) -> Option<ReplyFuture> {
    let reference = reference?;
    let text = frame_text(&ServerFrame::Ok {
        reference: Some(reference),
    });
    Some(Box::pin(async move { Some(text) }))
}

//! The joined node's REST: requests from the local UI are forwarded to the hub unchanged,
//! and the answers remembered where that lets the user keep reading while the hub is away.
//! Signing in and out through the node starts and stops its link.

use std::sync::Arc;

use bytes::Bytes;
use chinwag_proto::rest::{MessagePage, SessionResponse};
use chinwag_proto::ApiError;
use chinwag_proto::{ConversationId, Message, Seq};
use chinwag_web::error_response;
use serde_json::Value;
use warp::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use warp::reply::Response;
use warp::Reply;

use super::joined::{unreachable_error, Joined};

/// Largest answer the node relays from the hub.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Headers passed from the UI to the hub, and back.
const REQUEST_HEADERS: [header::HeaderName; 4] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::ACCEPT,
    header::IF_NONE_MATCH,
];
const RESPONSE_HEADERS: [header::HeaderName; 5] = [
    header::CONTENT_TYPE,
    header::RETRY_AFTER,
    header::ALLOW,
    header::ETAG,
    header::CACHE_CONTROL,
];

/// Headers a file transfer passes on, each way, besides those above.
const FILE_REQUEST_HEADERS: [header::HeaderName; 3] =
    [header::CONTENT_LENGTH, header::RANGE, header::IF_RANGE];
const FILE_RESPONSE_HEADERS: [header::HeaderName; 6] = [
    header::CONTENT_LENGTH,
    header::CONTENT_RANGE,
    header::ACCEPT_RANGES,
    header::CONTENT_DISPOSITION,
    header::X_CONTENT_TYPE_OPTIONS,
    header::CONTENT_SECURITY_POLICY,
];

/// How long one file transfer through the node may take.
const FILE_TRANSFER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// Uploads (`conversations/{id}/files`) and downloads (`files/...`): streamed through,
/// never held whole and never kept.
pub(crate) fn is_file_transfer(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    matches!(
        parts.as_slice(),
        ["conversations", _, "files"] | ["files", ..]
    )
}

/// Streams a file transfer to the hub and its answer back, chunk by chunk.
pub(crate) async fn forward_file<S, B>(
    joined: Arc<Joined>,
    path: &str,
    method: Method,
    headers: &HeaderMap,
    query: &str,
    body: S,
) -> Response
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Send + 'static,
    B: bytes::Buf + Send + 'static,
{
    use futures_util::StreamExt;
    // Refused here, as the hub would, when the hub's limit is known: a hub that refuses an
    // upload from its headers closes the connection while the body is still being sent, and
    // its answer would be lost on the way.
    let limit = joined
        .store
        .hub_info()
        .map(|h| h.limits.max_upload_bytes)
        .filter(|limit| *limit > 0);
    if let (Some(limit), true) = (limit, method == Method::POST) {
        if let Err(err) = chinwag_web::check_declared_upload(headers, limit) {
            return error_response(&err);
        }
    }
    let url = hub_url(&joined, path, query);
    let upload = body.map(|chunk| chunk.map(|mut buf| buf.copy_to_bytes(buf.remaining())));
    let mut request = joined
        .http
        .request(method.clone(), &url)
        .timeout(FILE_TRANSFER_TIMEOUT);
    if method == Method::POST {
        request = request.body(reqwest::Body::wrap_stream(upload));
    }
    for name in REQUEST_HEADERS.iter().chain(&FILE_REQUEST_HEADERS) {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(err) => {
            tracing::debug!("the hub did not take {method} /{path}: {err}");
            return error_response(&unreachable_error(&joined.hub));
        }
    };
    let mut response = Response::default();
    *response.status_mut() = answer.status();
    for name in RESPONSE_HEADERS.iter().chain(&FILE_RESPONSE_HEADERS) {
        if let Some(value) = answer.headers().get(name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    // reqwest's stream is not `Sync`, which warp wants: a small channel stands between.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, reqwest::Error>>(4);
    tokio::spawn(async move {
        let mut chunks = answer.bytes_stream();
        while let Some(chunk) = chunks.next().await {
            if tx.send(chunk).await.is_err() {
                break; // The UI went away.
            }
        }
    });
    let relayed = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let (parts, _) = response.into_parts();
    let body = warp::reply::stream(relayed).into_response().into_body();
    Response::from_parts(parts, body)
}

/// The hub's URL for an API path and query string.
fn hub_url(joined: &Joined, path: &str, query: &str) -> String {
    let mut url = format!("{}/api/v1/{path}", joined.hub.http_url());
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// Reads the node can answer from what it kept, when the hub is away.
#[derive(Debug, PartialEq, Eq)]
enum Cacheable {
    /// Stored whole under its path.
    Whole(String),
    /// Answered from the kept history.
    Messages(ConversationId),
    /// The conversation list, patched with newer kept messages.
    Conversations,
}

fn cacheable(path: &str) -> Option<Cacheable> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["hub"] | ["me"] | ["users"] => Some(Cacheable::Whole(path.to_owned())),
        ["conversations"] => Some(Cacheable::Conversations),
        ["conversations", id] if id.parse::<ConversationId>().is_ok() => {
            Some(Cacheable::Whole(path.to_owned()))
        }
        ["conversations", id, "messages"] => id.parse().ok().map(Cacheable::Messages),
        _ => None,
    }
}

/// `conversations/{id}/mute`: the conversation whose mute was set.
fn muted_conversation(path: &str) -> Option<ConversationId> {
    match path.split('/').collect::<Vec<_>>().as_slice() {
        ["conversations", id, "mute"] => id.parse().ok(),
        _ => None,
    }
}

/// The hub accepted `{"muted": bool}` for conversation `id`: the kept conversation list says
/// so at once, since desktop notifications follow it (the list is fetched again only on the
/// next start or reconnect).
fn keep_mute(joined: &Joined, id: ConversationId, sent: &[u8]) {
    #[derive(serde::Deserialize)]
    struct Mute {
        muted: bool,
    }
    if let Ok(Mute { muted }) = serde_json::from_slice::<Mute>(sent) {
        joined.store.set_kept_mute(id, muted);
    }
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub(crate) async fn forward(
    joined: Arc<Joined>,
    path: String,
    method: Method,
    headers: HeaderMap,
    query: String,
    body: Bytes,
) -> Response {
    let url = hub_url(&joined, &path, &query);
    let sent = body.clone(); // shares the bytes
    let mut request = joined.http.request(method.clone(), &url).body(body);
    for name in REQUEST_HEADERS {
        if let Some(value) = headers.get(&name) {
            request = request.header(name, value);
        }
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(err) => {
            tracing::debug!("the hub did not answer {method} /{path}: {err}");
            return offline(&joined, &path, &method, &headers, &query);
        }
    };
    let status = answer.status();
    let mut kept = HeaderMap::new();
    for name in RESPONSE_HEADERS {
        if let Some(value) = answer.headers().get(&name) {
            kept.insert(name, value.clone());
        }
    }
    if answer
        .content_length()
        .is_some_and(|n| n as usize > MAX_RESPONSE_BYTES)
    {
        return error_response(&ApiError::new(
            chinwag_proto::ErrorCode::TooLarge,
            "The hub's answer is too large to relay.",
        ));
    }
    let body = match answer.bytes().await {
        Ok(body) if body.len() <= MAX_RESPONSE_BYTES => body,
        _ => return offline(&joined, &path, &method, &headers, &query),
    };

    if status.is_success() {
        remember(&joined, &path, &method, &headers, &query, &sent, &body).await;
    }

    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    *response.headers_mut() = kept;
    response
}

/// Side effects of a successful answer: sessions, and what to keep for offline reading.
/// `sent` is the request's body, `body` the answer's.
async fn remember(
    joined: &Arc<Joined>,
    path: &str,
    method: &Method,
    headers: &HeaderMap,
    query: &str,
    sent: &[u8],
    body: &[u8],
) {
    if method == Method::PUT && joined.carries_session(headers) {
        if let Some(id) = muted_conversation(path) {
            keep_mute(joined, id, sent);
            return;
        }
    }
    match (method, path) {
        (&Method::POST, "auth/login" | "auth/register") => {
            if let Ok(session) = serde_json::from_slice::<SessionResponse>(body) {
                joined.signed_in(session.token, session.user).await;
            }
            return;
        }
        (&Method::POST, "auth/logout") => {
            if joined.carries_session(headers) {
                joined.signed_out().await;
            }
            return;
        }
        _ => {}
    }
    if method != Method::GET {
        return;
    }
    let Some(kind) = cacheable(path) else {
        return;
    };
    // Keep answers for the signed-in user only (and the hub's public facts).
    if !joined.carries_session(headers) && kind != Cacheable::Whole("hub".into()) {
        return;
    }
    let stored = match kind {
        Cacheable::Whole(key) => joined.store.cache_put(&key, body),
        Cacheable::Conversations => joined.store.cache_put("conversations", body),
        Cacheable::Messages(_) => match serde_json::from_slice::<MessagePage>(body) {
            Ok(page) => page
                .messages
                .iter()
                .try_for_each(|m| joined.store.remember(m)),
            Err(_) => Ok(()),
        },
    };
    if let Err(err) = stored {
        tracing::warn!("cannot keep /{path}?{query} for offline reading: {err}");
    }
}

/// The hub did not answer: reads come from what was kept, everything else is refused with
/// `unavailable` (the UI's outbox keeps messages; they go out over the link).
fn offline(
    joined: &Joined,
    path: &str,
    method: &Method,
    headers: &HeaderMap,
    query: &str,
) -> Response {
    let refuse = || error_response(&unreachable_error(&joined.hub));
    if method != Method::GET {
        return refuse();
    }
    let Some(kind) = cacheable(path) else {
        return refuse();
    };
    let ours = joined.carries_session(headers);
    let body = match kind {
        Cacheable::Whole(key) if key == "hub" => joined.store.cache_get(&key),
        _ if !ours => {
            // Without the stored session nothing private is shown; say why.
            return error_response(&ApiError::unauthorized());
        }
        Cacheable::Whole(key) => joined.store.cache_get(&key),
        Cacheable::Conversations => joined
            .store
            .cache_get("conversations")
            .map(|raw| patch_conversations(joined, &raw)),
        Cacheable::Messages(conversation) => {
            let (before, after, limit) = page_query(query);
            let (messages, has_more) =
                joined
                    .store
                    .history_page(conversation, before, after, limit);
            serde_json::to_vec(&MessagePage { messages, has_more }).ok()
        }
    };
    match body {
        Some(body) => {
            let mut response = json_response(StatusCode::OK, body);
            response
                .headers_mut()
                .insert("x-chinwag-offline", HeaderValue::from_static("1"));
            response
        }
        None => refuse(),
    }
}

fn page_query(query: &str) -> (Option<Seq>, Option<Seq>, usize) {
    let mut before = None;
    let mut after = None;
    let mut limit = 50usize;
    for pair in query.split('&') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        match key {
            "before" => before = value.parse().ok(),
            "after" => after = value.parse().ok(),
            "limit" => limit = value.parse().unwrap_or(50),
            _ => {}
        }
    }
    (before, after, limit.clamp(1, 200))
}

/// Brings a kept conversation list up to the kept history: newer last messages and unread
/// counts from messages that arrived after the list was fetched.
fn patch_conversations(joined: &Joined, raw: &[u8]) -> Vec<u8> {
    let Ok(Value::Array(mut list)) = serde_json::from_slice::<Value>(raw) else {
        return raw.to_vec();
    };
    let me = joined.session_user_id();
    for summary in &mut list {
        let (Some(id), Some(last_seq)) = (
            summary.get("id").and_then(Value::as_i64),
            summary.get("last_seq").and_then(Value::as_i64),
        ) else {
            continue;
        };
        let newer: Vec<Message> = joined.store.newer_than(ConversationId(id), last_seq);
        let Some(latest) = newer.last() else {
            continue;
        };
        let from_others = newer
            .iter()
            .filter(|m| Some(m.sender_id) != me && !m.deleted)
            .count() as u64;
        let unread = summary.get("unread").and_then(Value::as_u64).unwrap_or(0) + from_others;
        summary["last_seq"] = latest.seq.into();
        summary["last_activity_at"] = latest.created_at.into();
        summary["last_message"] = serde_json::to_value(latest).unwrap_or(Value::Null);
        summary["unread"] = unread.min(9999).into();
    }
    list.sort_by_key(|s| {
        std::cmp::Reverse(
            s.get("last_activity_at")
                .and_then(Value::as_i64)
                .unwrap_or(0),
        )
    });
    serde_json::to_vec(&list).unwrap_or_else(|_| raw.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reads_worth_keeping_are_cacheable() {
        assert_eq!(cacheable("hub"), Some(Cacheable::Whole("hub".into())));
        assert_eq!(cacheable("conversations"), Some(Cacheable::Conversations));
        assert_eq!(
            cacheable("conversations/12"),
            Some(Cacheable::Whole("conversations/12".into()))
        );
        assert_eq!(
            cacheable("conversations/12/messages"),
            Some(Cacheable::Messages(ConversationId(12)))
        );
        assert_eq!(cacheable("conversations/x/messages"), None);
        assert_eq!(cacheable("auth/login"), None);
        assert_eq!(cacheable("events"), None);
    }

    #[test]
    fn page_queries_are_read_leniently_and_clamped() {
        assert_eq!(page_query(""), (None, None, 50));
        assert_eq!(page_query("before=9&limit=500"), (Some(9), None, 200));
        assert_eq!(page_query("after=3&limit=0&x"), (None, Some(3), 1));
        assert_eq!(page_query("limit=abc"), (None, None, 50));
    }
}

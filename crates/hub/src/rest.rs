//! The REST API under `/api/v1`.
//!
//! One dispatcher parses the path into an [`Endpoint`] and the method into a handler, so
//! that unknown paths get a JSON 404 and known paths with the wrong method a JSON 405, and
//! bodies are read with a hard size limit before any parsing.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use chinwag_proto::admin::{CreateUserRequest, MuteRequest, ReportRequest, UpdateUserRequest};
use chinwag_proto::rest::{
    AddMembersRequest, CreateGroupRequest, DirectRequest, EditRequest, EventPage, LoginRequest,
    ReceiptRequest, RegisterRequest, RenameRequest, SendRequest, SessionResponse, SetRoleRequest,
    UpdateProfileRequest,
};
use chinwag_proto::{DirectoryEntry, ErrorCode, EventFrame, HubInfo, ServerFrame, User, UserId};
use chinwag_store::queries::{self, PageFrom};
use chinwag_store::{validate, StoreError};
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use warp::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use warp::path::Tail;
use warp::reply::Response;
use warp::Reply;

use crate::auth;
pub(crate) use crate::error::error_response;
use crate::error::ApiError;
use crate::{HubState, MAX_HISTORY_PAGE};

type ApiResult = Result<Response, ApiError>;

/// What a path names, with its ids parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Hub,
    Register,
    Login,
    Logout,
    Me,
    Users,
    User(i64),
    Conversations,
    Direct,
    Conversation(i64),
    Members(i64),
    Member(i64, i64),
    Leave(i64),
    Messages(i64),
    Receipts(i64),
    Message(i64),
    Events,
    Search,
    /// Uploads to a conversation.
    Files(i64),
    File(i64),
    Thumbnail(i64),
    Mute(i64),
    Blocks,
    Block(i64),
    Report(i64),
    AdminUsers,
    AdminUser(i64),
    AdminConversations,
    AdminStats,
    AdminReports,
    AdminReport(i64),
}

impl Endpoint {
    fn parse(path: &str) -> Result<Endpoint, ApiError> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let id = |s: &str, what: &str| -> Result<i64, ApiError> {
            s.parse::<i64>()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| ApiError::bad_request(format!("`{s}` is not a valid {what} id.")))
        };
        Ok(match parts.as_slice() {
            ["hub"] => Endpoint::Hub,
            ["auth", "register"] => Endpoint::Register,
            ["auth", "login"] => Endpoint::Login,
            ["auth", "logout"] => Endpoint::Logout,
            ["me"] => Endpoint::Me,
            ["users"] => Endpoint::Users,
            ["users", u] => Endpoint::User(id(u, "user")?),
            ["conversations"] => Endpoint::Conversations,
            ["conversations", "direct"] => Endpoint::Direct,
            ["conversations", c] => Endpoint::Conversation(id(c, "conversation")?),
            ["conversations", c, "members"] => Endpoint::Members(id(c, "conversation")?),
            ["conversations", c, "members", u] => {
                Endpoint::Member(id(c, "conversation")?, id(u, "user")?)
            }
            ["conversations", c, "leave"] => Endpoint::Leave(id(c, "conversation")?),
            ["conversations", c, "messages"] => Endpoint::Messages(id(c, "conversation")?),
            ["conversations", c, "receipts"] => Endpoint::Receipts(id(c, "conversation")?),
            ["conversations", c, "files"] => Endpoint::Files(id(c, "conversation")?),
            ["files", f] => Endpoint::File(id(f, "file")?),
            ["files", f, "thumbnail"] => Endpoint::Thumbnail(id(f, "file")?),
            ["messages", m] => Endpoint::Message(id(m, "message")?),
            ["messages", m, "report"] => Endpoint::Report(id(m, "message")?),
            ["conversations", c, "mute"] => Endpoint::Mute(id(c, "conversation")?),
            ["blocks"] => Endpoint::Blocks,
            ["blocks", u] => Endpoint::Block(id(u, "user")?),
            ["admin", "users"] => Endpoint::AdminUsers,
            ["admin", "users", u] => Endpoint::AdminUser(id(u, "user")?),
            ["admin", "conversations"] => Endpoint::AdminConversations,
            ["admin", "stats"] => Endpoint::AdminStats,
            ["admin", "reports"] => Endpoint::AdminReports,
            ["admin", "reports", r] => Endpoint::AdminReport(id(r, "report")?),
            ["events"] => Endpoint::Events,
            ["search"] => Endpoint::Search,
            _ => {
                return Err(ApiError::new(
                    ErrorCode::NotFound,
                    format!("There is no API endpoint at /api/v1/{}.", parts.join("/")),
                ))
            }
        })
    }

    fn allowed(self) -> &'static str {
        match self {
            Endpoint::Hub
            | Endpoint::Users
            | Endpoint::User(_)
            | Endpoint::Events
            | Endpoint::Search
            | Endpoint::File(_)
            | Endpoint::Thumbnail(_)
            | Endpoint::Blocks
            | Endpoint::AdminConversations
            | Endpoint::AdminStats
            | Endpoint::AdminReports => "GET",
            Endpoint::Register
            | Endpoint::Login
            | Endpoint::Logout
            | Endpoint::Direct
            | Endpoint::Members(_)
            | Endpoint::Leave(_)
            | Endpoint::Receipts(_)
            | Endpoint::Files(_)
            | Endpoint::Report(_) => "POST",
            Endpoint::Mute(_) => "PUT",
            Endpoint::Block(_) => "PUT, DELETE",
            Endpoint::AdminUsers => "GET, POST",
            Endpoint::AdminUser(_) | Endpoint::AdminReport(_) => "PATCH",
            Endpoint::Me | Endpoint::Conversation(_) => "GET, PATCH",
            Endpoint::Conversations | Endpoint::Messages(_) => "GET, POST",
            Endpoint::Member(_, _) => "PATCH, DELETE",
            Endpoint::Message(_) => "PATCH, DELETE",
        }
    }
}

/// A request as the handlers see it.
struct Request {
    state: Arc<HubState>,
    method: Method,
    headers: HeaderMap,
    query: String,
    addr: Option<SocketAddr>,
    body: Bytes,
}

impl Request {
    fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.is_empty() {
            return Err(ApiError::bad_request(
                "This request needs a JSON body; it was empty.",
            ));
        }
        serde_json::from_slice(&self.body).map_err(|e| ApiError::from_json(&e))
    }

    fn query<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_urlencoded::from_str(&self.query)
            .map_err(|e| ApiError::bad_request(format!("The query string is not valid: {e}.")))
    }

    fn ip(&self) -> Option<IpAddr> {
        self.addr.map(|a| a.ip())
    }

    /// The user behind the bearer token, and the token's hash.
    async fn user(&self) -> Result<(User, Vec<u8>), ApiError> {
        authenticate(&self.state, &self.headers).await
    }
}

/// The user behind a request's bearer token, and the token's hash.
pub(crate) async fn authenticate(
    state: &HubState,
    headers: &HeaderMap,
) -> Result<(User, Vec<u8>), ApiError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let token = auth::bearer(header).ok_or_else(ApiError::unauthorized)?;
    let hash = auth::token_hash(token);
    let user = session_user(state, &hash)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    Ok((user, hash))
}

/// The user of a live session: one that exists, was used within the hub's idle limit and
/// belongs to an enabled account. A session last marked used over an hour ago is marked
/// again, in the background (the answer does not wait for that write).
pub(crate) async fn session_user(
    state: &HubState,
    token_hash: &[u8],
) -> Result<Option<User>, StoreError> {
    let now = chinwag_store::now_millis();
    let used_since = state.config.session_idle_cutoff(now);
    let lookup = token_hash.to_vec();
    let found = state
        .store
        .read(move |c| queries::user_for_session(c, &lookup, used_since))
        .await?;
    let Some((user, used_at)) = found else {
        return Ok(None);
    };
    if now - used_at > crate::SESSION_TOUCH_MS {
        let store = state.store.clone();
        let hash = vec![token_hash.to_vec()];
        tokio::spawn(async move {
            if let Err(err) = store.write(move |tx| tx.touch_sessions(&hash)).await {
                tracing::debug!("cannot mark a session as used: {err}");
            }
        });
    }
    Ok(Some(user))
}

/// Entry point for every `/api/v1/...` request except the WebSocket.
pub(crate) async fn handle<S, B>(
    tail: Tail,
    state: Arc<HubState>,
    method: Method,
    headers: HeaderMap,
    query: String,
    addr: Option<SocketAddr>,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    let endpoint = match Endpoint::parse(tail.as_str()) {
        Ok(endpoint) => endpoint,
        Err(err) => return error_response(&err),
    };
    let allowed = endpoint.allowed();
    if !allowed.split(", ").any(|m| m == method.as_str()) {
        let err = ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!("{method} is not allowed here; use {allowed}."),
        );
        let mut response = error_response(&err);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allowed));
        return response;
    }
    // Files stream; they never pass through `read_body`.
    match endpoint {
        Endpoint::Files(id) => {
            return crate::files::upload(state, id, &headers, &query, body)
                .await
                .unwrap_or_else(|err| error_response(&err))
        }
        Endpoint::File(id) | Endpoint::Thumbnail(id) => {
            let thumbnail = matches!(endpoint, Endpoint::Thumbnail(_));
            return crate::files::download(state, id, thumbnail, &headers)
                .await
                .unwrap_or_else(|err| error_response(&err));
        }
        _ => {}
    }
    let result = async {
        let body = read_body(body, state.config.max_body_bytes).await?;
        if !body.is_empty() && !is_json(&headers) {
            // Browsers send JSON across origins only after a CORS preflight, which the hub
            // never grants; insisting on it keeps other sites' pages from posting here.
            return Err(ApiError::bad_request(
                "Send the body as JSON with `Content-Type: application/json`.",
            ));
        }
        let req = Request {
            state,
            method,
            headers,
            query,
            addr,
            body,
        };
        dispatch(endpoint, req).await
    }
    .await;
    result.unwrap_or_else(|err| error_response(&err))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Reads the body, refusing it as soon as it passes `limit` bytes.
/// Reads a request body, refusing (413 `too_large`) past `limit` bytes without buffering more.
pub async fn read_body<S, B>(body: S, limit: usize) -> Result<Bytes, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    let mut body = std::pin::pin!(body);
    let mut out = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| {
            ApiError::bad_request(format!("The request body could not be read: {e}."))
        })?;
        if out.len() + chunk.remaining() > limit {
            return Err(ApiError::new(
                ErrorCode::TooLarge,
                format!("The request body is larger than the limit of {limit} bytes."),
            ));
        }
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            let n = piece.len();
            out.extend_from_slice(piece);
            chunk.advance(n);
        }
    }
    Ok(out.freeze())
}

async fn dispatch(endpoint: Endpoint, req: Request) -> ApiResult {
    use Endpoint as E;
    let method = req.method.clone();
    match (endpoint, method.as_str()) {
        (E::Hub, _) => ok(&HubInfo {
            online: Some(req.state.fanout.online_count()),
            ..req.state.info.clone()
        }),
        (E::Register, _) => register(req).await,
        (E::Login, _) => login(req).await,
        (E::Logout, _) => logout(req).await,
        (E::Me, "GET") => Ok(json(StatusCode::OK, &req.user().await?.0)),
        (E::Me, _) => update_me(req).await,
        (E::Users, _) => users(req).await,
        (E::User(id), _) => user(req, id).await,
        (E::Conversations, "GET") => conversations(req).await,
        (E::Conversations, _) => create_group(req).await,
        (E::Direct, _) => open_direct(req).await,
        (E::Conversation(id), "GET") => conversation(req, id).await,
        (E::Conversation(id), _) => rename(req, id).await,
        (E::Members(id), _) => add_members(req, id).await,
        (E::Member(id, user), "PATCH") => set_role(req, id, user).await,
        (E::Member(id, user), _) => remove_member(req, id, user).await,
        (E::Leave(id), _) => {
            let (me, _) = req.user().await?;
            write(&req, move |tx| tx.remove_member(me.id, id, me.id)).await?;
            Ok(no_content())
        }
        (E::Messages(id), "GET") => history(req, id).await,
        (E::Messages(id), _) => send(req, id).await,
        (E::Receipts(id), _) => receipt(req, id).await,
        (E::Message(id), "PATCH") => edit(req, id).await,
        (E::Message(id), _) => delete(req, id).await,
        (E::Events, _) => events(req).await,
        (E::Search, _) => search(req).await,
        (E::Mute(id), _) => {
            let (me, _) = req.user().await?;
            let body: MuteRequest = req.json()?;
            write(&req, move |tx| tx.set_muted(me.id, id, body.muted)).await?;
            let muted = ServerFrame::Muted {
                conversation_id: id,
                muted: body.muted,
            };
            req.state.fanout.to_user(me.id, &muted);
            Ok(no_content())
        }
        (E::Blocks, _) => {
            let (me, _) = req.user().await?;
            let list = req
                .state
                .store
                .read(move |c| queries::blocked_by(c, me.id))
                .await?;
            ok(&serde_json::json!({ "blocked": list }))
        }
        (E::Block(other), "PUT") => block(req, other, true).await,
        (E::Block(other), _) => block(req, other, false).await,
        (E::Report(id), _) => {
            let (me, _) = req.user().await?;
            let body: ReportRequest = req.json()?;
            let report = write(&req, move |tx| tx.report(me.id, id, &body.reason)).await?;
            tracing::info!(user = me.id, message_id = id, report, "message reported");
            Ok(json(
                StatusCode::CREATED,
                &serde_json::json!({ "id": report }),
            ))
        }
        (E::AdminUsers, "GET") => {
            admin_caller(&req).await?;
            ok(&crate::admin::users(&req.state).await?)
        }
        (E::AdminUsers, _) => {
            admin_caller(&req).await?;
            let body: CreateUserRequest = req.json()?;
            let user = crate::admin::create_user(&req.state, body).await?;
            Ok(json(StatusCode::CREATED, &user))
        }
        (E::AdminUser(id), _) => {
            admin_caller(&req).await?;
            let body: UpdateUserRequest = req.json()?;
            ok(&crate::admin::update_user(&req.state, id, body).await?)
        }
        (E::AdminConversations, _) => {
            admin_caller(&req).await?;
            ok(&crate::admin::conversations(&req.state).await?)
        }
        (E::AdminStats, _) => {
            admin_caller(&req).await?;
            ok(&crate::admin::stats(&req.state).await?)
        }
        (E::AdminReports, _) => {
            admin_caller(&req).await?;
            ok(&crate::admin::reports(&req.state).await?)
        }
        (E::AdminReport(id), _) => {
            let admin = admin_caller(&req).await?;
            write(&req, move |tx| tx.resolve_report(admin, id)).await?;
            Ok(no_content())
        }
        // Served by `handle` before the body is read; never dispatched.
        (E::Files(_) | E::File(_) | E::Thumbnail(_), _) => Err(ApiError::internal()),
    }
}

/// The hub admin behind the request: a signed-in hub admin's id, or `None` for the local
/// admin token. Anyone else is refused (401 without a valid token, 403 with one).
async fn admin_caller(req: &Request) -> Result<Option<UserId>, ApiError> {
    if let Some(local) = &req.state.config.admin_token {
        let given = req
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Some(token) = auth::bearer(given) {
            if auth::constant_time_eq(&auth::token_hash(token), &auth::token_hash(local)) {
                return Ok(None);
            }
        }
    }
    let (me, _) = req.user().await?;
    if !me.is_admin {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "Only the hub's admins can do this.",
        ));
    }
    Ok(Some(me.id))
}

async fn block(req: Request, other: UserId, blocked: bool) -> ApiResult {
    let (me, _) = req.user().await?;
    write(&req, move |tx| tx.set_blocked(me.id, other, blocked)).await?;
    req.state.fanout.set_blocked(me.id, other, blocked);
    let frame = ServerFrame::Blocked {
        user_id: other,
        blocked,
    };
    req.state.fanout.to_user(me.id, &frame);
    Ok(no_content())
}

async fn write<T, F>(req: &Request, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut chinwag_store::Tx<'_>) -> chinwag_store::Result<T> + Send + 'static,
{
    Ok(req.state.store.write(f).await?)
}

// ----- accounts -----

async fn register(req: Request) -> ApiResult {
    let body: RegisterRequest = req.json()?;
    if let Some(code) = &req.state.config.join_code {
        let given = body.join_code.as_deref().unwrap_or("");
        if !auth::constant_time_eq(given.trim().as_bytes(), code.as_bytes()) {
            return Err(ApiError::new(
                ErrorCode::JoinCodeRequired,
                if given.is_empty() {
                    "This hub needs a join code to register; ask its admin."
                } else {
                    "That join code is not right; ask the hub's admin."
                },
            ));
        }
    }
    let username = validate::username(&body.username)?;
    let display_name = validate::display_name(body.display_name.as_deref().unwrap_or(&username))?;
    validate::password(&body.password)?;
    let hash = auth::hash_password(&req.state.hashing, body.password).await?;
    let token = auth::new_token();
    let token_hash = auth::token_hash(&token);
    let user = write(&req, move |tx| {
        let user = tx.register(&username, &display_name, &hash)?;
        tx.create_session(user.id, &token_hash)?;
        Ok(user)
    })
    .await?;
    tracing::info!(user = user.id, "registered {}", user.username);
    Ok(json(StatusCode::CREATED, &SessionResponse { token, user }))
}

async fn login(req: Request) -> ApiResult {
    let body: LoginRequest = req.json()?;
    let ip = req.ip();
    req.state.throttle.check(&body.username, ip)?;
    let username = body.username.clone();
    let found = req
        .state
        .store
        .read(move |c| queries::user_for_login(c, &username))
        .await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let verified = auth::verify_password(&req.state.hashing, body.password, hash).await;
    let user = match (verified, user) {
        (true, Some(user)) => user,
        _ => {
            req.state.throttle.failed(&body.username, ip);
            return Err(ApiError::new(
                ErrorCode::BadCredentials,
                "Wrong username or password.",
            ));
        }
    };
    req.state.throttle.succeeded(&body.username);
    if user.disabled {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "This account is disabled; ask the hub's admin.",
        ));
    }
    let token = auth::new_token();
    let token_hash = auth::token_hash(&token);
    let user_id = user.id;
    write(&req, move |tx| tx.create_session(user_id, &token_hash)).await?;
    Ok(json(StatusCode::OK, &SessionResponse { token, user }))
}

async fn logout(req: Request) -> ApiResult {
    let (_, hash) = req.user().await?;
    let revoked = hash.clone();
    write(&req, move |tx| tx.delete_session(&revoked)).await?;
    req.state.fanout.kick_session(&hash);
    Ok(no_content())
}

async fn update_me(req: Request) -> ApiResult {
    let (me, _) = req.user().await?;
    let body: UpdateProfileRequest = req.json()?;
    let user = write(&req, move |tx| {
        tx.update_profile(
            me.id,
            body.display_name.as_deref(),
            body.status_text.as_deref(),
        )
    })
    .await?;
    ok(&user)
}

async fn users(req: Request) -> ApiResult {
    req.user().await?;
    let users = req.state.store.read(queries::users).await?;
    let fanout = &req.state.fanout;
    let entries: Vec<DirectoryEntry> = users
        .into_iter()
        .map(|user| DirectoryEntry {
            presence: fanout.presence_of(user.id),
            user,
        })
        .collect();
    ok(&entries)
}

async fn user(req: Request, id: i64) -> ApiResult {
    req.user().await?;
    let user = req.state.store.read(move |c| queries::user(c, id)).await?;
    ok(&DirectoryEntry {
        presence: req.state.fanout.presence_of(user.id),
        user,
    })
}

// ----- conversations -----

async fn conversations(req: Request) -> ApiResult {
    let (me, _) = req.user().await?;
    let list = req
        .state
        .store
        .read(move |c| queries::conversation_summaries(c, me.id))
        .await?;
    ok(&list)
}

async fn create_group(req: Request) -> ApiResult {
    let (me, _) = req.user().await?;
    let body: CreateGroupRequest = req.json()?;
    let detail = write(&req, move |tx| {
        tx.create_group(me.id, &body.name, &body.member_ids)
    })
    .await?;
    Ok(json(StatusCode::CREATED, &detail))
}

async fn open_direct(req: Request) -> ApiResult {
    let (me, _) = req.user().await?;
    let body: DirectRequest = req.json()?;
    let (detail, created) = write(&req, move |tx| tx.open_direct(me.id, body.user_id)).await?;
    Ok(json(created_or_ok(created), &detail))
}

async fn conversation(req: Request, id: i64) -> ApiResult {
    let (me, _) = req.user().await?;
    let detail = req
        .state
        .store
        .read(move |c| {
            if queries::membership(c, id, me.id)?.is_none() {
                return Err(chinwag_store::StoreError::NotFound("conversation"));
            }
            queries::conversation_detail(c, id)
        })
        .await?;
    ok(&detail)
}

async fn rename(req: Request, id: i64) -> ApiResult {
    let (me, _) = req.user().await?;
    let body: RenameRequest = req.json()?;
    let conversation = write(&req, move |tx| tx.rename_group(me.id, id, &body.name)).await?;
    ok(&conversation)
}

async fn add_members(req: Request, id: i64) -> ApiResult {
    let (me, _) = req.user().await?;
    let body: AddMembersRequest = req.json()?;
    let detail = write(&req, move |tx| tx.add_members(me.id, id, &body.user_ids)).await?;
    ok(&detail)
}

async fn set_role(req: Request, id: i64, user: i64) -> ApiResult {
    let (me, _) = req.user().await?;
    let body: SetRoleRequest = req.json()?;
    let member = write(&req, move |tx| tx.set_role(me.id, id, user, body.role)).await?;
    ok(&member)
}

async fn remove_member(req: Request, id: i64, user: i64) -> ApiResult {
    let (me, _) = req.user().await?;
    write(&req, move |tx| tx.remove_member(me.id, id, user)).await?;
    Ok(no_content())
}

// ----- messages -----

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<u32>,
}

async fn history(req: Request, id: i64) -> ApiResult {
    let (me, _) = req.user().await?;
    let q: HistoryQuery = req.query()?;
    let from = match (q.before, q.after) {
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                "Give `before` or `after`, not both.",
            ))
        }
        (Some(before), None) => PageFrom::Before(before),
        (None, Some(after)) => PageFrom::After(after),
        (None, None) => PageFrom::Latest,
    };
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_HISTORY_PAGE {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            format!("`limit` must be between 1 and {MAX_HISTORY_PAGE}."),
        ));
    }
    let page = req
        .state
        .store
        .read(move |c| {
            if queries::membership(c, id, me.id)?.is_none() {
                return Err(chinwag_store::StoreError::NotFound("conversation"));
            }
            queries::history(c, id, from, limit)
        })
        .await?;
    ok(&page)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    q: Option<String>,
    conversation_id: Option<i64>,
    sender_id: Option<i64>,
    limit: Option<u32>,
}

/// Most results one search returns.
const MAX_SEARCH_RESULTS: u32 = 50;

async fn search(req: Request) -> ApiResult {
    let (me, _) = req.user().await?;
    let q: SearchQuery = req.query()?;
    let text = q.q.unwrap_or_default();
    if text.chars().count() > queries::MAX_SEARCH_CHARS {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            format!(
                "`q` is too long: at most {} characters.",
                queries::MAX_SEARCH_CHARS
            ),
        ));
    }
    if queries::search_query(&text).is_none() {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "`q` needs at least one word to look for (letters or digits).",
        ));
    }
    let limit = q.limit.unwrap_or(20);
    if limit == 0 || limit > MAX_SEARCH_RESULTS {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            format!("`limit` must be between 1 and {MAX_SEARCH_RESULTS}."),
        ));
    }
    for (name, id) in [
        ("conversation_id", q.conversation_id),
        ("sender_id", q.sender_id),
    ] {
        if id.is_some_and(|id| id <= 0) {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                format!("`{name}` must be a positive id."),
            ));
        }
    }
    let filter = queries::SearchFilter {
        conversation_id: q.conversation_id,
        sender_id: q.sender_id,
        limit,
    };
    let results = req
        .state
        .store
        .read(move |c| {
            if let Some(id) = filter.conversation_id {
                if queries::membership(c, id, me.id)?.is_none() {
                    return Err(chinwag_store::StoreError::NotFound("conversation"));
                }
            }
            queries::search(c, me.id, &text, &filter)
        })
        .await?;
    ok(&chinwag_proto::rest::SearchResults { results })
}

/// Refuses a body over the hub's message limit with `too_large` before it reaches the store.
pub(crate) fn check_message_size(state: &HubState, body: &str) -> Result<(), ApiError> {
    crate::error::check_message_size(body, state.config.max_message_bytes)
}

/// Takes a send token for the user or refuses with `rate_limited`.
pub(crate) fn check_send_rate(state: &HubState, user_id: i64) -> Result<(), ApiError> {
    state.take_send_token(user_id).map_err(|wait| {
        ApiError::rate_limited(
            format!(
                "You are sending faster than {} messages per second; slow down.",
                state.config.messages_per_second
            ),
            wait.as_millis() as u64,
        )
    })
}

async fn send(req: Request, id: i64) -> ApiResult {
    let arrived = std::time::Instant::now();
    let (me, _) = req.user().await?;
    let body: SendRequest = req.json()?;
    check_message_size(&req.state, &body.body)?;
    check_send_rate(&req.state, me.id)?;
    let max = req.state.config.max_message_bytes;
    let (message, duplicate) = write(&req, move |tx| {
        tx.send_with_files(
            me.id,
            id,
            &body.client_id,
            &body.body,
            &body.attachments,
            max,
        )
    })
    .await?;
    if !duplicate {
        req.state.metrics.sent(arrived.elapsed());
        crate::log_message("sent", &message);
    }
    req.state.fanout.typing(id, me.id, false);
    Ok(json(created_or_ok(!duplicate), &message))
}

async fn edit(req: Request, id: i64) -> ApiResult {
    let (me, _) = req.user().await?;
    let body: EditRequest = req.json()?;
    check_message_size(&req.state, &body.body)?;
    check_send_rate(&req.state, me.id)?;
    let max = req.state.config.max_message_bytes;
    let message = write(&req, move |tx| tx.edit_message(me.id, id, &body.body, max)).await?;
    crate::log_message("edited", &message);
    ok(&message)
}

async fn delete(req: Request, id: i64) -> ApiResult {
    let (me, _) = req.user().await?;
    check_send_rate(&req.state, me.id)?;
    let message = write(&req, move |tx| tx.delete_message(me.id, id)).await?;
    crate::log_message("deleted", &message);
    ok(&message)
}

async fn receipt(req: Request, id: i64) -> ApiResult {
    let (me, _) = req.user().await?;
    let body: ReceiptRequest = req.json()?;
    if body.delivered_seq.is_none() && body.read_seq.is_none() {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "Give `delivered_seq`, `read_seq` or both.",
        ));
    }
    let member = write(&req, move |tx| {
        tx.receipt(me.id, id, body.delivered_seq, body.read_seq)
    })
    .await?;
    ok(&member)
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    after: Option<i64>,
    limit: Option<u32>,
}

/// Durable events after a cursor, for clients that poll instead of holding a WebSocket.
async fn events(req: Request) -> ApiResult {
    let (me, _) = req.user().await?;
    let q: EventsQuery = req.query()?;
    let after = q.after.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "`limit` must be between 1 and 1000.",
        ));
    }
    let (rows, last) = req
        .state
        .store
        .read(move |c| {
            Ok((
                queries::events_for_user(c, me.id, after, limit + 1)?,
                queries::last_event_id(c)?,
            ))
        })
        .await?;
    let has_more = rows.len() > limit as usize;
    let mut events = Vec::with_capacity(rows.len());
    for (id, payload) in rows.into_iter().take(limit as usize) {
        let event = serde_json::from_str(&payload).map_err(|e| {
            tracing::error!("stored event {id} does not decode: {e}");
            ApiError::internal()
        })?;
        events.push(EventFrame { id, event });
    }
    let last_event_id = if has_more {
        events.last().map(|e| e.id).unwrap_or(after)
    } else {
        last.max(after)
    };
    ok(&EventPage {
        events,
        last_event_id,
        has_more,
    })
}

// ----- responses -----

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    warp::reply::with_status(warp::reply::json(value), status).into_response()
}

fn ok<T: Serialize>(value: &T) -> ApiResult {
    Ok(json(StatusCode::OK, value))
}

/// `201 Created` for something new, `200 OK` for something that already existed.
fn created_or_ok(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Turns warp's own rejections (no route matched) into JSON errors.
pub(crate) async fn recover(rejection: warp::Rejection) -> Result<Response, Infallible> {
    Ok(error_response(&crate::error::rejection_error(&rejection)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_and_reject_bad_ids() {
        assert_eq!(
            Endpoint::parse("conversations/7/members/3").expect("parses"),
            Endpoint::Member(7, 3)
        );
        assert_eq!(
            Endpoint::parse("/conversations/direct/").expect("parses"),
            Endpoint::Direct
        );
        let bad = Endpoint::parse("conversations/abc").expect_err("bad id");
        assert_eq!(bad.code, ErrorCode::BadRequest);
        let neg = Endpoint::parse("messages/-1").expect_err("bad id");
        assert_eq!(neg.code, ErrorCode::BadRequest);
        let missing = Endpoint::parse("nope").expect_err("unknown");
        assert_eq!(missing.code, ErrorCode::NotFound);
    }
}

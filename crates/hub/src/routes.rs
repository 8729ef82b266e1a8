//! The hub's HTTP surface: one route table for `/api/v1`, one line per endpoint, and the
//! warp filters that put it beside the WebSocket, `/healthz`, `/metrics` and the UI.
//!
//! A route names its method, its path (`{name}` segments are positive ids, refused with a
//! 400 that names them) and its handler; the handler's kind says who may call it
//! ([`Router::public`], [`Router::user`] with a [`Caller`], [`Router::admin`] with an
//! [`Admin`]) and whether the body is read within the hub's limit first or streamed
//! ([`Router::upload`]). A path no route has is a JSON 404; a method the path does not take
//! is a JSON 405 whose `Allow` lists the table's methods for it.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

use bytes::{Buf, Bytes};
use chinwag_proto::{ApiError, ErrorCode};
use chinwag_web::error_response;
use futures_util::future::BoxFuture;
use futures_util::{Stream, StreamExt};
use warp::http::{header, HeaderMap, HeaderValue, Method};
use warp::path::Tail;
use warp::reply::Response;
use warp::Filter;

use chinwag_web::serve::Peer;
use chinwag_web::table::{Miss, Route, Table};

use crate::http::{Admin, ApiResult, BodyStream, Caller, Request};
use crate::{files, metrics, rest, ws, HubState};

/// Every endpoint under `/api/v1`, in the order `Allow` lists a path's methods.
#[rustfmt::skip] // one line per endpoint, whatever its length
static ROUTES: LazyLock<Router> = LazyLock::new(|| {
    use rest::{accounts, admin, conversations as conv, messages, moderation as moder};
    use Method as M;
    Router::default()
        .public(M::GET, "hub", accounts::hub)
        .public(M::POST, "auth/register", accounts::register)
        .public(M::POST, "auth/login", accounts::login)
        .user(M::POST, "auth/logout", accounts::logout)
        .user(M::GET, "me", accounts::me)
        .user(M::PATCH, "me", accounts::update_me)
        .user(M::GET, "me/notifications", accounts::notifications)
        .user(M::PATCH, "me/notifications", accounts::set_notifications)
        .user(M::GET, "users", accounts::users)
        .user(M::GET, "users/{user}", accounts::user)
        .user(M::GET, "conversations", conv::list)
        .user(M::POST, "conversations", conv::create_group)
        .user(M::POST, "conversations/direct", conv::open_direct)
        .user(M::GET, "conversations/{conversation}", conv::detail)
        .user(M::PATCH, "conversations/{conversation}", conv::rename)
        .user(M::POST, "conversations/{conversation}/members", conv::add_members)
        .user(M::PATCH, "conversations/{conversation}/members/{user}", conv::set_role)
        .user(M::DELETE, "conversations/{conversation}/members/{user}", conv::remove_member)
        .user(M::POST, "conversations/{conversation}/leave", conv::leave)
        .user(M::GET, "conversations/{conversation}/messages", messages::history).query()
        .user(M::POST, "conversations/{conversation}/messages", messages::send)
        .user(M::POST, "conversations/{conversation}/receipts", messages::receipt)
        .user(M::POST, "conversations/{conversation}/unread", messages::mark_unread)
        .user(M::GET, "messages/{message}", messages::one)
        .user(M::PATCH, "messages/{message}", messages::edit)
        .user(M::DELETE, "messages/{message}", messages::delete)
        .user(M::POST, "messages/{message}/reactions", messages::react)
        .public(M::GET, "emoji", messages::emoji)
        .user(M::GET, "events", messages::events).query()
        .user(M::GET, "search", messages::search).query()
        .upload(M::POST, "conversations/{conversation}/files", files::upload).query()
        .user(M::GET, "files/{file}", files::download)
        .user(M::GET, "files/{file}/thumbnail", files::thumbnail)
        .user(M::PUT, "conversations/{conversation}/mute", moder::mute)
        .user(M::GET, "blocks", moder::blocked)
        .user(M::PUT, "blocks/{user}", moder::block)
        .user(M::DELETE, "blocks/{user}", moder::unblock)
        .user(M::POST, "messages/{message}/report", moder::report)
        .admin(M::GET, "admin/users", admin::users)
        .admin(M::POST, "admin/users", admin::create_user)
        .admin(M::PATCH, "admin/users/{user}", admin::update_user)
        .admin(M::GET, "admin/conversations", admin::conversations)
        .admin(M::GET, "admin/stats", admin::stats)
        .admin(M::GET, "admin/reports", admin::reports)
        .admin(M::PATCH, "admin/reports/{report}", admin::resolve_report)
});

type Reply = BoxFuture<'static, ApiResult>;

/// Who may call a route, and how its body arrives.
enum Handler {
    Public(Box<dyn Fn(Request) -> Reply + Send + Sync>),
    User(Box<dyn Fn(Request, Caller) -> Reply + Send + Sync>),
    Admin(Box<dyn Fn(Request, Admin) -> Reply + Send + Sync>),
    /// A signed-in caller's upload: the body is streamed to the handler, not read first.
    Upload(Box<dyn Fn(Request, Caller, BodyStream) -> Reply + Send + Sync>),
}

/// Why no route takes a request: the error, and `Allow`'s value for a known path.
type Refusal = (ApiError, Option<String>);

/// A route's handler, and whether it reads a query string ([`Router::query`]); a route that
/// does not refuses any.
struct Endpoint {
    handler: Handler,
    takes_query: bool,
}

/// The route table, with a builder method per kind of handler.
#[derive(Default)]
pub(crate) struct Router {
    table: Table<Endpoint>,
}

impl Router {
    fn add(self, method: Method, path: &'static str, handler: Handler) -> Self {
        let endpoint = Endpoint {
            handler,
            takes_query: false,
        };
        Router {
            table: self.table.add(method, path, endpoint),
        }
    }

    /// The route added last reads a query string (its handler parses it, refusing unknown
    /// parameters). Any other route answers a query string with `400 bad_request`, as an
    /// unknown body field is.
    pub fn query(mut self) -> Self {
        if let Some(endpoint) = self.table.last_handler_mut() {
            endpoint.takes_query = true;
        }
        self
    }

    /// A route anyone may call.
    pub fn public<F, Fut>(self, method: Method, path: &'static str, f: F) -> Self
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ApiResult> + Send + 'static,
    {
        self.add(
            method,
            path,
            Handler::Public(Box::new(move |r| Box::pin(f(r)))),
        )
    }

    /// A route for signed-in users (401 otherwise).
    pub fn user<F, Fut>(self, method: Method, path: &'static str, f: F) -> Self
    where
        F: Fn(Request, Caller) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ApiResult> + Send + 'static,
    {
        let handler = Handler::User(Box::new(move |r, c| Box::pin(f(r, c))));
        self.add(method, path, handler)
    }

    /// A route for hub admins and the local admin token (401 or 403 otherwise).
    pub fn admin<F, Fut>(self, method: Method, path: &'static str, f: F) -> Self
    where
        F: Fn(Request, Admin) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ApiResult> + Send + 'static,
    {
        let handler = Handler::Admin(Box::new(move |r, a| Box::pin(f(r, a))));
        self.add(method, path, handler)
    }

    /// A signed-in user's upload, its body streamed to the handler.
    pub fn upload<F, Fut>(self, method: Method, path: &'static str, f: F) -> Self
    where
        F: Fn(Request, Caller, BodyStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ApiResult> + Send + 'static,
    {
        let handler = Handler::Upload(Box::new(move |r, c, b| Box::pin(f(r, c, b))));
        self.add(method, path, handler)
    }

    /// The route for `method` on `path`, with the path's ids; or the refusal, with the
    /// `Allow` header's value for a method the path does not take.
    fn find(&self, method: &Method, path: &str) -> Result<(&Route<Endpoint>, [i64; 2]), Refusal> {
        self.table.find(method, path).map_err(|miss| match miss {
            Miss::NotFound => {
                let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
                let err = ApiError::new(
                    ErrorCode::NotFound,
                    format!("There is no API endpoint at /api/v1/{}.", parts.join("/")),
                );
                (err, None)
            }
            Miss::BadId(err) => (err, None),
            Miss::Method { allow } => {
                let err = ApiError::new(
                    ErrorCode::MethodNotAllowed,
                    format!("{method} is not allowed here; use {allow}."),
                );
                (err, Some(allow))
            }
        })
    }
}

/// Entry point for every `/api/v1/...` request except the WebSocket.
async fn handle<S, B>(
    tail: Tail,
    hub: Arc<HubState>,
    method: Method,
    headers: HeaderMap,
    query: String,
    addr: Option<SocketAddr>,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Send + 'static,
    B: Buf + Send + 'static,
{
    let (route, ids) = match ROUTES.find(&method, tail.as_str()) {
        Ok(found) => found,
        Err((err, allow)) => {
            let mut response = error_response(&err);
            if let Some(value) = allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            return response;
        }
    };
    if !query.is_empty() && !route.handler.takes_query {
        let err = ApiError::bad_request(format!(
            "{method} /api/v1/{} takes no query parameters; `?{query}` is not understood.",
            route.path
        ));
        return error_response(&err);
    }
    let mut req = Request {
        hub,
        headers,
        query,
        addr,
        ids,
        body: Bytes::new(),
    };
    let result = async {
        if let Handler::Upload(handler) = &route.handler.handler {
            let me = Caller::authenticate(&req.hub, &req.headers).await?;
            let body: BodyStream = body
                .map(|chunk| chunk.map(|mut b| b.copy_to_bytes(b.remaining())))
                .boxed();
            return handler(req, me, body).await;
        }
        let config = &req.hub.config;
        let pace = chinwag_web::Pace::within(config.body_timeout);
        req.body = chinwag_web::read_body(body, config.max_body_bytes, pace).await?;
        if !req.body.is_empty() && !chinwag_web::is_json(&req.headers) {
            // Browsers send JSON across origins only after a CORS preflight, which the hub
            // never grants; insisting on it keeps other sites' pages from posting here.
            return Err(ApiError::bad_request(
                "Send the body as JSON with `Content-Type: application/json`.",
            ));
        }
        match &route.handler.handler {
            Handler::Public(handler) => handler(req).await,
            Handler::User(handler) => {
                let me = Caller::authenticate(&req.hub, &req.headers).await?;
                handler(req, me).await
            }
            Handler::Admin(handler) => {
                let admin = Admin::authenticate(&req.hub, &req.headers).await?;
                handler(req, admin).await
            }
            Handler::Upload(_) => Err(ApiError::internal()),
        }
    }
    .await;
    result.unwrap_or_else(|err| error_response(&err))
}

/// The whole HTTP surface: the WebSocket, `/api/v1`, `/healthz`, `/metrics`, then the UI.
pub(crate) fn filter(
    state: Arc<HubState>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Infallible> + Clone {
    let with_state = warp::any().map(move || state.clone());
    let ws_route = warp::path!("api" / "v1" / "ws")
        .and(warp::path::end())
        .and(with_state.clone())
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<hyper::upgrade::OnUpgrade>())
        .map(ws::upgrade);
    let api_route = warp::path("api")
        .and(warp::path("v1"))
        .and(warp::path::tail())
        .and(with_state.clone())
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::ext::optional::<Peer>().map(|peer: Option<Peer>| peer.map(|p| p.0)))
        .and(warp::body::stream())
        .then(handle);
    let health = warp::get()
        .and(warp::path!("healthz"))
        .and(with_state.clone())
        .then(metrics::health);
    let metrics = warp::get()
        .and(warp::path!("metrics"))
        .and(with_state.clone())
        .map(|state: Arc<HubState>| metrics::render(&state));
    let ui = warp::get()
        .and(warp::path::tail())
        .and(warp::header::headers_cloned())
        .map(|tail: Tail, headers: HeaderMap| chinwag_web::assets::serve(tail.as_str(), &headers));
    ws_route
        .or(api_route)
        .unify()
        .or(health)
        .unify()
        .or(metrics)
        .unify()
        .or(ui)
        .unify()
        .recover(recover)
        .unify()
}

/// Turns warp's own rejections (no route matched) into JSON errors.
async fn recover(rejection: warp::Rejection) -> Result<Response, Infallible> {
    Ok(error_response(&chinwag_web::rejection_error(&rejection)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(method: Method, path: &str) -> (&'static str, [i64; 2]) {
        let (route, ids) = ROUTES.find(&method, path).expect("a route");
        (route.path, ids)
    }

    #[test]
    fn paths_find_their_route_and_ids() {
        assert_eq!(
            found(Method::PATCH, "conversations/7/members/3"),
            ("conversations/{conversation}/members/{user}", [7, 3])
        );
        assert_eq!(
            found(Method::POST, "/conversations/direct/"),
            ("conversations/direct", [0, 0]),
            "a literal segment beats an id"
        );
    }

    #[test]
    fn bad_ids_unknown_paths_and_wrong_methods_are_refused() {
        let refused =
            |method: Method, path: &str| ROUTES.find(&method, path).err().expect("refused");
        let (bad, _) = refused(Method::GET, "conversations/abc");
        assert_eq!(bad.code, ErrorCode::BadRequest);
        assert_eq!(bad.message, "`abc` is not a valid conversation id.");
        let (neg, _) = refused(Method::PATCH, "messages/-1");
        assert_eq!(neg.code, ErrorCode::BadRequest);
        let (missing, allow) = refused(Method::GET, "nope");
        assert_eq!(missing.code, ErrorCode::NotFound);
        assert_eq!(allow, None);
        let (wrong, allow) = refused(Method::GET, "conversations/direct");
        assert_eq!(wrong.code, ErrorCode::MethodNotAllowed);
        assert_eq!(allow.as_deref(), Some("POST"));
        let (_, allow) = refused(Method::POST, "messages/4");
        assert_eq!(allow.as_deref(), Some("GET, PATCH, DELETE"));
    }

    #[test]
    fn every_route_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for route in ROUTES.table.routes() {
            assert!(
                seen.insert((route.method.clone(), route.path)),
                "{} {} twice",
                route.method,
                route.path
            );
        }
    }
}

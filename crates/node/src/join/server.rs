//! The node's HTTP surface: the launch cookie and `Host` guards, the local WebSocket, the
//! node's own `/api/v1/node` (see `api.rs`), REST forwarded to the hub (`proxy.rs`) and the
//! embedded UI.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use chinwag_proto::{ApiError, ErrorCode};
use chinwag_web::{constant_time_eq, error_response, rejection_error, same_origin};
use tokio::net::TcpListener;
use warp::http::{header, HeaderMap, Method};
use warp::reply::Response;
use warp::{Filter, Reply};

use super::api::{api, not_chosen, NodeApi, LAUNCH_COOKIE};
use super::{proxy, Directory, Joined, MAX_BODY_BYTES};
use chinwag_web::serve::{ConnectionLimits, Gate};

/// Connections the node takes (they all come from this machine: it listens on loopback).
const MAX_CONNECTIONS: usize = 1024;
/// A request's headers, and a JSON body, must arrive within this.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves the joined node's UI, REST and WebSocket on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    joined: Arc<Joined>,
    directory: Directory,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    serve_node(listener, NodeApi::joined(joined, directory), shutdown).await;
}

/// Serves a node (joined, or on the desktop possibly still choosing) until `shutdown`, then
/// closes its link.
pub async fn serve_node(
    listener: TcpListener,
    node: Arc<NodeApi>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let local = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let gate = Gate::new(ConnectionLimits {
        max_connections: MAX_CONNECTIONS,
        per_addr: MAX_CONNECTIONS,
        header_timeout: REQUEST_TIMEOUT,
    });
    chinwag_web::serve::serve(listener, routes(node.clone(), local), gate, shutdown).await;
    if let Some(joined) = node.current() {
        Joined::close(joined).await;
    }
}

fn routes(
    node: Arc<NodeApi>,
    local: SocketAddr,
) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone {
    let with_node = warp::any().map(move || node.clone());
    // `/?launch=SECRET` hands the window its cookie; everything else needs it.
    let launch = warp::get()
        .and(warp::path::end())
        .and(warp::query::raw())
        .and(with_node.clone())
        .and_then(|query: String, node: Arc<NodeApi>| async move {
            let given = query
                .split('&')
                .find_map(|p| p.strip_prefix("launch="))
                .unwrap_or("");
            match &node.secret {
                Some(secret) if constant_time_eq(given.as_bytes(), secret.as_bytes()) => {
                    let cookie =
                        format!("{LAUNCH_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict");
                    let mut response =
                        warp::http::Response::new(warp::hyper::body::Bytes::new().into());
                    *response.status_mut() = warp::http::StatusCode::SEE_OTHER;
                    response
                        .headers_mut()
                        .insert(header::LOCATION, warp::http::HeaderValue::from_static("/"));
                    if let Ok(value) = warp::http::HeaderValue::from_str(&cookie) {
                        response.headers_mut().insert(header::SET_COOKIE, value);
                    }
                    Ok::<Response, warp::Rejection>(response)
                }
                _ => Err(warp::reject::not_found()),
            }
        });
    let gate = warp::header::headers_cloned()
        .and(with_node.clone())
        .and_then(move |headers: HeaderMap, node: Arc<NodeApi>| async move {
            if !host_allowed(&headers, local) {
                Err(warp::reject::custom(BadHost))
            } else if !node.launch_ok(&headers) {
                Err(warp::reject::custom(NoLaunchCookie))
            } else {
                Ok(())
            }
        })
        .untuple_one();

    let ws_route = warp::path!("api" / "v1" / "ws")
        .and(warp::ws())
        .and(warp::header::headers_cloned())
        .and(with_node.clone())
        .map(|ws: warp::ws::Ws, headers: HeaderMap, node: Arc<NodeApi>| {
            if !same_origin(&headers) {
                return error_response(&ApiError::new(
                    ErrorCode::BadOrigin,
                    "WebSocket connections are only accepted from this app's own page.",
                ));
            }
            let Some(joined) = node.current() else {
                return error_response(&not_chosen());
            };
            let max = joined
                .store
                .hub_info()
                .map(|h| h.limits.max_frame_bytes)
                .unwrap_or(64 * 1024);
            ws.max_message_size(max)
                .max_frame_size(max)
                .on_upgrade(move |socket| joined.ui_socket(socket))
                .into_response()
        });
    let api_route = warp::path("api")
        .and(warp::path("v1"))
        .and(warp::path::tail())
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::body::stream())
        .and(with_node.clone())
        .then(
            |tail: warp::path::Tail,
             method: Method,
             headers: HeaderMap,
             query: String,
             body,
             node: Arc<NodeApi>| async move {
                let path = tail.as_str();
                if proxy::is_file_transfer(path) {
                    return match node.current() {
                        Some(joined) => {
                            proxy::forward_file(joined, path, method, &headers, &query, body).await
                        }
                        None => error_response(&not_chosen()),
                    };
                }
                let pace = chinwag_web::Pace::within(REQUEST_TIMEOUT);
                let body = match chinwag_web::read_body(body, MAX_BODY_BYTES, pace).await {
                    Ok(body) => body,
                    Err(err) => return error_response(&err),
                };
                api(node, tail.as_str().to_owned(), method, headers, query, body).await
            },
        );
    let ui = warp::get()
        .and(warp::path::tail())
        .and(warp::header::headers_cloned())
        .and(with_node)
        .map(
            |tail: warp::path::Tail, headers: HeaderMap, node: Arc<NodeApi>| {
                // Until a hub is chosen, the app's page is the start screen.
                let path = match tail.as_str() {
                    "" | "index.html" if node.choosing() => "start.html",
                    other => other,
                };
                chinwag_web::assets::serve(path, &headers)
            },
        );
    launch
        .or(gate.and(ws_route.or(api_route).unify().or(ui).unify()))
        .unify()
        .recover(recover)
        .unify()
}

#[derive(Debug)]
struct BadHost;
impl warp::reject::Reject for BadHost {}

#[derive(Debug)]
struct NoLaunchCookie;
impl warp::reject::Reject for NoLaunchCookie {}

async fn recover(rejection: warp::Rejection) -> Result<Response, std::convert::Infallible> {
    let err = if rejection.find::<NoLaunchCookie>().is_some() {
        ApiError::new(
            ErrorCode::Forbidden,
            "This is the Chinwag app's private address; open Chinwag itself.",
        )
    } else if rejection.find::<BadHost>().is_some() {
        ApiError::new(
            ErrorCode::Forbidden,
            "This app answers only under its loopback address.",
        )
    } else {
        rejection_error(&rejection)
    };
    Ok(error_response(&err))
}

/// Refuses requests whose `Host` is not this node on loopback (DNS rebinding: a web page
/// must not reach the local node under its own name).
fn host_allowed(headers: &HeaderMap, local: SocketAddr) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_matches(['[', ']']);
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip == local.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_reach_the_node() {
        let local: SocketAddr = "127.0.0.1:7118".parse().expect("addr");
        let with = |host: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, host.parse().expect("value"));
            host_allowed(&h, local)
        };
        assert!(with("127.0.0.1:7118"));
        assert!(with("localhost:7118"));
        assert!(with("[::1]:7118"));
        assert!(!with("evil.example:7118"));
        assert!(!with("192.168.1.9:7118"));
        assert!(!host_allowed(&HeaderMap::new(), local));
    }
}

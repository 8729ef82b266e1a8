//! The HTTP face that Chinwag's hub and a joined node share.
//!
//! What it owns: the embedded web UI and its security headers ([`assets`]), the JSON answer
//! for an [`ApiError`] ([`error_response`]), bodies read within a size and a pace ([`read_body`], [`paced`]) and the
//! checks every entrance makes on a request: the bearer token ([`bearer`]), the page's origin
//! ([`same_origin`]), a declared upload size ([`check_declared_upload`]) and secret
//! comparison ([`constant_time_eq`], `subtle`).
//!
//! What it must not do: know the hub's state, the store or the link. Both servers build their
//! routes from these pieces, so a request is judged alike wherever it arrives.

pub mod assets;
mod body;
pub mod serve;
pub mod table;

pub use body::{paced, read_body, Pace};
use chinwag_proto::{ApiError, ErrorCode};
use serde::Serialize;
use warp::http::{header, HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::Reply;

/// The HTTP response for an error: its status, the JSON envelope, and `Retry-After` when the
/// client should wait.
pub fn error_response(err: &ApiError) -> Response {
    let status =
        StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response =
        warp::reply::with_status(warp::reply::json(&err.envelope()), status).into_response();
    if let Some(ms) = err.retry_after_ms {
        let secs = ms.div_ceil(1000).max(1);
        if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

/// A JSON answer with `status`.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    warp::reply::with_status(warp::reply::json(value), status).into_response()
}

/// The error for one of warp's own rejections (no route matched, wrong method...).
pub fn rejection_error(rejection: &warp::Rejection) -> ApiError {
    if rejection.is_not_found() {
        ApiError::new(ErrorCode::NotFound, "There is nothing at this address.")
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new(
            ErrorCode::MethodNotAllowed,
            "That method is not allowed here.",
        )
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::new(ErrorCode::TooLarge, "The request body is too large.")
    } else {
        tracing::debug!("unhandled rejection: {rejection:?}");
        ApiError::bad_request("The request could not be understood.")
    }
}

/// Whether the request declares a JSON body (`Content-Type: application/json`, any
/// parameters).
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Compares secrets without leaking where they differ through timing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// Whether the request's `Origin` is the server's own: `http(s)://` plus exactly the `Host`
/// it asked for. True when there is no `Origin` (clients that are not browsers send none).
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Some(authority) = origin.to_str().ok().and_then(|o| {
        o.strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
    }) else {
        return false;
    };
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| host.eq_ignore_ascii_case(authority))
}

/// The token from an `Authorization: Bearer ...` header value.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let value = header?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty() && t.len() <= 256)
}

/// The bearer token of a request, if it has one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    bearer(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
}

/// Refuses an upload from its headers alone: a `Content-Length` over `limit` or of zero.
pub fn check_declared_upload(headers: &HeaderMap, limit: u64) -> Result<(), ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    chinwag_proto::validate::declared_upload(declared, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_by_value() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }
}

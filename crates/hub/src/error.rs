//! The one error type that reaches clients, as an HTTP status plus a typed body, or as an
//! `error` frame.

use chinwag_proto::{ClientFrame, ErrorBody, ErrorCode, ErrorEnvelope, ServerFrame};
use chinwag_store::StoreError;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::Reply;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub retry_after_ms: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            ErrorCode::Unauthorized,
            "Sign in first: the session token is missing, unknown or revoked.",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("No such {what}."))
    }

    pub fn rate_limited(message: impl Into<String>, retry_after_ms: u64) -> Self {
        ApiError {
            code: ErrorCode::RateLimited,
            message: message.into(),
            retry_after_ms: Some(retry_after_ms.max(1)),
        }
    }

    pub fn internal() -> Self {
        Self::new(
            ErrorCode::Internal,
            "Something went wrong on the hub; it has been logged.",
        )
    }

    /// A serde error on a request body, as a sentence that names the problem.
    pub fn from_json(err: &serde_json::Error) -> Self {
        Self::bad_request(format!("The JSON is not valid here: {err}."))
    }

    pub fn status(&self) -> StatusCode {
        match self.code {
            ErrorCode::BadRequest | ErrorCode::InvalidField | ErrorCode::UnknownType => {
                StatusCode::BAD_REQUEST
            }
            ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::Unauthorized | ErrorCode::BadCredentials => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden | ErrorCode::BadOrigin | ErrorCode::JoinCodeRequired => {
                StatusCode::FORBIDDEN
            }
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::UsernameTaken => StatusCode::CONFLICT,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Timeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code,
            message: self.message.clone(),
            retry_after_ms: self.retry_after_ms,
        }
    }

    pub fn envelope(&self) -> ErrorEnvelope {
        ErrorEnvelope { error: self.body() }
    }

    pub fn frame(&self, reference: Option<String>) -> ServerFrame {
        ServerFrame::Error {
            reference,
            error: self.body(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Forbidden(why) => {
                let mut sentence = why.to_owned();
                if let Some(first) = sentence.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                ApiError::new(ErrorCode::Forbidden, format!("{sentence}."))
            }
            StoreError::Invalid { field, reason } => {
                ApiError::new(ErrorCode::InvalidField, format!("`{field}` {reason}."))
            }
            StoreError::UsernameTaken => {
                ApiError::new(ErrorCode::UsernameTaken, "That username is already taken.")
            }
            StoreError::Unavailable(detail) => {
                tracing::warn!("store unavailable: {detail}");
                ApiError::new(
                    ErrorCode::Unavailable,
                    "The hub cannot save right now (its disk may be full or read-only); \
                     nothing was changed. Try again later.",
                )
            }
            StoreError::Uncertain(detail) => {
                tracing::warn!("store commit failed: {detail}");
                ApiError::new(
                    ErrorCode::Unavailable,
                    "The hub's disk failed while saving (it may be full or read-only); the change \
                     may or may not be stored. Retrying with the same client id is safe.",
                )
            }
            StoreError::Closed => ApiError::new(
                ErrorCode::Unavailable,
                "The hub is shutting down; nothing was changed. Try again in a moment.",
            ),
            other if other.is_unavailable() => {
                ApiError::from(StoreError::Unavailable(other.to_string()))
            }
            other => {
                tracing::error!("store error: {other}");
                ApiError::internal()
            }
        }
    }
}

/// The HTTP response for an error: its status, the JSON envelope, and `Retry-After` when the
/// client should wait.
pub fn error_response(err: &ApiError) -> Response {
    let mut response =
        warp::reply::with_status(warp::reply::json(&err.envelope()), err.status()).into_response();
    if let Some(ms) = err.retry_after_ms {
        let secs = ms.div_ceil(1000).max(1);
        if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

/// Refuses a message body over `max` bytes with `too_large`, naming both sizes.
/// Parses a client frame. For one that is JSON but not a valid frame, the error echoes its
/// `ref` if it has one, and tells an unknown `type` apart from a malformed known one. Used by
/// the hub and by the joined node, so both answer a bad frame alike.
pub fn parse_client_frame(text: &str) -> Result<ClientFrame, (ApiError, Option<String>)> {
    let err = match serde_json::from_str(text) {
        Ok(frame) => return Ok(frame),
        Err(err) => err,
    };
    let value = serde_json::from_str::<serde_json::Value>(text).ok();
    let field = |name: &str| {
        value
            .as_ref()
            .and_then(|v| v.get(name)?.as_str().map(str::to_owned))
    };
    let error = match field("type") {
        Some(ty) if !ClientFrame::TYPES.contains(&ty.as_str()) => ApiError::new(
            ErrorCode::UnknownType,
            format!(
                "Unknown frame type `{ty}`; expected one of: {}.",
                ClientFrame::TYPES.join(", ")
            ),
        ),
        _ => ApiError::from_json(&err),
    };
    Err((error, field("ref")))
}

pub fn check_message_size(body: &str, max: usize) -> Result<(), ApiError> {
    if body.len() > max {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!(
                "The message is {} bytes; the limit is {max} bytes.",
                body.len()
            ),
        ));
    }
    Ok(())
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

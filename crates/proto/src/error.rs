//! Errors as clients see them: a code and a sentence.

use serde::{Deserialize, Serialize};

/// Error codes shared by HTTP and WebSocket. Each comes with a human sentence.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body or frame is not valid JSON, or lacks a required field, or a field has the
    /// wrong type.
    BadRequest,
    /// A field is well-formed but its value is not acceptable (empty, too long, bad characters).
    InvalidField,
    /// A frame `type` the hub does not know.
    UnknownType,
    /// The request or message is larger than the limit.
    TooLarge,
    /// No valid session token, or it was revoked.
    Unauthorized,
    /// Authenticated, but not allowed to do this (not a member, not an admin, not the author).
    Forbidden,
    NotFound,
    /// The username is already taken.
    UsernameTaken,
    /// Registration needs the hub's join code, and it was missing or wrong.
    JoinCodeRequired,
    /// Wrong username or password.
    BadCredentials,
    /// Too many requests; retry after `retry_after_ms`.
    RateLimited,
    MethodNotAllowed,
    /// The `Range` asked for lies outside the file (HTTP 416).
    RangeNotSatisfiable,
    /// The WebSocket upgrade came from a page of another site.
    BadOrigin,
    /// The hub cannot write right now (disk full, read-only store, shutting down).
    Unavailable,
    /// The request's body stopped arriving for too long (HTTP 408).
    Timeout,
    Internal,
}

/// The error object: `{"code": "...", "message": "..."}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retry_after_ms: Option<u64>,
}

/// The REST error envelope: `{"error": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

impl ErrorCode {
    /// The HTTP status a REST answer with this code carries.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest | ErrorCode::InvalidField | ErrorCode::UnknownType => 400,
            ErrorCode::TooLarge => 413,
            ErrorCode::Unauthorized | ErrorCode::BadCredentials => 401,
            ErrorCode::Forbidden | ErrorCode::BadOrigin | ErrorCode::JoinCodeRequired => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::UsernameTaken => 409,
            ErrorCode::RateLimited => 429,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::RangeNotSatisfiable => 416,
            ErrorCode::Unavailable => 503,
            ErrorCode::Timeout => 408,
            ErrorCode::Internal => 500,
        }
    }
}

/// The one error type clients see: a REST error body (with [`ErrorCode::http_status`]) or an
/// `error` frame. Every refusal in the workspace ends as one of these.
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

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidField, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            ErrorCode::Unauthorized,
            "Sign in first: the session token is missing, unknown or revoked.",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
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

    pub fn frame(&self, reference: Option<String>) -> crate::ServerFrame {
        crate::ServerFrame::Error {
            reference,
            error: self.body(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<crate::validate::Invalid> for ApiError {
    fn from(invalid: crate::validate::Invalid) -> Self {
        ApiError::invalid(format!("`{}` {}.", invalid.field, invalid.reason))
    }
}

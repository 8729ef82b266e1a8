//! What a REST handler receives: the [`Request`] (hub, headers, query, path ids, body) and
//! the [`Caller`] the route table authenticated, plus the few answers handlers give.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use chinwag_proto::{ApiError, ErrorCode, User, UserId};
use serde::de::DeserializeOwned;
use serde::Serialize;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;
use warp::Reply;

use crate::{auth, HubState};

/// A request body that a handler reads as it arrives (uploads).
pub(crate) type BodyStream = futures_util::stream::BoxStream<'static, Result<Bytes, warp::Error>>;

/// A handler's answer.
pub(crate) type ApiResult = Result<Response, ApiError>;

/// A request as handlers see it. The path's ids are parsed (positive integers) by the route
/// table before the handler runs; the body has been read within the hub's limit, except for
/// the routes that stream it.
pub(crate) struct Request {
    pub hub: Arc<HubState>,
    pub headers: HeaderMap,
    pub query: String,
    pub addr: Option<SocketAddr>,
    pub ids: [i64; 2],
    pub body: Bytes,
}

impl Request {
    /// The first id in the path (`{conversation}` in `conversations/{conversation}/…`), as
    /// the id type the handler names.
    pub fn id<T: From<i64>>(&self) -> T {
        T::from(self.ids[0])
    }

    /// The second id in the path (`{user}` in `conversations/{conversation}/members/{user}`).
    pub fn second_id<T: From<i64>>(&self) -> T {
        T::from(self.ids[1])
    }

    /// The body as JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.is_empty() {
            return Err(ApiError::bad_request(
                "This request needs a JSON body; it was empty.",
            ));
        }
        serde_json::from_slice(&self.body).map_err(|e| ApiError::from_json(&e))
    }

    /// The query string as `T`.
    pub fn query<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_urlencoded::from_str(&self.query)
            .map_err(|e| ApiError::bad_request(format!("The query string is not valid: {e}.")))
    }

    pub fn ip(&self) -> Option<IpAddr> {
        self.addr.map(|a| a.ip())
    }
}

/// A signed-in caller: the user behind the bearer token, and the token's hash.
pub(crate) struct Caller {
    pub user: User,
    pub session: Vec<u8>,
}

impl Caller {
    pub fn id(&self) -> UserId {
        self.user.id
    }

    /// The user behind a request's bearer token (401 `unauthorized` without a live one).
    pub async fn authenticate(hub: &HubState, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let token = chinwag_web::bearer_token(headers).ok_or_else(ApiError::unauthorized)?;
        let session = auth::token_hash(token);
        let user = crate::api::accounts::session_user(hub, &session)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        Ok(Caller { user, session })
    }
}

/// A hub admin: a signed-in hub admin's id, or `None` for the holder of the hub's local
/// admin token (`chinwag admin` on this machine).
pub(crate) struct Admin(pub Option<UserId>);

impl Admin {
    /// Anyone else is refused: 401 without a valid token, 403 with one.
    pub async fn authenticate(hub: &HubState, headers: &HeaderMap) -> Result<Admin, ApiError> {
        if let (Some(local), Some(token)) =
            (&hub.config.admin_token, chinwag_web::bearer_token(headers))
        {
            if chinwag_web::constant_time_eq(&auth::token_hash(token), &auth::token_hash(local)) {
                return Ok(Admin(None));
            }
        }
        let caller = Caller::authenticate(hub, headers).await?;
        if !caller.user.is_admin {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "Only the hub's admins can do this.",
            ));
        }
        Ok(Admin(Some(caller.id())))
    }
}

/// `200 OK` with `value` as JSON.
pub(crate) fn ok<T: Serialize>(value: &T) -> ApiResult {
    Ok(chinwag_web::json(StatusCode::OK, value))
}

/// `201 Created` with `value` as JSON.
pub(crate) fn created<T: Serialize>(value: &T) -> ApiResult {
    Ok(chinwag_web::json(StatusCode::CREATED, value))
}

/// `201 Created` for something new, `200 OK` for something that already existed.
pub(crate) fn created_or_ok<T: Serialize>(created: bool, value: &T) -> ApiResult {
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(chinwag_web::json(status, value))
}

pub(crate) fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

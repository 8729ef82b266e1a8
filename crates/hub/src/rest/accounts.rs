//! Accounts and sessions.

use crate::api::accounts;
use crate::http::{created, no_content, ok, ApiResult, Caller, Request};

/// `GET /api/v1/hub`: the hub's public facts, with how many people are online.
pub(crate) async fn hub(req: Request) -> ApiResult {
    ok(&accounts::hub_info(&req.hub))
}

/// `POST /api/v1/auth/register`: a new account, signed in (`201`).
pub(crate) async fn register(req: Request) -> ApiResult {
    created(&accounts::register(&req.hub, req.json()?, req.ip()).await?)
}

/// `POST /api/v1/auth/login`: a new session for a username and password.
pub(crate) async fn login(req: Request) -> ApiResult {
    ok(&accounts::login(&req.hub, req.json()?, req.ip()).await?)
}

/// `POST /api/v1/auth/logout`: ends this session and closes its connections.
pub(crate) async fn logout(req: Request, me: Caller) -> ApiResult {
    accounts::logout(&req.hub, me.session).await?;
    no_content()
}

/// `GET /api/v1/me`: my profile.
pub(crate) async fn me(_req: Request, me: Caller) -> ApiResult {
    ok(&me.user)
}

/// `PATCH /api/v1/me`: changes my display name or status text.
pub(crate) async fn update_me(req: Request, me: Caller) -> ApiResult {
    ok(&accounts::update_profile(&req.hub, me.id(), req.json()?).await?)
}

/// `GET /api/v1/me/notifications`: my notification settings.
pub(crate) async fn notifications(req: Request, me: Caller) -> ApiResult {
    ok(&accounts::notify_settings(&req.hub, me.id()).await?)
}

/// `PATCH /api/v1/me/notifications`: changes them (absent fields stay).
pub(crate) async fn set_notifications(req: Request, me: Caller) -> ApiResult {
    ok(&accounts::set_notify(&req.hub, me.id(), req.json()?).await?)
}

/// `GET /api/v1/users`: everyone on the hub, with presence.
pub(crate) async fn users(req: Request, _me: Caller) -> ApiResult {
    ok(&accounts::directory(&req.hub).await?)
}

/// `GET /api/v1/users/{user}`: one person, with presence.
pub(crate) async fn user(req: Request, _me: Caller) -> ApiResult {
    ok(&accounts::user(&req.hub, req.id()).await?)
}

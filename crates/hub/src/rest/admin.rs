//! Hub administration, for hub admins and the local admin token.

use crate::api::{admin, moderation};
use crate::http::{created, no_content, ok, Admin, ApiResult, Request};

/// `GET /api/v1/admin/users`: every account, with sessions and presence.
pub(crate) async fn users(req: Request, _admin: Admin) -> ApiResult {
    ok(&admin::users(&req.hub).await?)
}

/// `POST /api/v1/admin/users`: creates an account (`201`).
pub(crate) async fn create_user(req: Request, _admin: Admin) -> ApiResult {
    created(&admin::create_user(&req.hub, req.json()?).await?)
}

/// `PATCH /api/v1/admin/users/{user}`: disables, enables, promotes, demotes or sets a
/// password.
pub(crate) async fn update_user(req: Request, _admin: Admin) -> ApiResult {
    ok(&admin::update_user(&req.hub, req.id(), req.json()?).await?)
}

/// `GET /api/v1/admin/conversations`: every conversation, with counts.
pub(crate) async fn conversations(req: Request, _admin: Admin) -> ApiResult {
    ok(&admin::conversations(&req.hub).await?)
}

/// `GET /api/v1/admin/stats`: the hub's figures.
pub(crate) async fn stats(req: Request, _admin: Admin) -> ApiResult {
    ok(&admin::stats(&req.hub).await?)
}

/// `GET /api/v1/admin/reports`: reported messages, resolved or not.
pub(crate) async fn reports(req: Request, _admin: Admin) -> ApiResult {
    ok(&admin::reports(&req.hub).await?)
}

/// `PATCH /api/v1/admin/reports/{report}`: marks a report resolved.
pub(crate) async fn resolve_report(req: Request, admin: Admin) -> ApiResult {
    moderation::resolve_report(&req.hub, admin.0, req.id()).await?;
    no_content()
}

//! Conversations and their members.

use crate::api::conversations;
use crate::http::{created, created_or_ok, no_content, ok, ApiResult, Caller, Request};

/// `GET /api/v1/conversations`: my conversation list.
pub(crate) async fn list(req: Request, me: Caller) -> ApiResult {
    ok(&conversations::list(&req.hub, me.id()).await?)
}

/// `POST /api/v1/conversations`: a new group (`201`).
pub(crate) async fn create_group(req: Request, me: Caller) -> ApiResult {
    created(&conversations::create_group(&req.hub, me.id(), req.json()?).await?)
}

/// `POST /api/v1/conversations/direct`: the direct chat with someone (`201` when new).
pub(crate) async fn open_direct(req: Request, me: Caller) -> ApiResult {
    let body: chinwag_proto::rest::DirectRequest = req.json()?;
    let (detail, new) = conversations::open_direct(&req.hub, me.id(), body.user_id).await?;
    created_or_ok(new, &detail)
}

/// `GET /api/v1/conversations/{conversation}`: one of mine, with its members.
pub(crate) async fn detail(req: Request, me: Caller) -> ApiResult {
    ok(&conversations::detail(&req.hub, me.id(), req.id()).await?)
}

/// `PATCH /api/v1/conversations/{conversation}`: renames a group.
pub(crate) async fn rename(req: Request, me: Caller) -> ApiResult {
    ok(&conversations::rename(&req.hub, me.id(), req.id(), req.json()?).await?)
}

/// `POST /api/v1/conversations/{conversation}/members`: adds people to a group.
pub(crate) async fn add_members(req: Request, me: Caller) -> ApiResult {
    ok(&conversations::add_members(&req.hub, me.id(), req.id(), req.json()?).await?)
}

/// `PATCH /api/v1/conversations/{conversation}/members/{user}`: changes a member's role.
pub(crate) async fn set_role(req: Request, me: Caller) -> ApiResult {
    let (id, user) = (req.id(), req.second_id());
    ok(&conversations::set_role(&req.hub, me.id(), id, user, req.json()?).await?)
}

/// `DELETE /api/v1/conversations/{conversation}/members/{user}`: removes a member.
pub(crate) async fn remove_member(req: Request, me: Caller) -> ApiResult {
    conversations::remove_member(&req.hub, me.id(), req.id(), req.second_id()).await?;
    no_content()
}

/// `POST /api/v1/conversations/{conversation}/leave`: I leave a group.
pub(crate) async fn leave(req: Request, me: Caller) -> ApiResult {
    conversations::remove_member(&req.hub, me.id(), req.id(), me.id()).await?;
    no_content()
}

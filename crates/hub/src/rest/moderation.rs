//! Mute, block and report.

use chinwag_proto::admin::{BlockedUsers, MuteRequest, ReportCreated, ReportRequest};

use crate::api::moderation;
use crate::http::{created, no_content, ok, ApiResult, Caller, Request};

/// `PUT /api/v1/conversations/{conversation}/mute`: mutes or unmutes it for me.
pub(crate) async fn mute(req: Request, me: Caller) -> ApiResult {
    let body: MuteRequest = req.json()?;
    moderation::mute(&req.hub, me.id(), req.id(), body.muted).await?;
    no_content()
}

/// `GET /api/v1/blocks`: the people I blocked.
pub(crate) async fn blocked(req: Request, me: Caller) -> ApiResult {
    let blocked = moderation::blocked(&req.hub, me.id()).await?;
    ok(&BlockedUsers { blocked })
}

/// `PUT /api/v1/blocks/{user}`: blocks someone.
pub(crate) async fn block(req: Request, me: Caller) -> ApiResult {
    moderation::block(&req.hub, me.id(), req.id(), true).await?;
    no_content()
}

/// `DELETE /api/v1/blocks/{user}`: unblocks someone.
pub(crate) async fn unblock(req: Request, me: Caller) -> ApiResult {
    moderation::block(&req.hub, me.id(), req.id(), false).await?;
    no_content()
}

/// `POST /api/v1/messages/{message}/report`: reports a message to the hub's admins (`201`).
pub(crate) async fn report(req: Request, me: Caller) -> ApiResult {
    let body: ReportRequest = req.json()?;
    let id = moderation::report(&req.hub, me.id(), req.id(), body.reason).await?;
    created(&ReportCreated { id })
}

//! What a member does about others: mute a conversation, block a person, report a message;
//! and what a hub admin does with a report.

use chinwag_proto::{ApiError, ConversationId, MessageId, ServerFrame, UserId};
use chinwag_store::queries;

use super::{read, write};
use crate::HubState;

/// Mutes or unmutes a conversation for me; every device of mine follows at once.
pub(crate) async fn mute(
    hub: &HubState,
    me: UserId,
    conversation: ConversationId,
    muted: bool,
) -> Result<(), ApiError> {
    write(hub, move |tx| tx.set_muted(me, conversation, muted)).await?;
    let frame = ServerFrame::Muted {
        conversation_id: conversation,
        muted,
    };
    hub.fanout.to_user(me, &frame);
    Ok(())
}

/// The people I blocked.
pub(crate) async fn blocked(hub: &HubState, me: UserId) -> Result<Vec<UserId>, ApiError> {
    read(hub, move |c| queries::blocked_by(c, me)).await
}

/// Blocks or unblocks `other`: no direct messages from them, their typing hidden. The
/// fan-out mirrors it at once, and every device of mine hears of it.
pub(crate) async fn block(
    hub: &HubState,
    me: UserId,
    other: UserId,
    blocked: bool,
) -> Result<(), ApiError> {
    write(hub, move |tx| tx.set_blocked(me, other, blocked)).await?;
    hub.fanout.set_blocked(me, other, blocked);
    let frame = ServerFrame::Blocked {
        user_id: other,
        blocked,
    };
    hub.fanout.to_user(me, &frame);
    Ok(())
}

/// Reports a message to the hub's admins; answers the report's id.
pub(crate) async fn report(
    hub: &HubState,
    me: UserId,
    message: MessageId,
    reason: String,
) -> Result<i64, ApiError> {
    let report = write(hub, move |tx| tx.report(me, message, &reason)).await?;
    tracing::info!(
        user = me.get(),
        message_id = message.get(),
        report,
        "message reported"
    );
    Ok(report)
}

/// Marks a report resolved; `admin` is `None` for the hub's local admin token.
pub(crate) async fn resolve_report(
    hub: &HubState,
    admin: Option<UserId>,
    report: i64,
) -> Result<(), ApiError> {
    write(hub, move |tx| tx.resolve_report(admin, report)).await
}

//! Conversations and their members: the list, groups, direct chats, roles, leaving.

use chinwag_proto::rest::{
    AddMembersRequest, CreateGroupRequest, SetRoleRequest, UpdateGroupRequest,
};
use chinwag_proto::{
    ApiError, Conversation, ConversationDetail, ConversationId, ConversationSummary, Member, UserId,
};
use chinwag_store::queries;

use super::{read, require_member, write};
use crate::HubState;

/// My conversation list, with unread counts.
pub(crate) async fn list(hub: &HubState, me: UserId) -> Result<Vec<ConversationSummary>, ApiError> {
    read(hub, move |c| queries::conversation_summaries(c, me)).await
}

/// One of my conversations, with its members.
pub(crate) async fn detail(
    hub: &HubState,
    me: UserId,
    id: ConversationId,
) -> Result<ConversationDetail, ApiError> {
    read(hub, move |c| {
        require_member(c, id, me)?;
        queries::conversation_detail(c, id)
    })
    .await
}

/// Takes one of `me`'s conversation changes (a group created, people added, a direct chat
/// opened), or refuses with `rate_limited`: a blocked person cannot put the blocker in
/// thousands of groups in seconds.
fn check_change_rate(hub: &HubState, me: UserId) -> Result<(), ApiError> {
    hub.change_limit.take(me, || {
        format!(
            "You are creating or adding faster than {} a minute; try again in a moment.",
            hub.config.conversation_changes_per_minute
        )
    })
}

pub(crate) async fn create_group(
    hub: &HubState,
    me: UserId,
    req: CreateGroupRequest,
) -> Result<ConversationDetail, ApiError> {
    check_change_rate(hub, me)?;
    write(hub, move |tx| {
        tx.create_group(me, &req.name, &req.member_ids)
    })
    .await
}

/// The direct chat between me and `other`, opened if it did not exist (`true` then).
pub(crate) async fn open_direct(
    hub: &HubState,
    me: UserId,
    other: UserId,
) -> Result<(ConversationDetail, bool), ApiError> {
    check_change_rate(hub, me)?;
    write(hub, move |tx| tx.open_direct(me, other)).await
}

pub(crate) async fn rename(
    hub: &HubState,
    me: UserId,
    id: ConversationId,
    req: UpdateGroupRequest,
) -> Result<Conversation, ApiError> {
    write(hub, move |tx| tx.update_group(me, id, &req)).await
}

pub(crate) async fn add_members(
    hub: &HubState,
    me: UserId,
    id: ConversationId,
    req: AddMembersRequest,
) -> Result<ConversationDetail, ApiError> {
    check_change_rate(hub, me)?;
    write(hub, move |tx| tx.add_members(me, id, &req.user_ids)).await
}

pub(crate) async fn set_role(
    hub: &HubState,
    me: UserId,
    id: ConversationId,
    user: UserId,
    req: SetRoleRequest,
) -> Result<Member, ApiError> {
    write(hub, move |tx| tx.set_role(me, id, user, req.role)).await
}

/// Removes `user` from the group: an admin removing someone, or `user == me` leaving.
pub(crate) async fn remove_member(
    hub: &HubState,
    me: UserId,
    id: ConversationId,
    user: UserId,
) -> Result<(), ApiError> {
    write(hub, move |tx| tx.remove_member(me, id, user)).await
}

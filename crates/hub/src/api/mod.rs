//! Chinwag's use cases, each one function of the hub state, the caller and a typed request.
//!
//! Nothing here sees a header, a frame or a response: the REST handlers (`crate::rest`), the
//! WebSocket frame arms (`crate::ws`) and `chinwag admin` (through [`crate::Hub`]) are thin
//! adapters over these functions, so a rule such as "a send stops the sender's typing" is
//! written once.
//!
//! A write that a WebSocket pipelines comes in two steps: the call checks the request and
//! queues the write in the store's writer (in the order frames arrive), and returns a
//! [`Pending`] that resolves after the commit, with the use case's after-commit effects done.
//! A REST handler awaits both at once.

pub(crate) mod accounts;
pub(crate) mod admin;
pub(crate) mod conversations;
pub(crate) mod live;
pub(crate) mod messages;
pub(crate) mod moderation;

use chinwag_proto::ApiError;
use futures_util::future::BoxFuture;

use crate::HubState;

/// A queued write's outcome, with its after-commit effects applied when it resolves.
pub(crate) type Pending<T> = BoxFuture<'static, Result<T, ApiError>>;

/// Runs `f` in the store's writer and waits for its commit.
pub(crate) async fn write<T, F>(hub: &HubState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut chinwag_store::Tx<'_>) -> chinwag_store::Result<T> + Send + 'static,
{
    Ok(hub.store.write(f).await?)
}

/// Queues `f` in the store's writer (with its own savepoint) and returns at once; the
/// [`Pending`] resolves with its result once it is committed.
pub(crate) async fn queue<T, F>(hub: &HubState, f: F) -> Result<Pending<T>, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut chinwag_store::Tx<'_>) -> chinwag_store::Result<T> + Send + 'static,
{
    let ticket = hub.store.submit(f).await?;
    Ok(Box::pin(async move { Ok(ticket.wait().await?) }))
}

/// Reads through the store's read pool.
pub(crate) async fn read<T, F>(hub: &HubState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&chinwag_store::Connection) -> chinwag_store::Result<T> + Send + 'static,
{
    Ok(hub.store.read(f).await?)
}

/// Refuses with `not_found` unless `user` is a member of `conversation` (non-members may not
/// learn that it exists).
pub(crate) fn require_member(
    c: &chinwag_store::Connection,
    conversation: chinwag_proto::ConversationId,
    user: chinwag_proto::UserId,
) -> chinwag_store::Result<()> {
    match chinwag_store::queries::membership(c, conversation, user)? {
        Some(_) => Ok(()),
        None => Err(chinwag_store::StoreError::NotFound("conversation")),
    }
}

//! Messages: sending, editing, deleting, receipts, history, search and the event log.
//!
//! Send, edit, delete and receipts are pipelined by WebSocket connections: each returns a
//! [`Pending`] once its write is queued (see the module above).

use std::sync::Arc;
use std::time::Instant;

use chinwag_proto::rest::{EventPage, MessagePage, SearchHit, SendRequest};
use chinwag_proto::{
    validate, ApiError, ConversationId, EventFrame, EventId, Member, Message, MessageId, Reaction,
    Seq, UserId,
};
use chinwag_store::queries::{self, PageFrom, SearchFilter};

use super::{queue, read, require_member, Pending};
use crate::receipts::Plan;
use crate::{HubState, MAX_HISTORY_PAGE};
use chinwag_store::StoreError;

/// A send's outcome: the stored message, and whether it had been stored before (a retry
/// with the same `client_id`).
pub(crate) struct Sent {
    pub message: Message,
    pub duplicate: bool,
}

/// Results a search returns when it does not say.
pub(crate) const DEFAULT_SEARCH_RESULTS: u32 = 20;
/// Most results one search returns.
const MAX_SEARCH_RESULTS: u32 = 50;
/// Most events one page of `GET /api/v1/events` returns.
const MAX_EVENTS_PAGE: u32 = 1000;

/// Takes a message token for `me` or refuses with `rate_limited`. Sends, edits, deletes and
/// uploads share it.
pub(crate) fn check_send_rate(hub: &HubState, me: UserId) -> Result<(), ApiError> {
    hub.send_limit.take(me, || {
        format!(
            "You are sending faster than {} messages per second; slow down.",
            hub.config.messages_per_second
        )
    })
}

/// Sends a message (with files already uploaded) to a conversation. After the commit: the
/// metrics and the log count it (not a retry), and the sender's typing indicator stops, after
/// the message so that others see it arrive before the indicator goes.
pub(crate) async fn send(
    hub: &Arc<HubState>,
    me: UserId,
    conversation: ConversationId,
    req: SendRequest,
) -> Result<Pending<Sent>, ApiError> {
    let arrived = Instant::now();
    validate::message_size(&req.body, hub.config.max_message_bytes)?;
    check_send_rate(hub, me)?;
    let max = hub.config.max_message_bytes;
    // A send checks everything before it writes: no savepoint of its own is needed.
    let ticket = hub
        .store
        .submit_checked(move |tx| tx.send(me, conversation, &req, max))
        .await?;
    let hub = hub.clone();
    Ok(Box::pin(async move {
        let (message, duplicate) = ticket.wait().await?;
        if !duplicate {
            hub.metrics.sent(arrived.elapsed());
            crate::log_message("sent", &message);
        }
        hub.fanout.typing(conversation, me, false);
        Ok(Sent { message, duplicate })
    }))
}

/// Replaces the text of one of my messages.
pub(crate) async fn edit(
    hub: &HubState,
    me: UserId,
    id: MessageId,
    body: String,
) -> Result<Pending<Message>, ApiError> {
    validate::message_size(&body, hub.config.max_message_bytes)?;
    check_send_rate(hub, me)?;
    let max = hub.config.max_message_bytes;
    let ticket = hub
        .store
        .submit(move |tx| tx.edit_message(me, id, &body, max))
        .await?;
    Ok(logged(ticket, "edited"))
}

/// Deletes one of my messages (a hub admin: anyone's), leaving a tombstone.
pub(crate) async fn delete(
    hub: &HubState,
    me: UserId,
    id: MessageId,
) -> Result<Pending<Message>, ApiError> {
    check_send_rate(hub, me)?;
    let ticket = hub
        .store
        .submit(move |tx| tx.delete_message(me, id))
        .await?;
    Ok(logged(ticket, "deleted"))
}

/// Puts my reaction on a message I can see, or takes it off. Reactions share the send rate
/// with messages, edits and deletions.
pub(crate) async fn react(
    hub: &HubState,
    me: UserId,
    id: MessageId,
    emoji: String,
    on: bool,
) -> Result<Pending<Vec<Reaction>>, ApiError> {
    validate::reaction(&emoji)?;
    check_send_rate(hub, me)?;
    queue(hub, move |tx| tx.react(me, id, &emoji, on)).await
}

/// Marks a conversation unread for me from message `seq` on (on all my devices).
pub(crate) async fn mark_unread(
    hub: &HubState,
    me: UserId,
    conversation: ConversationId,
    seq: Seq,
) -> Result<Pending<()>, ApiError> {
    check_send_rate(hub, me)?;
    queue(hub, move |tx| tx.mark_unread(me, conversation, seq)).await
}

/// Every emoji a reaction may be, for pickers (the same list for everyone, made once).
pub(crate) fn emoji() -> &'static [chinwag_proto::rest::EmojiEntry] {
    static LIST: std::sync::LazyLock<Vec<chinwag_proto::rest::EmojiEntry>> =
        std::sync::LazyLock::new(validate::emoji_list);
    &LIST
}

fn logged(ticket: chinwag_store::WriteTicket<Message>, what: &'static str) -> Pending<Message> {
    Box::pin(async move {
        let message = ticket.wait().await?;
        crate::log_message(what, &message);
        Ok(message)
    })
}

/// Moves my delivered and/or read position in a conversation (never backwards). Reports
/// are coalesced (`crate::receipts`): `Ok(None)` when this one is merged into the write at
/// the end of the person's window; `at_once` (a caller waiting for the result) writes now.
pub(crate) async fn receipt(
    hub: &HubState,
    me: UserId,
    conversation: ConversationId,
    delivered: Option<Seq>,
    read_up_to: Option<Seq>,
    at_once: bool,
) -> Result<Option<Pending<Member>>, ApiError> {
    if delivered.is_none() && read_up_to.is_none() {
        return Err(ApiError::invalid(
            "Give `delivered_seq`, `read_seq` or both.",
        ));
    }
    // What can be told now is told now, merged or not; a position past the latest message
    // is only known in the writer.
    if !hub.fanout.is_member(conversation, me) {
        return Err(StoreError::NotFound("conversation").into());
    }
    for (field, seq) in [("delivered_seq", delivered), ("read_seq", read_up_to)] {
        if seq.is_some_and(|s| s < 0) {
            return Err(
                StoreError::invalid(field, "must be between 0 and the latest message").into(),
            );
        }
    }
    let plan = hub
        .receipts
        .report(hub, me, conversation, delivered, read_up_to, at_once);
    let Plan::Now(delivered, read_up_to) = plan else {
        return Ok(None);
    };
    let pending = queue(hub, move |tx| {
        tx.receipt(me, conversation, delivered, read_up_to)
    })
    .await?;
    Ok(Some(pending))
}

/// A page of a conversation's history, `limit` messages from `from`.
pub(crate) async fn history(
    hub: &HubState,
    me: UserId,
    conversation: ConversationId,
    from: PageFrom,
    limit: Option<u32>,
) -> Result<MessagePage, ApiError> {
    let limit = limit.unwrap_or(50);
    if limit == 0 || limit > MAX_HISTORY_PAGE {
        return Err(ApiError::invalid(format!(
            "`limit` must be between 1 and {MAX_HISTORY_PAGE}."
        )));
    }
    read(hub, move |c| {
        queries::history(c, conversation, me, from, limit)
    })
    .await
}

/// One message, if I may see it (a member of its conversation, within the history I see):
/// what a reply's quote shows. Anything else is `404`, whether or not the id exists.
pub(crate) async fn one(hub: &HubState, me: UserId, id: MessageId) -> Result<Message, ApiError> {
    read(hub, move |c| queries::visible_message(c, me, id)).await
}

/// Messages I may see that contain every word of `text`, best first.
pub(crate) async fn search(
    hub: &HubState,
    me: UserId,
    text: String,
    filter: SearchFilter,
) -> Result<Vec<SearchHit>, ApiError> {
    let (conversation_id, sender_id, limit) =
        (filter.conversation_id, filter.sender_id, filter.limit);
    if text.chars().count() > queries::MAX_SEARCH_CHARS {
        return Err(ApiError::invalid(format!(
            "`q` is too long: at most {} characters.",
            queries::MAX_SEARCH_CHARS
        )));
    }
    if queries::search_query(&text).is_none() {
        return Err(ApiError::invalid(
            "`q` needs at least one word to look for (letters or digits).",
        ));
    }
    if limit == 0 || limit > MAX_SEARCH_RESULTS {
        return Err(ApiError::invalid(format!(
            "`limit` must be between 1 and {MAX_SEARCH_RESULTS}."
        )));
    }
    for (name, id) in [
        ("conversation_id", conversation_id.map(i64::from)),
        ("sender_id", sender_id.map(i64::from)),
    ] {
        if id.is_some_and(|id| id <= 0) {
            return Err(ApiError::invalid(format!(
                "`{name}` must be a positive id."
            )));
        }
    }
    if let (Some(before), Some(after)) = (filter.before, filter.after) {
        if before <= after {
            return Err(ApiError::invalid("`before` must be later than `after`."));
        }
    }
    read(hub, move |c| {
        if let Some(id) = filter.conversation_id {
            require_member(c, id, me)?;
        }
        queries::search(c, me, &text, &filter)
    })
    .await
}

/// Durable events after a cursor, for clients that poll instead of holding a WebSocket.
pub(crate) async fn events(
    hub: &HubState,
    me: UserId,
    after: Option<EventId>,
    limit: Option<u32>,
) -> Result<EventPage, ApiError> {
    let after = after.unwrap_or_default().max(EventId(0));
    let limit = limit.unwrap_or(100);
    if limit == 0 || limit > MAX_EVENTS_PAGE {
        return Err(ApiError::invalid(format!(
            "`limit` must be between 1 and {MAX_EVENTS_PAGE}."
        )));
    }
    let (rows, last) = read(hub, move |c| {
        Ok((
            queries::events_for_user(c, me, after, limit + 1)?,
            queries::last_event_id(c)?,
        ))
    })
    .await?;
    let has_more = rows.len() > limit as usize;
    let mut events = Vec::with_capacity(rows.len());
    for (id, payload) in rows.into_iter().take(limit as usize) {
        let event = serde_json::from_str(&payload).map_err(|e| {
            tracing::error!("stored event {id} does not decode: {e}");
            ApiError::internal()
        })?;
        events.push(EventFrame { id, event });
    }
    let last_event_id = if has_more {
        events.last().map(|e| e.id).unwrap_or(after)
    } else {
        last.max(after)
    };
    Ok(EventPage {
        events,
        last_event_id,
        has_more,
    })
}

//! Messages, receipts, history, search and the event log.

use chinwag_proto::rest::{
    EditRequest, MarkUnreadRequest, ReactRequest, ReactionsReply, ReceiptRequest, SearchResults,
};
use chinwag_proto::{ApiError, ConversationId, EventId, UserId};
use chinwag_store::queries::{PageFrom, SearchFilter};
use serde::Deserialize;

use crate::api::messages;
use crate::http::{created_or_ok, no_content, ok, ApiResult, Caller, Request};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<u32>,
}

/// `GET /api/v1/conversations/{conversation}/messages?before=|after=&limit=`: a page of
/// history, oldest first.
pub(crate) async fn history(req: Request, me: Caller) -> ApiResult {
    let q: HistoryQuery = req.query()?;
    let from = match (q.before, q.after) {
        (Some(_), Some(_)) => return Err(ApiError::invalid("Give `before` or `after`, not both.")),
        (Some(before), None) => PageFrom::Before(before),
        (None, Some(after)) => PageFrom::After(after),
        (None, None) => PageFrom::Latest,
    };
    ok(&messages::history(&req.hub, me.id(), req.id(), from, q.limit).await?)
}

/// `POST /api/v1/conversations/{conversation}/messages`: sends a message (`201`; `200` for
/// a retry of one already stored).
pub(crate) async fn send(req: Request, me: Caller) -> ApiResult {
    let sent = messages::send(&req.hub, me.id(), req.id(), req.json()?)
        .await?
        .await?;
    created_or_ok(!sent.duplicate, &sent.message)
}

/// `GET /api/v1/messages/{message}`: one message I may see (the original of a reply).
pub(crate) async fn one(req: Request, me: Caller) -> ApiResult {
    ok(&messages::one(&req.hub, me.id(), req.id()).await?)
}

/// `POST /api/v1/messages/{message}/reactions`: puts my reaction on or takes it off; the
/// message's reactions after the change.
pub(crate) async fn react(req: Request, me: Caller) -> ApiResult {
    let body: ReactRequest = req.json()?;
    let reactions = messages::react(&req.hub, me.id(), req.id(), body.emoji, body.on)
        .await?
        .await?;
    ok(&ReactionsReply { reactions })
}

/// `POST /api/v1/conversations/{conversation}/unread`: marks it unread from `seq` on, for
/// me, on all my devices (`204`).
pub(crate) async fn mark_unread(req: Request, me: Caller) -> ApiResult {
    let body: MarkUnreadRequest = req.json()?;
    messages::mark_unread(&req.hub, me.id(), req.id(), body.seq)
        .await?
        .await?;
    no_content()
}

/// `GET /api/v1/emoji`: every emoji a reaction may be, for pickers and completion.
pub(crate) async fn emoji(_req: Request) -> ApiResult {
    ok(&messages::emoji())
}

/// `PATCH /api/v1/messages/{message}`: edits one of my messages.
pub(crate) async fn edit(req: Request, me: Caller) -> ApiResult {
    let body: EditRequest = req.json()?;
    ok(&messages::edit(&req.hub, me.id(), req.id(), body.body)
        .await?
        .await?)
}

/// `DELETE /api/v1/messages/{message}`: deletes a message, leaving a tombstone.
pub(crate) async fn delete(req: Request, me: Caller) -> ApiResult {
    ok(&messages::delete(&req.hub, me.id(), req.id()).await?.await?)
}

/// `POST /api/v1/conversations/{conversation}/receipts`: moves my delivered/read position.
pub(crate) async fn receipt(req: Request, me: Caller) -> ApiResult {
    let body: ReceiptRequest = req.json()?;
    let pending = messages::receipt(
        &req.hub,
        me.id(),
        req.id(),
        body.delivered_seq,
        body.read_seq,
        true,
    )
    .await?
    .ok_or_else(ApiError::internal)?; // `at_once` is written at once
    ok(&pending.await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    after: Option<EventId>,
    limit: Option<u32>,
}

/// `GET /api/v1/events?after=&limit=`: durable events after a cursor, for clients that poll.
pub(crate) async fn events(req: Request, me: Caller) -> ApiResult {
    let q: EventsQuery = req.query()?;
    ok(&messages::events(&req.hub, me.id(), q.after, q.limit).await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    q: Option<String>,
    conversation_id: Option<ConversationId>,
    sender_id: Option<UserId>,
    before: Option<chinwag_proto::Millis>,
    after: Option<chinwag_proto::Millis>,
    limit: Option<u32>,
}

/// `GET /api/v1/search?q=&conversation_id=&sender_id=&before=&after=&limit=`: messages I may
/// see with every word of `q`, best first.
pub(crate) async fn search(req: Request, me: Caller) -> ApiResult {
    let q: SearchQuery = req.query()?;
    let text = q.q.unwrap_or_default();
    let filter = SearchFilter {
        conversation_id: q.conversation_id,
        sender_id: q.sender_id,
        before: q.before,
        after: q.after,
        limit: q.limit.unwrap_or(messages::DEFAULT_SEARCH_RESULTS),
    };
    let results = messages::search(&req.hub, me.id(), text, filter).await?;
    ok(&SearchResults { results })
}

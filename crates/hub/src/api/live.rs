//! Ephemeral state: typing, presence and who a connection watches. Never stored; each
//! connection has its own allowance of these frames ([`Allowance`]).

use chinwag_proto::{ApiError, ConversationId, Presence, UserId, MAX_WATCHED_USERS};

use crate::fanout::ConnId;
use crate::limits::Limit;
use crate::HubState;

/// `watch` frames per connection per second, and the burst allowed (a client re-sends its
/// list when a dialog opens or closes).
const WATCH_PER_SECOND: u32 = 2;
const WATCH_BURST: u32 = 10;

/// One connection's rate limits for ephemeral frames.
pub(crate) struct Allowance {
    typing: Limit,
    watch: Limit,
}

impl Allowance {
    pub fn new(hub: &HubState) -> Self {
        let typing = hub.config.typing_per_second;
        Allowance {
            typing: Limit::new(typing, typing * 2),
            watch: Limit::new(WATCH_PER_SECOND, WATCH_BURST),
        }
    }
}

/// Says that I started or stopped typing in a conversation I am a member of.
pub(crate) fn typing(
    hub: &HubState,
    allowance: &Allowance,
    me: UserId,
    conversation: ConversationId,
    typing: bool,
) -> Result<(), ApiError> {
    if !hub.fanout.is_member(conversation, me) {
        return Err(ApiError::not_found("conversation"));
    }
    allowance.typing.check().map_err(|wait| {
        ApiError::rate_limited(
            format!(
                "Typing frames are limited to {} per second.",
                hub.config.typing_per_second
            ),
            wait.as_millis() as u64,
        )
    })?;
    hub.fanout.typing(conversation, me, typing);
    Ok(())
}

/// Marks a connection away or back at the keyboard.
pub(crate) fn presence(hub: &HubState, conn: ConnId, status: Presence) -> Result<(), ApiError> {
    let away = match status {
        Presence::Online => false,
        Presence::Away => true,
        Presence::Offline => {
            return Err(ApiError::invalid(
                "`status` must be \"online\" or \"away\"; close the connection to go offline.",
            ))
        }
    };
    hub.fanout.set_away(conn, away);
    Ok(())
}

/// Replaces the people whose presence a connection hears about. `Ok(Some(text))` is the
/// `presence` frame to send at once, when the fan-out could not queue it.
pub(crate) fn watch(
    hub: &HubState,
    allowance: &Allowance,
    conn: ConnId,
    user_ids: &[UserId],
    reference: Option<String>,
) -> Result<Option<tokio_tungstenite::tungstenite::Utf8Bytes>, ApiError> {
    if user_ids.len() > MAX_WATCHED_USERS {
        return Err(ApiError::invalid(format!(
            "`user_ids` may list at most {MAX_WATCHED_USERS} people; watch the ones you show."
        )));
    }
    if user_ids.iter().any(|id| id.get() <= 0) {
        return Err(ApiError::invalid("`user_ids` must be positive user ids."));
    }
    allowance.watch.check().map_err(|wait| {
        ApiError::rate_limited(
            format!("Watch frames are limited to {WATCH_PER_SECOND} per second."),
            wait.as_millis() as u64,
        )
    })?;
    Ok(hub.fanout.watch(conn, user_ids, reference).err())
}

//! WebSocket frames, both ways.

use serde::{Deserialize, Serialize};

use crate::*;

/// Frames a client sends over the WebSocket. The first must be `auth`.
///
/// `ref` is an optional client-chosen string echoed in the reply, so a client can match
/// replies to requests.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Authenticate with a session token; optionally resume after the last event id seen.
    Auth {
        /// Echoed in `ready`, or in the `error` that refuses the token.
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none", default)]
        reference: Option<String>,
        token: String,
        #[serde(default)]
        resume_from: Option<EventId>,
    },
    /// Send a message. Always acknowledged with `ack` once committed, or `error`.
    Send {
        #[serde(default, rename = "ref")]
        reference: Option<String>,
        conversation_id: ConversationId,
        client_id: String,
        body: String,
        /// Ids of files I uploaded to this conversation and have not sent yet.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<FileId>,
        /// The message this one answers (see `SendRequest::reply_to`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<MessageId>,
    },
    /// Edit one of my messages.
    Edit {
        #[serde(default, rename = "ref")]
        reference: Option<String>,
        message_id: MessageId,
        body: String,
    },
    /// Delete one of my messages, leaving a tombstone.
    Delete {
        #[serde(default, rename = "ref")]
        reference: Option<String>,
        message_id: MessageId,
    },
    /// I am typing (`true`, refresh every few seconds) or stopped (`false`).
    Typing {
        #[serde(default, rename = "ref")]
        reference: Option<String>,
        conversation_id: ConversationId,
        typing: bool,
    },
    /// A device of mine received every message up to `seq`.
    Delivered {
        #[serde(default, rename = "ref")]
        reference: Option<String>,
        conversation_id: ConversationId,
        seq: Seq,
    },
    /// I have seen the conversation up to `seq` (implies delivered).
    Read {
        #[serde(default, rename = "ref")]
        reference: Option<String>,
        conversation_id: ConversationId,
        seq: Seq,
    },
    /// Set this connection's presence: `online` or `away`.
    Presence {
        #[serde(default, rename = "ref")]
        reference: Option<String>,
        status: Presence,
    },
    /// Tell me when these people's presence changes (replaces the previous list; at most
    /// [`MAX_WATCHED_USERS`]). Answered with `watching`.
    Watch {
        #[serde(default, rename = "ref")]
        reference: Option<String>,
        user_ids: Vec<UserId>,
    },
    /// Mark a conversation unread from message `seq` on: my unread count and "New messages"
    /// start there again, on all my devices, until I next read it. Answered with `ok`.
    MarkUnread {
        #[serde(default, rename = "ref")]
        reference: Option<String>,
        conversation_id: ConversationId,
        seq: Seq,
    },
    /// Put my reaction `emoji` on a message (`on: true`) or take it off (`false`). Answered
    /// with `ok`; everyone who sees the message gets a `reaction` event.
    React {
        #[serde(default, rename = "ref")]
        reference: Option<String>,
        message_id: MessageId,
        emoji: String,
        on: bool,
    },
    /// Application-level ping; answered with `pong`.
    Ping {
        #[serde(default, rename = "ref")]
        reference: Option<String>,
    },
}

impl ClientFrame {
    /// Every `type` a client may send.
    pub const TYPES: &'static [&'static str] = &[
        "auth",
        "send",
        "edit",
        "delete",
        "typing",
        "delivered",
        "read",
        "presence",
        "watch",
        "react",
        "mark_unread",
        "ping",
    ];

    /// The client's `ref`, if the frame has one.
    pub fn reference(&self) -> Option<&str> {
        match self {
            ClientFrame::Auth { reference, .. }
            | ClientFrame::Send { reference, .. }
            | ClientFrame::Edit { reference, .. }
            | ClientFrame::Delete { reference, .. }
            | ClientFrame::Typing { reference, .. }
            | ClientFrame::Delivered { reference, .. }
            | ClientFrame::Read { reference, .. }
            | ClientFrame::Presence { reference, .. }
            | ClientFrame::Watch { reference, .. }
            | ClientFrame::React { reference, .. }
            | ClientFrame::MarkUnread { reference, .. }
            | ClientFrame::Ping { reference } => reference.as_deref(),
        }
    }
}

/// Frames the hub sends over the WebSocket. `event` frames are built by the hub from
/// stored JSON (see [`event_frame`]) and so are not a variant here.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Authentication succeeded. Replayed events (if `resume_from` was given) follow, then
    /// `synced`.
    Ready {
        /// The `auth` frame's `ref`, when it had one.
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none", default)]
        reference: Option<String>,
        user: User,
        hub: HubInfo,
        /// The newest event id at the time of `ready`; resume from it if nothing else arrives.
        last_event_id: EventId,
    },
    /// The reply to `watch`: the presence of every watched user, offline ones included.
    Watching {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none", default)]
        reference: Option<String>,
        presence: Vec<PresenceEntry>,
    },
    /// Every missed event has been sent; from now on events are live.
    Synced {
        last_event_id: EventId,
        /// Only from a joined node: `resume_from` was older than the events it keeps, so
        /// nothing was replayed. Reload conversations and history as on a fresh start.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reset: bool,
    },
    /// A message operation was committed.
    Ack {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none", default)]
        reference: Option<String>,
        message: Message,
        /// True when a `send` repeated a `client_id` already stored: nothing new was made.
        duplicate: bool,
    },
    /// A frame with a `ref` that has no other reply succeeded.
    Ok {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none", default)]
        reference: Option<String>,
    },
    Pong {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none", default)]
        reference: Option<String>,
    },
    /// Someone started or stopped typing. Ephemeral: never stored or replayed.
    Typing {
        conversation_id: ConversationId,
        user_id: UserId,
        typing: bool,
        /// Drop the indicator after this long without a refresh.
        expires_in_ms: u64,
    },
    /// The presence of someone this connection watches changed. Ephemeral.
    Presence { user_id: UserId, status: Presence },
    /// I muted or unmuted a conversation (on any of my devices). Sent to every connection of
    /// mine, nobody else's. Ephemeral: the conversation list carries `muted` after a reload.
    Muted {
        conversation_id: ConversationId,
        muted: bool,
    },
    /// I blocked or unblocked someone (on any of my devices). Sent to every connection of
    /// mine, nobody else's. Ephemeral: `GET /api/v1/blocks` has the list.
    Blocked { user_id: UserId, blocked: bool },
    /// A request failed. The connection stays open unless a close frame follows.
    Error {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none", default)]
        reference: Option<String>,
        #[serde(flatten)]
        error: ErrorBody,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PresenceEntry {
    pub user_id: UserId,
    pub status: Presence,
}

/// Parses a client frame. For one that is JSON but not a valid frame, the error echoes its
/// `ref` if it has one, and tells an unknown `type` apart from a malformed known one. The
/// hub and the joined node both parse with it, so both answer a bad frame alike.
pub fn parse_client_frame(text: &str) -> Result<ClientFrame, (ApiError, Option<String>)> {
    let err = match serde_json::from_str(text) {
        Ok(frame) => return Ok(frame),
        Err(err) => err,
    };
    let value = serde_json::from_str::<serde_json::Value>(text).ok();
    let field = |name: &str| {
        value
            .as_ref()
            .and_then(|v| v.get(name)?.as_str().map(str::to_owned))
    };
    let error = match field("type") {
        Some(ty) if !ClientFrame::TYPES.contains(&ty.as_str()) => ApiError::new(
            ErrorCode::UnknownType,
            format!(
                "Unknown frame type `{ty}`; expected one of: {}.",
                ClientFrame::TYPES.join(", ")
            ),
        ),
        _ => ApiError::from_json(&err),
    };
    Err((error, field("ref")))
}

//! Chinwag's wire format.
//!
//! This crate owns every shape that crosses the network: the WebSocket frames a client
//! sends ([`ClientFrame`]) and receives ([`ServerFrame`], [`Event`]), the REST request and
//! response bodies, the error codes ([`ErrorCode`]) and the protocol limits. Nothing else in
//! the workspace defines JSON that leaves the process; `docs/protocol.md` documents what is
//! here.
//!
//! It does no I/O and knows nothing of warp, SQLite or Tauri.

use serde::{Deserialize, Serialize};

/// Version of the protocol described in `docs/protocol.md`. Bumped on incompatible change.
pub const PROTOCOL_VERSION: u32 = 2;

/// Most people one connection may watch the presence of (`watch`).
pub const MAX_WATCHED_USERS: usize = 1000;

/// Identifier of a user account.
pub type UserId = i64;
/// Identifier of a conversation (`general`, a direct chat or a group).
pub type ConversationId = i64;
/// Identifier of a message, unique across the hub.
pub type MessageId = i64;
/// An uploaded file (`POST /api/v1/conversations/{id}/files`).
pub type FileId = i64;
/// Identifier of a durable event; strictly increasing across the hub.
pub type EventId = i64;
/// Position of a message inside its conversation, starting at 1.
pub type Seq = i64;
/// Milliseconds since the Unix epoch (UTC).
pub type Millis = i64;

/// Limits the hub enforces, advertised in [`HubInfo`] and the `ready` frame so that clients
/// can refuse oversized input before the hub has to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Limits {
    /// Largest message body, in UTF-8 bytes.
    pub max_message_bytes: usize,
    /// Largest WebSocket frame the hub reads; a bigger frame closes the connection (1009).
    pub max_frame_bytes: usize,
    /// Largest REST request body.
    pub max_body_bytes: usize,
    /// Most messages sent per user per second, sustained.
    pub messages_per_second: u32,
    /// Most typing frames per connection per second.
    pub typing_per_second: u32,
    /// Largest `limit` accepted by the history endpoint.
    pub max_history_page: u32,
    /// Interval at which the hub pings; a connection silent for 2.5 times this is dropped.
    pub heartbeat_ms: u64,
    /// How long a typing indicator lasts without a refresh.
    pub typing_ttl_ms: u64,
    /// Largest file upload, in bytes (0 from hubs that predate files).
    #[serde(default)]
    pub max_upload_bytes: u64,
    /// Most files one message carries.
    #[serde(default)]
    pub max_attachments: usize,
}

/// Public facts about a hub: `GET /api/v1/hub`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HubInfo {
    /// Stable across restarts of the same data directory.
    pub id: String,
    pub name: String,
    pub version: String,
    pub protocol: u32,
    /// Whether registration needs the hub's join code.
    pub join_code_required: bool,
    pub limits: Limits,
    /// How many people are connected right now (in `GET /api/v1/hub` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<u32>,
}

/// A user's public profile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub status_text: String,
    /// Hub administrators; the first account on a hub is one.
    pub is_admin: bool,
    /// A hub admin disabled the account: it cannot sign in.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    pub created_at: Millis,
}

/// Whether a user has an open connection and is at the keyboard.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    Away,
    #[default]
    Offline,
}

/// An entry of the user directory: `GET /api/v1/users`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DirectoryEntry {
    #[serde(flatten)]
    pub user: User,
    pub presence: Presence,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    /// The hub-wide channel every account belongs to.
    General,
    /// Exactly one per pair of users.
    Direct,
    /// Named, with members managed by its admins.
    Group,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Member,
    Admin,
}

/// A member of a conversation and how far their receipts have moved.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Member {
    pub user_id: UserId,
    pub role: Role,
    /// A device of this member confirmed receipt of every message up to this sequence.
    pub delivered_seq: Seq,
    /// This member has seen the conversation up to this sequence.
    pub read_seq: Seq,
}

/// The facts of a conversation, without per-user state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Conversation {
    pub id: ConversationId,
    pub kind: ConversationKind,
    /// Set for `general` and groups; direct chats are named after the other person.
    pub name: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at: Millis,
    /// Sequence number of the latest message (0 when empty).
    pub last_seq: Seq,
    /// Time of the latest message, or of creation.
    pub last_activity_at: Millis,
}

/// A conversation with its members: `GET /api/v1/conversations/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConversationDetail {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub members: Vec<Member>,
}

/// A line of my conversation list: `GET /api/v1/conversations`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConversationSummary {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub member_count: u32,
    /// For a direct chat, the other person.
    pub peer_id: Option<UserId>,
    pub my_role: Role,
    pub last_message: Option<Message>,
    /// Messages from others after my read position, not deleted (capped at 9,999).
    pub unread: u32,
    pub read_seq: Seq,
    pub delivered_seq: Seq,
    /// I muted it: no notifications, and its unread count is shown quietly.
    #[serde(default)]
    pub muted: bool,
}

/// A chat message. A deleted message is a tombstone: `deleted` is true and `body` empty.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub seq: Seq,
    pub sender_id: UserId,
    /// The id the sending client chose; a resend with the same id returns this message.
    pub client_id: String,
    pub body: String,
    pub created_at: Millis,
    pub edited_at: Option<Millis>,
    pub deleted: bool,
    /// Files sent with the message (absent when none; emptied when the message is deleted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A file as a message carries it. Its bytes are at `GET /api/v1/files/{id}` and, when
/// `image` is present, a thumbnail at `GET /api/v1/files/{id}/thumbnail`; both only for
/// members of the message's conversation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Attachment {
    pub id: FileId,
    /// The file's name as the sender gave it, sanitized (no path, no control characters).
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// The media type: the one the sender claimed, or `application/octet-stream` when the
    /// claim was not believable (an "image" whose bytes are not that image).
    pub mime: String,
    /// Hex SHA-256 of the content; identical files are stored once.
    pub sha256: String,
    /// Set for a PNG, JPEG, GIF or WebP image the hub could decode and thumbnail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageInfo>,
}

/// The full size of an image attachment, so a client can reserve its space.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageInfo {
    pub width: u32,
    pub height: u32,
}

/// A durable event, in the order the hub committed it. Replayed from the store on resume.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    MessageNew {
        message: Message,
    },
    MessageEdited {
        message: Message,
    },
    MessageDeleted {
        message: Message,
    },
    /// A conversation I am in was created (I may have created it).
    ConversationCreated {
        conversation: Conversation,
        members: Vec<Member>,
    },
    /// A group was renamed.
    ConversationUpdated {
        conversation: Conversation,
    },
    /// Users joined a conversation. Sent to its members, including the new ones.
    MembersAdded {
        conversation: Conversation,
        members: Vec<Member>,
        by: Option<UserId>,
    },
    /// A user left or was removed. Sent to the remaining members and to that user.
    MemberRemoved {
        conversation_id: ConversationId,
        user_id: UserId,
        by: UserId,
    },
    /// A member's role changed.
    MemberUpdated {
        conversation_id: ConversationId,
        member: Member,
    },
    /// A member's delivered or read position moved forward.
    Receipt {
        conversation_id: ConversationId,
        user_id: UserId,
        delivered_seq: Seq,
        read_seq: Seq,
    },
    /// A new account was registered (hub-wide).
    UserJoined {
        user: User,
    },
    /// A profile changed (hub-wide).
    UserUpdated {
        user: User,
    },
}

impl Event {
    /// The conversation whose members receive this event; `None` means every user.
    pub fn conversation_id(&self) -> Option<ConversationId> {
        match self {
            Event::MessageNew { message }
            | Event::MessageEdited { message }
            | Event::MessageDeleted { message } => Some(message.conversation_id),
            Event::ConversationCreated { conversation, .. }
            | Event::ConversationUpdated { conversation }
            | Event::MembersAdded { conversation, .. } => Some(conversation.id),
            Event::MemberRemoved {
                conversation_id, ..
            }
            | Event::MemberUpdated {
                conversation_id, ..
            }
            | Event::Receipt {
                conversation_id, ..
            } => Some(*conversation_id),
            Event::UserJoined { .. } | Event::UserUpdated { .. } => None,
        }
    }
}

/// Frames a client sends over the WebSocket. The first must be `auth`.
///
/// `ref` is an optional client-chosen string echoed in the reply, so a client can match
/// replies to requests.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Authenticate with a session token; optionally resume after the last event id seen.
    Auth {
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
        "ping",
    ];

    /// The client's `ref`, if the frame has one.
    pub fn reference(&self) -> Option<&str> {
        match self {
            ClientFrame::Auth { .. } => None,
            ClientFrame::Send { reference, .. }
            | ClientFrame::Edit { reference, .. }
            | ClientFrame::Delete { reference, .. }
            | ClientFrame::Typing { reference, .. }
            | ClientFrame::Delivered { reference, .. }
            | ClientFrame::Read { reference, .. }
            | ClientFrame::Presence { reference, .. }
            | ClientFrame::Watch { reference, .. }
            | ClientFrame::Ping { reference } => reference.as_deref(),
        }
    }
}

/// Frames the hub sends over the WebSocket. `event` frames are built by the hub from
/// stored JSON (see [`event_frame`]) and so are not a variant here.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Authentication succeeded. Replayed events (if `resume_from` was given) follow, then
    /// `synced`.
    Ready {
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
pub struct PresenceEntry {
    pub user_id: UserId,
    pub status: Presence,
}

/// Builds the text of an `event` frame from an event id and the event's stored JSON, without
/// parsing it again: `{"type":"event","id":42,"event":{...}}`.
pub fn event_frame(id: EventId, event_json: &str) -> String {
    let mut out = String::with_capacity(event_json.len() + 40);
    out.push_str(r#"{"type":"event","id":"#);
    out.push_str(&id.to_string());
    out.push_str(r#","event":"#);
    out.push_str(event_json);
    out.push('}');
    out
}

/// An event as a client decodes it from an `event` frame.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EventFrame {
    pub id: EventId,
    pub event: Event,
}

/// Error codes shared by HTTP and WebSocket. Each comes with a human sentence.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body or frame is not valid JSON, or lacks a required field, or a field has the
    /// wrong type.
    BadRequest,
    /// A field is well-formed but its value is not acceptable (empty, too long, bad characters).
    InvalidField,
    /// A frame `type` the hub does not know.
    UnknownType,
    /// The request or message is larger than the limit.
    TooLarge,
    /// No valid session token, or it was revoked.
    Unauthorized,
    /// Authenticated, but not allowed to do this (not a member, not an admin, not the author).
    Forbidden,
    NotFound,
    /// The username is already taken.
    UsernameTaken,
    /// Registration needs the hub's join code, and it was missing or wrong.
    JoinCodeRequired,
    /// Wrong username or password.
    BadCredentials,
    /// Too many requests; retry after `retry_after_ms`.
    RateLimited,
    MethodNotAllowed,
    /// The `Range` asked for lies outside the file (HTTP 416).
    RangeNotSatisfiable,
    /// The WebSocket upgrade came from a page of another site.
    BadOrigin,
    /// The hub cannot write right now (disk full, read-only store, shutting down).
    Unavailable,
    /// The request's body stopped arriving for too long (HTTP 408).
    Timeout,
    Internal,
}

/// The error object: `{"code": "...", "message": "..."}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retry_after_ms: Option<u64>,
}

/// The REST error envelope: `{"error": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

pub mod rest {
    //! REST request and response bodies under `/api/v1`.

    use super::*;

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    #[serde(deny_unknown_fields)]
    pub struct RegisterRequest {
        pub username: String,
        /// Defaults to the username.
        #[serde(default)]
        pub display_name: Option<String>,
        pub password: String,
        #[serde(default)]
        pub join_code: Option<String>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    #[serde(deny_unknown_fields)]
    pub struct LoginRequest {
        pub username: String,
        pub password: String,
    }

    /// Reply to register and login.
    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    pub struct SessionResponse {
        /// Bearer token for REST and the WebSocket `auth` frame. Keep it secret.
        pub token: String,
        pub user: User,
    }

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
    #[serde(deny_unknown_fields)]
    pub struct UpdateProfileRequest {
        #[serde(default)]
        pub display_name: Option<String>,
        #[serde(default)]
        pub status_text: Option<String>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    #[serde(deny_unknown_fields)]
    pub struct DirectRequest {
        pub user_id: UserId,
    }

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    #[serde(deny_unknown_fields)]
    pub struct CreateGroupRequest {
        pub name: String,
        /// Other members; I am added as the group's admin.
        #[serde(default)]
        pub member_ids: Vec<UserId>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    #[serde(deny_unknown_fields)]
    pub struct RenameRequest {
        pub name: String,
    }

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    #[serde(deny_unknown_fields)]
    pub struct AddMembersRequest {
        pub user_ids: Vec<UserId>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    #[serde(deny_unknown_fields)]
    pub struct SetRoleRequest {
        pub role: Role,
    }

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    #[serde(deny_unknown_fields)]
    pub struct SendRequest {
        pub client_id: String,
        pub body: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub attachments: Vec<FileId>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    #[serde(deny_unknown_fields)]
    pub struct EditRequest {
        pub body: String,
    }

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
    #[serde(deny_unknown_fields)]
    pub struct ReceiptRequest {
        #[serde(default)]
        pub delivered_seq: Option<Seq>,
        #[serde(default)]
        pub read_seq: Option<Seq>,
    }

    /// A page of history, oldest first.
    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    pub struct MessagePage {
        pub messages: Vec<Message>,
        /// More messages exist beyond this page in the direction asked for.
        pub has_more: bool,
    }

    /// The answer to `GET /api/v1/search`: the best matches first.
    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    pub struct SearchResults {
        pub results: Vec<SearchHit>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    pub struct SearchHit {
        pub message: Message,
        /// The part of the body around the matches, cut into pieces; `hit` marks a match.
        pub snippet: Vec<SnippetPart>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    pub struct SnippetPart {
        pub text: String,
        pub hit: bool,
    }

    /// A page of durable events after a cursor: `GET /api/v1/events?after=N`.
    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    pub struct EventPage {
        pub events: Vec<EventFrame>,
        /// The id to pass as `after` next time.
        pub last_event_id: EventId,
        pub has_more: bool,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_round_trip_with_ref() {
        let text =
            r#"{"type":"send","ref":"r1","conversation_id":3,"client_id":"c-1","body":"hi"}"#;
        let frame: ClientFrame = serde_json::from_str(text).expect("valid send frame");
        assert_eq!(frame.reference(), Some("r1"));
        let back = serde_json::to_string(&frame).expect("serializes");
        assert_eq!(back, text);
    }

    #[test]
    fn unknown_fields_and_types_are_refused() {
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"ping","x":1}"#).is_err());
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"launch"}"#).is_err());
        assert!(serde_json::from_str::<ClientFrame>(
            r#"{"type":"read","conversation_id":"1","seq":1}"#
        )
        .is_err());
    }

    #[test]
    fn types_list_matches_the_enum() {
        for ty in ClientFrame::TYPES {
            // Known types fail, if at all, for missing fields, never as an unknown variant.
            if let Err(err) = serde_json::from_str::<ClientFrame>(&format!(r#"{{"type":"{ty}"}}"#))
            {
                assert!(!err.to_string().contains("unknown variant"), "{ty}: {err}");
            }
        }
    }

    #[test]
    fn event_frame_is_valid_json_that_decodes() {
        let event = Event::Receipt {
            conversation_id: 1,
            user_id: 2,
            delivered_seq: 3,
            read_seq: 3,
        };
        let json = serde_json::to_string(&event).expect("serializes");
        let frame = event_frame(42, &json);
        assert_eq!(
            frame,
            r#"{"type":"event","id":42,"event":{"kind":"receipt","conversation_id":1,"user_id":2,"delivered_seq":3,"read_seq":3}}"#
        );
        let decoded: EventFrame = serde_json::from_str(&frame).expect("decodes");
        assert_eq!(decoded.id, 42);
        assert_eq!(decoded.event, event);
    }

    #[test]
    fn error_frame_shape() {
        let frame = ServerFrame::Error {
            reference: Some("r9".into()),
            error: ErrorBody {
                code: ErrorCode::Forbidden,
                message: "You are not a member of this conversation.".into(),
                retry_after_ms: None,
            },
        };
        assert_eq!(
            serde_json::to_string(&frame).expect("serializes"),
            r#"{"type":"error","ref":"r9","code":"forbidden","message":"You are not a member of this conversation."}"#
        );
    }
}

pub mod admin {
    //! Bodies of the moderation and hub-admin endpoints (`/api/v1/admin/...`, mute, block,
    //! report), shared by the hub and `chinwag admin`.

    use super::*;

    /// An account as a hub admin sees it.
    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    pub struct AdminUser {
        #[serde(flatten)]
        pub user: User,
        /// Signed-in sessions (devices and browsers).
        pub sessions: u32,
        pub presence: Presence,
    }

    /// `POST /api/v1/admin/users`.
    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    #[serde(deny_unknown_fields)]
    pub struct CreateUserRequest {
        pub username: String,
        #[serde(default)]
        pub display_name: Option<String>,
        pub password: String,
        /// Make the account a hub admin.
        #[serde(default)]
        pub admin: bool,
    }

    /// `PATCH /api/v1/admin/users/{id}`: any of the three.
    #[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
    #[serde(deny_unknown_fields)]
    pub struct UpdateUserRequest {
        /// Disabling signs the account out everywhere at once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub disabled: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub admin: Option<bool>,
        /// A new password; signs the account out everywhere.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub password: Option<String>,
    }

    /// A conversation as a hub admin sees it: counts, never contents.
    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    pub struct AdminConversation {
        #[serde(flatten)]
        pub conversation: Conversation,
        pub members: u32,
        pub messages: u64,
        pub files: u64,
    }

    /// `GET /api/v1/admin/stats`.
    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    pub struct HubStats {
        pub users: u64,
        pub admins: u64,
        pub disabled_users: u64,
        pub conversations: u64,
        pub messages: u64,
        pub files: u64,
        pub file_bytes: u64,
        /// The database, with its write-ahead log.
        pub store_bytes: u64,
        pub open_reports: u64,
        pub connections: u64,
        pub users_online: u32,
        pub retention_days: u32,
        /// Sessions unused this many days are signed out; 0: never.
        #[serde(default)]
        pub session_idle_days: u32,
    }

    /// `POST /api/v1/messages/{id}/report`.
    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    #[serde(deny_unknown_fields)]
    pub struct ReportRequest {
        #[serde(default)]
        pub reason: String,
    }

    /// A report, as hub admins see it (`GET /api/v1/admin/reports`).
    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
    pub struct Report {
        pub id: i64,
        pub message: Message,
        pub reporter_id: UserId,
        pub reason: String,
        pub created_at: Millis,
        pub resolved_by: Option<UserId>,
        pub resolved_at: Option<Millis>,
    }

    /// `PUT /api/v1/conversations/{id}/mute` and `PUT /api/v1/blocks/{user_id}`-style
    /// switches.
    #[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
    #[serde(deny_unknown_fields)]
    pub struct MuteRequest {
        pub muted: bool,
    }
}

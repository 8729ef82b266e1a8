//! The things conversations are made of: users, conversations, members, messages and
//! their files, and the hub's public facts and limits.

use serde::{Deserialize, Serialize};

use crate::*;
/// Limits the hub enforces, advertised in [`HubInfo`] and the `ready` frame so that clients
/// can refuse oversized input before the hub has to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// Most different emoji on one message (0 from hubs that predate reactions).
    #[serde(default)]
    pub max_reactions_per_message: usize,
    /// Most different emoji one person puts on one message.
    #[serde(default)]
    pub max_reactions_per_person: usize,
}

/// Public facts about a hub: `GET /api/v1/hub`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// The addresses people open to reach the hub (its LAN addresses, or the ones its admin
    /// set with `--url`), to hand to colleagues; empty when it listens only on loopback.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// No account exists yet: whoever registers first becomes the hub's admin (in
    /// `GET /api/v1/hub` only; the page then opens on "Create account").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub first_account: bool,
}

/// A user's public profile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    Away,
    #[default]
    Offline,
}

/// An entry of the user directory: `GET /api/v1/users`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DirectoryEntry {
    #[serde(flatten)]
    pub user: User,
    pub presence: Presence,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Member,
    Admin,
}

/// A member of a conversation and how far their receipts have moved.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Member {
    pub user_id: UserId,
    pub role: Role,
    /// A device of this member confirmed receipt of every message up to this sequence.
    pub delivered_seq: Seq,
    /// This member has seen the conversation up to this sequence.
    pub read_seq: Seq,
    /// This member sees only the messages after this sequence number: 0 unless they were
    /// added while the group hid its earlier history ([`Conversation::history_visible`]).
    #[serde(default)]
    pub history_from: Seq,
}

/// The facts of a conversation, without per-user state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// Whether a new or re-added member sees the messages from before they joined (a
    /// group's setting, on by default; always on for `general` and direct chats).
    #[serde(default = "visible_by_default")]
    pub history_visible: bool,
    /// Whether only the group's admins may mention `@here` and `@everyone` (a group's
    /// setting, off by default). In `general` only hub admins may, always.
    #[serde(default)]
    pub everyone_admins_only: bool,
}

fn visible_by_default() -> bool {
    true
}

/// A conversation with its members: `GET /api/v1/conversations/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ConversationDetail {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub members: Vec<Member>,
}

/// A line of my conversation list: `GET /api/v1/conversations`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// Of the unread, those that mention me, `@here` or `@everyone` (capped like `unread`).
    #[serde(default)]
    pub mentions: u32,
}

/// A chat message. A deleted message is a tombstone: `deleted` is true and `body` empty.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// The message this one answers, in the same conversation (absent when none). Fetch it
    /// with `GET /api/v1/messages/{id}`; it may since have been deleted, or be older than
    /// the history a reader sees (then they get `404`, and show "original not available").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<MessageId>,
    /// Emoji reactions, each with who reacted, in the order each emoji was first used
    /// (absent when none; emptied when the message is deleted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// Who the text mentions, as the hub read it (absent when nobody).
    #[serde(default, skip_serializing_if = "Mentions::is_empty")]
    pub mentions: Mentions,
}

/// The people a message mentions: members named `@username` in its text (outside code),
/// and whether it says `@here` (those online) or `@everyone` (all members). The hub works
/// it out when the message is sent or edited, so every client agrees.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Mentions {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_ids: Vec<UserId>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub here: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub everyone: bool,
}

impl Mentions {
    pub fn is_empty(&self) -> bool {
        self.user_ids.is_empty() && !self.here && !self.everyone
    }

    /// Whether the message mentions `user`: by name, or as one of `@here` or `@everyone`.
    pub fn include(&self, user: UserId) -> bool {
        self.here || self.everyone || self.user_ids.contains(&user)
    }
}

/// One emoji on a message and the people who reacted with it, in the order they did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Reaction {
    pub emoji: String,
    pub user_ids: Vec<UserId>,
}

/// A file as a message carries it. Its bytes are at `GET /api/v1/files/{id}` and, when
/// `image` is present, a thumbnail at `GET /api/v1/files/{id}/thumbnail`; both only for
/// members of the message's conversation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ImageInfo {
    pub width: u32,
    pub height: u32,
}

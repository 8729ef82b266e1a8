//! Bodies of the moderation and hub-admin endpoints (`/api/v1/admin/...`, mute, block,
//! report), shared by the hub and `chinwag admin`.

use serde::{Deserialize, Serialize};

use crate::*;

/// An account as a hub admin sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AdminUser {
    #[serde(flatten)]
    pub user: User,
    /// Signed-in sessions (devices and browsers).
    pub sessions: u32,
    pub presence: Presence,
}

/// `POST /api/v1/admin/users`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AdminConversation {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub members: u32,
    pub messages: u64,
    pub files: u64,
}

/// `GET /api/v1/admin/stats`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// The code registration needs, for admins to hand out with the address (none: anyone
    /// who reaches the hub may register).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_code: Option<String>,
}

/// `POST /api/v1/messages/{id}/report`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    #[serde(default)]
    pub reason: String,
}

/// The answer to a report: its id (`201 Created`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReportCreated {
    pub id: i64,
}

/// The people I blocked: `GET /api/v1/blocks`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BlockedUsers {
    pub blocked: Vec<UserId>,
}

/// A report, as hub admins see it (`GET /api/v1/admin/reports`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MuteRequest {
    pub muted: bool,
}

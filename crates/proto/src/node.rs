//! What a joined node adds to the wire: its `link` frame, and the bodies of its own
//! endpoints under `/api/v1/node` (see `docs/protocol.md`, "The joined node").

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::{ConversationId, EventId, FileId, HubInfo, MessageId, User};

/// Whether the node reaches its hub: `{"state":"online"}`, `{"state":"offline",
/// "retry_in_ms":…}` or `{"state":"signed_out"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LinkState {
    /// Nobody is signed in on this node.
    SignedOut,
    /// Signed in, not connected yet (or reconnecting); `retry_in_ms` when waiting.
    Offline {
        retry_in_ms: Option<u64>,
    },
    Online,
}

/// The node's own WebSocket frame: `{"type":"link", …the link state}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LinkFrame {
    #[serde(rename = "type")]
    pub kind: LinkFrameType,
    #[serde(flatten)]
    pub link: LinkState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum LinkFrameType {
    Link,
}

impl From<LinkState> for LinkFrame {
    fn from(link: LinkState) -> Self {
        LinkFrame {
            kind: LinkFrameType::Link,
            link,
        }
    }
}

/// A message in the node's durable outbox, waiting for the hub's acknowledgement. Its
/// `client_id` never changes, so every retry is the same message to the hub.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Pending {
    pub client_id: String,
    pub conversation_id: ConversationId,
    pub body: String,
    /// Uploaded files the message carries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<FileId>,
    /// The message it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<MessageId>,
    /// Milliseconds since the epoch, when the user sent it.
    pub created_at: i64,
}

/// What the desktop window shows (`POST /api/v1/node/view`): the open conversation, whether
/// the window has focus, and how many messages are unread in all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct View {
    pub conversation_id: Option<ConversationId>,
    pub focused: bool,
    #[serde(default)]
    pub unread: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum NodeMode {
    /// The desktop's start screen: no hub chosen yet.
    Choosing,
    Joined,
}

/// The hub a node uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NodeHub {
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `GET /api/v1/node` (and the answer to `POST /api/v1/node/choose`): what the node is
/// doing. Fields that do not apply are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NodeState {
    pub mode: NodeMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub: Option<NodeHub>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkState>,
    /// True on the desktop app's node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desktop: Option<bool>,
    /// The desktop shows the start screen to pick another hub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switching: Option<bool>,
    /// On the desktop: what the window shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<View>,
    /// To the signed-in user only: the messages in the node's outbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Vec<Pending>>,
}

impl NodeState {
    /// The mode alone, every other field left out.
    pub fn bare(mode: NodeMode) -> Self {
        NodeState {
            mode,
            hub: None,
            link: None,
            desktop: None,
            switching: None,
            view: None,
            pending: None,
        }
    }
}

/// A hub heard on the LAN by mDNS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DiscoveredHub {
    pub id: String,
    pub name: String,
    /// The best address to join (`host:port`), when one is known.
    pub address: Option<String>,
    /// Best first: routable IPv4, loopback IPv4, routable IPv6, link-local.
    pub addresses: Vec<IpAddr>,
    pub port: u16,
    pub host: String,
    pub protocol: Option<u32>,
    pub version: Option<String>,
}

/// A hub this node joined before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SavedHub {
    pub address: String,
    pub id: String,
    pub name: String,
    /// Milliseconds since the epoch.
    pub last_joined_at: i64,
}

/// `GET /api/v1/node/hubs[?since=VERSION]`: hubs heard on the LAN and hubs joined before.
/// With `since`, the answer waits (up to 25 s) until the list changes from that version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HubList {
    pub version: u64,
    pub discovered: Vec<DiscoveredHub>,
    pub saved: Vec<SavedHub>,
}

/// `POST /api/v1/node/verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub address: String,
}

/// The answer to `POST /api/v1/node/verify`: a Chinwag hub answers there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Verified {
    pub address: String,
    pub hub: HubInfo,
}

/// `POST /api/v1/node/switch` (desktop): show or leave the start screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SwitchRequest {
    pub switching: bool,
}

/// The `ready` frame a joined node sends its local UI: the hub's `ready`, except that `hub`
/// is `null` until the node has heard from its hub once (a first start with the hub away).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename = "ready")]
pub struct NodeReady {
    /// The `auth` frame's `ref`, when it had one.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none", default)]
    pub reference: Option<String>,
    pub user: User,
    pub hub: Option<HubInfo>,
    pub last_event_id: EventId,
}

/// In the desktop app, the frame a joined node sends its UI when the user clicks a
/// notification: show that conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename = "open")]
pub struct OpenFrame {
    pub conversation_id: ConversationId,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, UserId};

    fn user() -> User {
        User {
            id: UserId(7),
            username: "dana".into(),
            display_name: "Dana".into(),
            status_text: String::new(),
            is_admin: false,
            disabled: false,
            created_at: 1,
        }
    }

    #[test]
    fn the_nodes_ready_is_the_hubs_with_hub_null_until_known() {
        let ready = NodeReady {
            reference: None,
            user: user(),
            hub: None,
            last_event_id: EventId(0),
        };
        let text = serde_json::to_string(&ready).expect("serializes");
        assert!(
            text.starts_with(r#"{"type":"ready","user":{"id":7,"#),
            "{text}"
        );
        assert!(text.ends_with(r#""hub":null,"last_event_id":0}"#), "{text}");
        // Once the hub is known, a client of the hub's `ready` reads it unchanged.
        let known = NodeReady {
            hub: Some(HubInfo {
                id: "hub-1".into(),
                name: "Office".into(),
                version: "0.1.0".into(),
                protocol: crate::PROTOCOL_VERSION,
                join_code_required: false,
                limits: Limits {
                    max_message_bytes: 16384,
                    max_frame_bytes: 65536,
                    max_body_bytes: 65536,
                    messages_per_second: 20,
                    typing_per_second: 5,
                    max_history_page: 200,
                    heartbeat_ms: 30000,
                    typing_ttl_ms: 6000,
                    max_upload_bytes: 1 << 20,
                    max_attachments: 10,
                    max_reactions_per_message: 20,
                    max_reactions_per_person: 10,
                },
                online: None,
                addresses: vec!["http://192.0.2.10:7117/".into()],
                first_account: false,
            }),
            ..ready
        };
        let frame: crate::ServerFrame =
            serde_json::from_str(&serde_json::to_string(&known).expect("serializes"))
                .expect("a hub's ready");
        assert!(
            matches!(frame, crate::ServerFrame::Ready { last_event_id, .. } if last_event_id == EventId(0))
        );
    }

    #[test]
    fn the_open_frame_names_the_conversation() {
        let open = OpenFrame {
            conversation_id: ConversationId(5),
        };
        assert_eq!(
            serde_json::to_string(&open).expect("serializes"),
            r#"{"type":"open","conversation_id":5}"#
        );
    }
}

//! Prints the JSON Schema of every body and frame on the wire, as the hub sends them, with
//! each type under `$defs`. `scripts/ui-types` turns it into the web UI's types
//! (`ui/types/proto.d.ts`); `scripts/test` checks that file is current.
//!
//! `cargo run -q -p chinwag-proto --features schema --example schema`

use chinwag_proto::{admin, node, rest, *};
use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

macro_rules! defs {
    ($generator:ident; $($ty:ty),* $(,)?) => {{
        $( $generator.subschema_for::<$ty>(); )*
    }};
}

fn main() {
    let mut generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    defs!(generator;
        HubInfo, Limits, User, Presence, DirectoryEntry, ConversationKind, Role, Member,
        Conversation, ConversationDetail, ConversationSummary, Message, Attachment, ImageInfo,
        Event, EventFrame, ClientFrame, ServerFrame, PresenceEntry, ErrorCode, ErrorBody,
        ErrorEnvelope,
        rest::RegisterRequest, rest::LoginRequest, rest::SessionResponse,
        rest::UpdateProfileRequest, rest::DirectRequest, rest::CreateGroupRequest,
        rest::UpdateGroupRequest, rest::AddMembersRequest, rest::SetRoleRequest, rest::SendRequest,
        rest::EditRequest, rest::ReceiptRequest, rest::MessagePage, rest::SearchResults,
        rest::ReactRequest, rest::ReactionsReply, rest::EmojiEntry,
        rest::SearchHit, rest::SnippetPart, rest::EventPage,
        admin::AdminUser, admin::CreateUserRequest, admin::UpdateUserRequest,
        admin::AdminConversation, admin::HubStats, admin::ReportRequest, admin::ReportCreated,
        admin::BlockedUsers, admin::Report, admin::MuteRequest,
        node::LinkState, node::LinkFrame, node::Pending, node::View, node::NodeMode,
        node::NodeHub, node::NodeState, node::DiscoveredHub, node::SavedHub, node::HubList,
        node::VerifyRequest, node::Verified, node::SwitchRequest, node::NodeReady, node::OpenFrame,
    );
    let defs: Map<String, Value> = generator.definitions().clone();
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Chinwag",
        "description": "Chinwag's wire format (crates/proto), as the hub sends it.",
        "type": "object",
        "$defs": defs,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&schema).expect("a schema is JSON")
    );
}

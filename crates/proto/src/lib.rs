//! Chinwag's wire format.
//!
//! This crate owns every shape that crosses the network: the WebSocket frames a client
//! sends ([`ClientFrame`]) and receives ([`ServerFrame`], [`Event`]), the REST request and
//! response bodies, the error codes ([`ErrorCode`]) and the protocol limits. Nothing else in
//! the workspace defines JSON that leaves the process; `docs/protocol.md` documents what is
//! here.
//!
//! It also owns what a request must satisfy before anything acts on it: [`ApiError`] (the
//! one error clients see, without any HTTP type), [`parse_client_frame`] and the input rules
//! in [`validate`], so that the hub and a joined node refuse bad input alike.
//!
//! It does no I/O and knows nothing of warp, SQLite or Tauri.

pub mod admin;
mod error;
mod event;
mod frames;
mod id;
mod model;
pub mod node;
pub mod notify;
pub mod rest;
pub mod text;
pub mod validate;

pub use error::{ApiError, ErrorBody, ErrorCode, ErrorEnvelope};
pub use event::{event_frame, Event, EventFrame};
pub use frames::{parse_client_frame, ClientFrame, PresenceEntry, ServerFrame};
pub use model::*;

/// Version of the protocol described in `docs/protocol.md`. Bumped on incompatible change.
pub const PROTOCOL_VERSION: u32 = 2;

/// Most people one connection may watch the presence of (`watch`).
pub const MAX_WATCHED_USERS: usize = 1000;

pub use id::{ConversationId, EventId, FileId, MessageId, UserId};

/// Position of a message inside its conversation, starting at 1.
pub type Seq = i64;
/// Milliseconds since the Unix epoch (UTC).
pub type Millis = i64;

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
            conversation_id: ConversationId(1),
            user_id: UserId(2),
            delivered_seq: 3,
            read_seq: 3,
        };
        let json = serde_json::to_string(&event).expect("serializes");
        let frame = event_frame(EventId(42), &json);
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

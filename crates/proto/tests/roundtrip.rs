//! Property tests: every frame and body a client or the hub can build survives
//! serialisation to JSON and back unchanged, whatever its strings hold (quotes, control
//! characters, emoji, lone surrogates are impossible in Rust strings), and the JSON of
//! a client frame never parses as a different frame.

use chinwag_proto::rest::{CreateGroupRequest, RegisterRequest, SendRequest};
use chinwag_proto::{
    ClientFrame, ErrorBody, ErrorCode, EventId, FileId, Message, Presence, ServerFrame,
};
use chinwag_proto::{MessageId, UserId};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    // Any Unicode, weighted towards what breaks naive JSON handling.
    prop_oneof![
        any::<String>(),
        "[\"\\\\\\x00-\\x1f<>&'/\u{2028}\u{2029}\u{feff}😀a-z]{0,40}",
    ]
}

fn reference() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

fn client_frame() -> impl Strategy<Value = ClientFrame> {
    prop_oneof![
        (reference(), text(), proptest::option::of(any::<i64>())).prop_map(
            |(reference, token, resume_from)| ClientFrame::Auth {
                reference,
                token,
                resume_from: resume_from.map(EventId),
            }
        ),
        (
            reference(),
            any::<i64>(),
            text(),
            text(),
            proptest::collection::vec(any::<i64>(), 0..3)
        )
            .prop_map(
                |(reference, conversation_id, client_id, body, attachments)| ClientFrame::Send {
                    reference,
                    conversation_id: conversation_id.into(),
                    client_id,
                    body,
                    attachments: attachments.into_iter().map(FileId).collect(),
                    reply_to: (conversation_id % 2 == 0).then(|| (conversation_id / 2).into()),
                }
            ),
        (reference(), any::<i64>(), text()).prop_map(|(reference, message_id, body)| {
            ClientFrame::Edit {
                reference,
                message_id: message_id.into(),
                body,
            }
        }),
        (reference(), any::<i64>()).prop_map(|(reference, message_id)| ClientFrame::Delete {
            reference,
            message_id: message_id.into()
        }),
        (reference(), any::<i64>(), any::<bool>()).prop_map(
            |(reference, conversation_id, typing)| ClientFrame::Typing {
                reference,
                conversation_id: conversation_id.into(),
                typing
            }
        ),
        (reference(), any::<i64>(), any::<i64>()).prop_map(|(reference, conversation_id, seq)| {
            ClientFrame::Delivered {
                reference,
                conversation_id: conversation_id.into(),
                seq,
            }
        }),
        (reference(), any::<i64>(), any::<i64>()).prop_map(|(reference, conversation_id, seq)| {
            ClientFrame::Read {
                reference,
                conversation_id: conversation_id.into(),
                seq,
            }
        }),
        (
            reference(),
            prop_oneof![Just(Presence::Online), Just(Presence::Away)]
        )
            .prop_map(|(reference, status)| ClientFrame::Presence { reference, status }),
        reference().prop_map(|reference| ClientFrame::Ping { reference }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (
        (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>()),
        (
            text(),
            text(),
            any::<i64>(),
            proptest::option::of(any::<i64>()),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (id, conversation_id, seq, sender_id),
                (client_id, body, created_at, edited_at, deleted),
            )| {
                Message {
                    id: id.into(),
                    conversation_id: conversation_id.into(),
                    seq,
                    sender_id: sender_id.into(),
                    client_id,
                    body,
                    created_at,
                    edited_at,
                    deleted,
                    attachments: Vec::new(),
                    reply_to: (id % 3 == 0).then(|| (id / 3).into()),
                    reactions: Vec::new(),
                    mentions: Default::default(),
                }
            },
        )
}

fn server_frame() -> impl Strategy<Value = ServerFrame> {
    prop_oneof![
        (any::<i64>(), any::<bool>()).prop_map(|(last_event_id, reset)| ServerFrame::Synced {
            last_event_id: EventId(last_event_id),
            reset
        }),
        (reference(), message(), any::<bool>()).prop_map(|(reference, message, duplicate)| {
            ServerFrame::Ack {
                reference,
                message,
                duplicate,
            }
        }),
        reference().prop_map(|reference| ServerFrame::Ok { reference }),
        reference().prop_map(|reference| ServerFrame::Pong { reference }),
        (any::<i64>(), any::<i64>(), any::<bool>(), any::<u64>()).prop_map(
            |(conversation_id, user_id, typing, expires_in_ms)| ServerFrame::Typing {
                conversation_id: conversation_id.into(),
                user_id: user_id.into(),
                typing,
                expires_in_ms
            }
        ),
        (any::<i64>(), any::<bool>()).prop_map(|(conversation_id, muted)| ServerFrame::Muted {
            conversation_id: conversation_id.into(),
            muted
        }),
        (any::<i64>(), any::<bool>()).prop_map(|(user_id, blocked)| ServerFrame::Blocked {
            user_id: UserId(user_id),
            blocked
        }),
        (reference(), text(), proptest::option::of(any::<u64>())).prop_map(
            |(reference, message, retry_after_ms)| ServerFrame::Error {
                reference,
                error: ErrorBody {
                    code: ErrorCode::TooLarge,
                    message,
                    retry_after_ms,
                },
            }
        ),
    ]
}

proptest! {
    // No failure files: this is an integration test (no lib.rs beside it to store them by);
    // a failure prints the minimal case, which then becomes a unit test.
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn client_frames_round_trip(frame in client_frame()) {
        let json = serde_json::to_string(&frame).expect("serialises");
        let back: ClientFrame = serde_json::from_str(&json).expect("parses");
        prop_assert_eq!(&back, &frame);
        // Reformatted JSON (pretty, whitespace) means the same frame.
        let pretty = serde_json::to_string_pretty(&frame).expect("serialises");
        prop_assert_eq!(serde_json::from_str::<ClientFrame>(&pretty).expect("parses"), frame);
    }

    #[test]
    fn server_frames_round_trip(frame in server_frame()) {
        let json = serde_json::to_string(&frame).expect("serialises");
        let back: ServerFrame = serde_json::from_str(&json).expect("parses");
        prop_assert_eq!(back, frame);
    }

    #[test]
    fn rest_bodies_round_trip(
        username in text(), display_name in proptest::option::of(text()), password in text(),
        join_code in proptest::option::of(text()), name in text(),
        member_ids in proptest::collection::vec(any::<i64>(), 0..20),
        client_id in text(), body in text(),
    ) {
        let register = RegisterRequest { username, display_name, password, join_code };
        let json = serde_json::to_vec(&register).expect("serialises");
        prop_assert_eq!(serde_json::from_slice::<RegisterRequest>(&json).expect("parses"), register);
        let member_ids = member_ids.into_iter().map(UserId).collect();
        let group = CreateGroupRequest { name, member_ids };
        let json = serde_json::to_vec(&group).expect("serialises");
        prop_assert_eq!(serde_json::from_slice::<CreateGroupRequest>(&json).expect("parses"), group);
        let send = SendRequest {
            client_id,
            body,
            attachments: Vec::new(),
            reply_to: Some(MessageId(7)),
        };
        let json = serde_json::to_vec(&send).expect("serialises");
        prop_assert_eq!(serde_json::from_slice::<SendRequest>(&json).expect("parses"), send);
    }

    /// Arbitrary text never makes the frame parser panic; whatever parses re-serialises to
    /// something that parses to the same frame.
    #[test]
    fn arbitrary_text_parses_or_fails_cleanly(input in text()) {
        if let Ok(frame) = serde_json::from_str::<ClientFrame>(&input) {
            let again = serde_json::to_string(&frame).expect("serialises");
            prop_assert_eq!(serde_json::from_str::<ClientFrame>(&again).expect("parses"), frame);
        }
    }
}

//! Durable events, as stored and as replayed to clients.

use serde::{Deserialize, Serialize};

use crate::*;

/// A durable event, in the order the hub committed it. Replayed from the store on resume.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// Someone put a reaction on a message (`on`) or took it off; `reactions` is the
    /// message's reactions after the change, so applying it twice changes nothing.
    Reaction {
        conversation_id: ConversationId,
        message_id: MessageId,
        /// The message's sequence number: who may see the message may see the event.
        message_seq: Seq,
        user_id: UserId,
        emoji: String,
        on: bool,
        reactions: Vec<Reaction>,
    },
    /// My own unread state changed: I marked the conversation unread from a message, or read
    /// it again after doing so. `read_seq` is where I am as I see it (my unread start after
    /// it), with the `unread` and `mentions` counts from there. Only my devices get it.
    UnreadChanged {
        conversation_id: ConversationId,
        user_id: UserId,
        read_seq: Seq,
        unread: u32,
        mentions: u32,
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
            }
            | Event::Reaction {
                conversation_id, ..
            }
            | Event::UnreadChanged {
                conversation_id, ..
            } => Some(*conversation_id),
            Event::UserJoined { .. } | Event::UserUpdated { .. } => None,
        }
    }
}

impl Event {
    /// The sequence number of the message an event is about (new, edited, deleted): who may
    /// see the message may see the event.
    pub fn message_seq(&self) -> Option<crate::Seq> {
        match self {
            Event::MessageNew { message }
            | Event::MessageEdited { message }
            | Event::MessageDeleted { message } => Some(message.seq),
            Event::Reaction { message_seq, .. } => Some(*message_seq),
            _ => None,
        }
    }
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EventFrame {
    pub id: EventId,
    pub event: Event,
}

//! What the desktop app notifies about, and the user's settings for it.
//!
//! The decision is a pure function of the settings, the message, who sent it and where, and
//! what the user is looking at, so it is tested here without a desktop; the app only shows
//! the [`Notice`] this returns. The settings are `chinwag_proto::notify`'s, kept on the hub
//! for the person; the desktop's node keeps a copy per hub and per user in its store, edits
//! it from the UI (`/api/v1/node/notifications`) and the tray ("mute for 1 hour") and sends
//! each change to the hub (`Joined::change_notify_settings`, `adopt_hub_notify`).

use chinwag_proto::{ConversationId, Message, Millis};

pub use chinwag_proto::notify::{
    ConversationMute, NotifyChange, NotifyLevel, NotifySettings, MAX_MUTED_CONVERSATIONS,
    MAX_MUTE_MS, PREVIEW_CHARS,
};

/// Where a message was written, as far as the node knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// A direct chat (named after the sender in the notification).
    pub direct: bool,
    /// The conversation's name (`# general`, a group's name); `None` for direct chats.
    pub name: Option<String>,
    /// I muted it on the hub (`PUT /conversations/{id}/mute`), from any of my devices.
    pub muted: bool,
}

/// What the user is looking at: the conversation open in a window that has focus.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attention {
    pub conversation: Option<ConversationId>,
    pub focused: bool,
}

/// A notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub summary: String,
    pub body: String,
    pub conversation_id: ConversationId,
}

/// The notification for `message`, or `None` when it should not notify: my own message, an
/// edit or deletion, the conversation I am looking at, a muted one, or one the level skips.
pub fn decide(
    settings: &NotifySettings,
    me: chinwag_proto::UserId,
    message: &Message,
    sender: &str,
    place: &Place,
    attention: Attention,
    now: Millis,
) -> Option<Notice> {
    if message.sender_id == me || message.deleted || message.edited_at.is_some() {
        return None;
    }
    if attention.focused && attention.conversation == Some(message.conversation_id) {
        return None;
    }
    if place.muted
        || settings.muted_at(now)
        || settings
            .muted_conversations
            .contains(&message.conversation_id)
    {
        return None;
    }
    match settings.level {
        NotifyLevel::All => {}
        // The hub says who a message mentions, so every client agrees.
        NotifyLevel::DirectAndMentions if place.direct || message.mentions.include(me) => {}
        NotifyLevel::DirectAndMentions | NotifyLevel::Nothing => return None,
    }
    let summary = match (&place.name, place.direct) {
        (Some(name), false) => format!("{sender} in {name}"),
        _ => sender.to_owned(),
    };
    let body = if settings.previews {
        // The text without its markup (a notification shows no formatting).
        let text = match chinwag_proto::text::plain(&message.body) {
            text if text.trim().is_empty() => files_summary(&message.attachments),
            text => text,
        };
        let mut preview: String = text.chars().take(PREVIEW_CHARS).collect();
        if text.chars().count() > PREVIEW_CHARS {
            preview.push('…');
        }
        preview
    } else {
        "New message".to_owned()
    };
    Some(Notice {
        summary,
        body,
        conversation_id: message.conversation_id,
    })
}

/// What a message's files read as where there is no text: "Picture", "File: notes.pdf",
/// "3 files" (no emoji: not every desktop has a font for them).
pub fn files_summary(files: &[chinwag_proto::Attachment]) -> String {
    match files {
        [] => String::new(),
        [one] if one.image.is_some() => "Picture".to_owned(),
        [one] => format!("File: {}", one.name),
        many => format!("{} files", many.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chinwag_proto::{FileId, MessageId, UserId};

    /// Ada, user 1, reading.
    const ME: UserId = UserId(1);

    fn message(conversation: ConversationId, sender: i64, body: &str) -> Message {
        Message {
            id: MessageId(10),
            conversation_id: conversation,
            seq: 3,
            sender_id: UserId(sender),
            client_id: "c".into(),
            body: body.into(),
            created_at: 1,
            edited_at: None,
            deleted: false,
            attachments: Vec::new(),
            reply_to: None,
            reactions: Vec::new(),
            mentions: as_the_hub_reads(body),
        }
    }

    /// The mentions the hub records for `body` where Ada (user 1, `ada`) is a member.
    fn as_the_hub_reads(body: &str) -> chinwag_proto::Mentions {
        let (names, here, everyone) = chinwag_proto::text::mentioned(body);
        chinwag_proto::Mentions {
            user_ids: names
                .iter()
                .filter(|n| *n == "ada")
                .map(|_| UserId(1))
                .collect(),
            here,
            everyone,
        }
    }

    fn group(name: &str) -> Place {
        Place {
            direct: false,
            name: Some(name.into()),
            muted: false,
        }
    }

    fn direct() -> Place {
        Place {
            direct: true,
            name: None,
            muted: false,
        }
    }

    /// Bob's message with body `body` in conversation `conversation`, as Ada sees it.
    fn check(
        s: &NotifySettings,
        conversation: ConversationId,
        body: &str,
        place: &Place,
        attention: Attention,
        now: Millis,
    ) -> Option<Notice> {
        decide(
            s,
            ME,
            &message(conversation, 2, body),
            "Bob",
            place,
            attention,
            now,
        )
    }

    const AWAY: Attention = Attention {
        conversation: None,
        focused: false,
    };

    #[test]
    fn a_message_elsewhere_notifies_with_sender_place_and_preview() {
        let s = NotifySettings::default();
        let n = check(
            &s,
            ConversationId(5),
            " hi there ",
            &group("# general"),
            AWAY,
            0,
        );
        assert_eq!(
            n,
            Some(Notice {
                summary: "Bob in # general".into(),
                body: "hi there".into(),
                conversation_id: ConversationId(5)
            })
        );
        let n = check(&s, ConversationId(6), "psst", &direct(), AWAY, 0).expect("notifies");
        assert_eq!(n.summary, "Bob");
    }

    #[test]
    fn what_i_look_at_and_my_own_messages_do_not_notify() {
        let s = NotifySettings::default();
        let looking = Attention {
            conversation: Some(ConversationId(5)),
            focused: true,
        };
        assert!(check(&s, ConversationId(5), "x", &direct(), looking, 0).is_none());
        // Open but the window is not focused (in the tray, another app in front): notify.
        let unfocused = Attention {
            conversation: Some(ConversationId(5)),
            focused: false,
        };
        assert!(check(&s, ConversationId(5), "x", &direct(), unfocused, 0).is_some());
        // Focused on another conversation: notify.
        assert!(check(&s, ConversationId(6), "x", &direct(), looking, 0).is_some());
        assert!(decide(
            &s,
            ME,
            &message(ConversationId(6), 1, "x"),
            "Ada",
            &direct(),
            AWAY,
            0
        )
        .is_none());
        let mut gone = message(ConversationId(6), 2, "");
        gone.deleted = true;
        assert!(decide(&s, ME, &gone, "Bob", &direct(), AWAY, 0).is_none());
    }

    #[test]
    fn mutes_silence_one_conversation_or_everything_for_a_while() {
        let mut s = NotifySettings::default();
        let change = NotifyChange {
            conversation: Some(ConversationMute {
                id: ConversationId(5),
                muted: true,
            }),
            ..NotifyChange::default()
        };
        s.apply(change, 0).expect("applies");
        assert!(check(&s, ConversationId(5), "x", &direct(), AWAY, 0).is_none());
        assert!(check(&s, ConversationId(6), "x", &direct(), AWAY, 0).is_some());
        let change = NotifyChange {
            muted_until: Some(Some(1_000 + 3_600_000)),
            ..NotifyChange::default()
        };
        s.apply(change, 1_000).expect("applies");
        assert!(check(&s, ConversationId(6), "x", &direct(), AWAY, 2_000).is_none());
        // The hour is over.
        assert!(check(&s, ConversationId(6), "x", &direct(), AWAY, 3_601_000).is_some());
        // Muted on the hub (from this device or another): quiet whatever the level, even
        // for a mention.
        let hub_muted = Place {
            muted: true,
            ..group("Ops")
        };
        let mut s = NotifySettings::default();
        assert!(check(&s, ConversationId(7), "@ada look", &hub_muted, AWAY, 0).is_none());
        s.level = NotifyLevel::DirectAndMentions;
        assert!(check(&s, ConversationId(7), "@ada look", &hub_muted, AWAY, 0).is_none());
        assert!(check(&s, ConversationId(7), "@ada look", &group("Ops"), AWAY, 0).is_some());
    }

    #[test]
    fn direct_and_mentions_only() {
        let s = NotifySettings {
            level: NotifyLevel::DirectAndMentions,
            ..NotifySettings::default()
        };
        let g = group("Team");
        assert!(check(&s, ConversationId(5), "lunch?", &g, AWAY, 0).is_none());
        assert!(check(&s, ConversationId(5), "lunch @ada?", &g, AWAY, 0).is_some());
        assert!(check(&s, ConversationId(6), "lunch?", &direct(), AWAY, 0).is_some());
        let nothing = NotifySettings {
            level: NotifyLevel::Nothing,
            ..NotifySettings::default()
        };
        assert!(check(&nothing, ConversationId(6), "x", &direct(), AWAY, 0).is_none());
    }

    #[test]
    fn mentions_are_the_hubs() {
        let s = NotifySettings {
            level: NotifyLevel::DirectAndMentions,
            ..NotifySettings::default()
        };
        let g = group("Team");
        for body in ["@ada", "hey @ADA!", "@here", "@everyone look"] {
            assert!(
                check(&s, ConversationId(5), body, &g, AWAY, 0).is_some(),
                "{body}"
            );
        }
        // Text that looks like a mention but that the hub did not record is not one.
        for body in ["@adam", "mail@ada", "`@ada`", "ada"] {
            assert!(
                check(&s, ConversationId(5), body, &g, AWAY, 0).is_none(),
                "{body}"
            );
        }
        let mut quoted = message(ConversationId(5), 2, "see @ada");
        quoted.mentions = chinwag_proto::Mentions::default();
        assert!(decide(&s, ME, &quoted, "Bob", &g, AWAY, 0).is_none());
    }

    #[test]
    fn previews_off_and_long_previews() {
        let s = NotifySettings {
            previews: false,
            ..NotifySettings::default()
        };
        let n = check(&s, ConversationId(6), "secret", &direct(), AWAY, 0).expect("notifies");
        assert_eq!(n.body, "New message");
        let file = |name: &str, image: bool| chinwag_proto::Attachment {
            id: FileId(1),
            name: name.into(),
            size: 10,
            mime: "x/y".into(),
            sha256: String::new(),
            image: image.then_some(chinwag_proto::ImageInfo {
                width: 1,
                height: 1,
            }),
        };
        assert_eq!(files_summary(&[file("a.pdf", false)]), "File: a.pdf");
        assert_eq!(files_summary(&[file("a.png", true)]), "Picture");
        assert_eq!(
            files_summary(&[file("a", false), file("b", true)]),
            "2 files"
        );
        let long = "é".repeat(500);
        let n = decide(
            &NotifySettings::default(),
            ME,
            &message(ConversationId(6), 2, &long),
            "Bob",
            &direct(),
            AWAY,
            0,
        )
        .expect("notifies");
        assert_eq!(n.body.chars().count(), PREVIEW_CHARS + 1);
        // A preview is the text as shown, without its markup.
        let formatted = "**Release** is _today_: see `notes`";
        let n = decide(
            &NotifySettings::default(),
            ME,
            &message(ConversationId(6), 2, formatted),
            "Bob",
            &direct(),
            AWAY,
            0,
        )
        .expect("notifies");
        assert_eq!(n.body, "Release is today: see notes");
    }

    #[test]
    fn bad_changes_are_refused_whole() {
        let mut s = NotifySettings::default();
        let bad = NotifyChange {
            previews: Some(false),
            muted_until: Some(Some(MAX_MUTE_MS + 10)),
            ..NotifyChange::default()
        };
        assert!(s.apply(bad, 0).is_err());
        assert_eq!(s, NotifySettings::default());
        let bad = NotifyChange {
            conversation: Some(ConversationMute {
                id: ConversationId(-1),
                muted: true,
            }),
            ..NotifyChange::default()
        };
        assert!(s.apply(bad, 0).is_err());
        for id in 1..=MAX_MUTED_CONVERSATIONS as i64 {
            s.muted_conversations.insert(ConversationId(id));
        }
        let one_more = NotifyChange {
            conversation: Some(ConversationMute {
                id: ConversationId(999_999),
                muted: true,
            }),
            ..NotifyChange::default()
        };
        assert!(s.apply(one_more, 0).is_err());
        // Unmute in the past is just "not muted"; JSON null unmutes; unknown fields are refused.
        let change: NotifyChange = serde_json::from_str(r#"{"muted_until": null}"#).expect("json");
        assert_eq!(change.muted_until, Some(None));
        let change: NotifyChange = serde_json::from_str(r#"{}"#).expect("json");
        assert_eq!(change.muted_until, None);
        assert!(serde_json::from_str::<NotifyChange>(r#"{"level":"loud"}"#).is_err());
        assert!(serde_json::from_str::<NotifyChange>(r#"{"volume":3}"#).is_err());
    }
}

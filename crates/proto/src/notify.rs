//! Notification settings: which messages notify a person, with or without their text, and
//! the mutes. Kept on the hub for each person (`GET`/`PATCH /api/v1/me/notifications`), so
//! that they follow the person to every device; the web UI's browser notifications and the
//! desktop app's follow them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{ApiError, ConversationId, ErrorCode, Millis};

/// Which messages notify.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum NotifyLevel {
    #[default]
    All,
    /// Direct messages, and messages that mention me (by name, `@here` or `@everyone`).
    DirectAndMentions,
    Nothing,
}

/// The user's notification settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NotifySettings {
    pub level: NotifyLevel,
    /// Show the message text; off shows only who wrote where.
    pub previews: bool,
    /// Conversations that never notify.
    pub muted_conversations: BTreeSet<ConversationId>,
    /// Nothing notifies until then (ms since the epoch): "mute for 1 hour".
    pub muted_until: Option<Millis>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            level: NotifyLevel::All,
            previews: true,
            muted_conversations: BTreeSet::new(),
            muted_until: None,
        }
    }
}

/// At most this many muted conversations (a hostile page cannot grow the store without bound).
pub const MAX_MUTED_CONVERSATIONS: usize = 10_000;
/// "Mute all" lasts at most a week.
pub const MAX_MUTE_MS: Millis = 7 * 24 * 3_600_000;
/// Characters of the message shown in a notification.
pub const PREVIEW_CHARS: usize = 140;

/// A change to the settings: `PATCH /api/v1/node/notifications`. Absent fields stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyChange {
    pub level: Option<NotifyLevel>,
    pub previews: Option<bool>,
    /// Mute (`true`) or unmute one conversation.
    pub conversation: Option<ConversationMute>,
    /// `null` unmutes; a time mutes until then (at most a week ahead).
    #[serde(default, deserialize_with = "present")]
    pub muted_until: Option<Option<Millis>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationMute {
    pub id: ConversationId,
    pub muted: bool,
}

/// Tells `"muted_until": null` (unmute) from an absent field.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<Millis>>, D::Error> {
    Option::<Millis>::deserialize(d).map(Some)
}

impl NotifySettings {
    /// Applies a change, or says what is wrong with it (nothing changes then).
    pub fn apply(&mut self, change: NotifyChange, now: Millis) -> Result<(), ApiError> {
        let mut next = self.clone();
        if let Some(level) = change.level {
            next.level = level;
        }
        if let Some(previews) = change.previews {
            next.previews = previews;
        }
        if let Some(c) = change.conversation {
            if c.id.get() <= 0 {
                return Err(ApiError::new(
                    ErrorCode::InvalidField,
                    "conversation.id: must be a conversation id.",
                ));
            }
            if c.muted {
                next.muted_conversations.insert(c.id);
            } else {
                next.muted_conversations.remove(&c.id);
            }
            if next.muted_conversations.len() > MAX_MUTED_CONVERSATIONS {
                return Err(ApiError::new(
                    ErrorCode::InvalidField,
                    format!("At most {MAX_MUTED_CONVERSATIONS} conversations can be muted."),
                ));
            }
        }
        if let Some(until) = change.muted_until {
            next.muted_until = match until {
                None => None,
                Some(t) if t <= now => None,
                Some(t) if t - now > MAX_MUTE_MS => {
                    return Err(ApiError::new(
                        ErrorCode::InvalidField,
                        "muted_until: at most a week from now.",
                    ))
                }
                Some(t) => Some(t),
            };
        }
        *self = next;
        Ok(())
    }

    /// Whether "mute all" is on at `now`.
    pub fn muted_at(&self, now: Millis) -> bool {
        self.muted_until.is_some_and(|t| now < t)
    }
}

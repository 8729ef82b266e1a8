//! What a joined node keeps on disk, in sled: the session, the link's outbox and cursor, a
//! log of the hub's events (so the local UI can resume from the node as it would from the
//! hub), recent history per conversation and the last answers to the UI's reads (so the user
//! can read while the hub is away), and the hubs joined before.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chinwag_link::LocalState;
use chinwag_proto::{ConversationId, Event, EventId, HubInfo, Message, Reaction, Seq, User};
use serde::{Deserialize, Serialize};

use super::notify::NotifySettings;

/// How many messages of each conversation are kept for reading offline.
pub const HISTORY_PER_CONVERSATION: usize = 1000;

/// How many of the hub's events the log keeps, for windows that reconnect and resume. Older
/// ones are removed in batches of a twentieth; a window resuming from before what is kept is
/// told to reload instead (`synced` with `reset`).
pub const LOG_KEEP: usize = 50_000;

pub type Result<T, E = sled::Error> = std::result::Result<T, E>;

/// The signed-in user on this node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    pub token: String,
    pub user: User,
}

pub use chinwag_proto::node::SavedHub;

#[derive(Clone)]
pub struct NodeStore {
    db: sled::Db,
    meta: sled::Tree,
    log: sled::Tree,
    cache: sled::Tree,
    history: sled::Tree,
    saved: sled::Tree,
    pub link: LocalState,
    log_keep: usize,
    /// Entries in `log`, counted at open and kept up to date (sled's `len` walks the tree).
    log_len: Arc<AtomicUsize>,
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

fn history_key(conversation: ConversationId, seq: Seq) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&conversation.get().to_be_bytes());
    key[8..].copy_from_slice(&seq.to_be_bytes());
    key
}

impl NodeStore {
    pub fn open(dir: &Path) -> Result<NodeStore> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(16 * 1024 * 1024)
            .open()?;
        let link = LocalState::in_db(&db).map_err(|err| match err {
            chinwag_link::LinkError::State(err) => err,
            other => sled::Error::Unsupported(other.to_string()),
        })?;
        let log = db.open_tree("log")?;
        let log_len = Arc::new(AtomicUsize::new(log.len()));
        Ok(NodeStore {
            meta: db.open_tree("meta")?,
            log,
            log_keep: LOG_KEEP,
            log_len,
            cache: db.open_tree("cache")?,
            history: db.open_tree("history")?,
            saved: db.open_tree("saved")?,
            link,
            db,
        })
    }

    /// Keeps `keep` events in the log instead of [`LOG_KEEP`] (tests use a few).
    pub fn with_log_keep(mut self, keep: usize) -> Self {
        self.log_keep = keep.max(1);
        self
    }

    pub async fn flush(&self) -> Result<()> {
        self.db.flush_async().await.map(|_| ())
    }

    pub fn session(&self) -> Option<Session> {
        let raw = self.meta.get("session").ok()??;
        serde_json::from_slice(&raw).ok()
    }

    pub async fn set_session(&self, session: &Session) -> Result<()> {
        self.meta.insert("session", json(session))?;
        self.flush().await
    }

    pub fn hub_info(&self) -> Option<HubInfo> {
        let raw = self.meta.get("hub").ok()??;
        serde_json::from_slice(&raw).ok()
    }

    pub fn set_hub_info(&self, hub: &HubInfo) -> Result<()> {
        self.meta.insert("hub", json(hub))?;
        Ok(())
    }

    /// The user's notification settings (defaults until changed).
    pub fn notify_settings(&self) -> NotifySettings {
        self.meta
            .get("notify")
            .ok()
            .flatten()
            .and_then(|raw| serde_json::from_slice(&raw).ok())
            .unwrap_or_default()
    }

    pub fn set_notify_settings(&self, settings: &NotifySettings) -> Result<()> {
        self.meta.insert("notify", json(settings))?;
        Ok(())
    }

    /// Whether the notification settings were changed here and the hub has not taken them
    /// yet (it was out of reach): they go when the link is back.
    pub fn notify_unsynced(&self) -> bool {
        self.meta.get("notify_unsynced").ok().flatten().is_some()
    }

    pub fn set_notify_unsynced(&self, unsynced: bool) -> Result<()> {
        if unsynced {
            self.meta.insert("notify_unsynced", &b"1"[..])?;
        } else {
            self.meta.remove("notify_unsynced")?;
        }
        Ok(())
    }

    /// Forgets everything about the signed-in user: session, outbox, cursor, event log,
    /// history, cached answers and notification settings. The saved hubs stay.
    pub async fn clear_user(&self) -> Result<()> {
        self.meta.remove("session")?;
        self.meta.remove("notify")?;
        self.meta.remove("notify_unsynced")?;
        self.meta.remove("log_floor")?;
        self.log.clear()?;
        self.log_len.store(0, Ordering::Relaxed);
        self.cache.clear()?;
        self.history.clear()?;
        if let Err(err) = self.link.clear() {
            tracing::warn!("cannot clear the outbox: {err}");
        }
        self.flush().await
    }

    /// Records an event received from the hub and keeps the history current.
    pub fn append_event(&self, id: EventId, text: &str, event: &Event) -> Result<()> {
        if self
            .log
            .insert(id.get().to_be_bytes(), text.as_bytes())?
            .is_none()
        {
            let len = self.log_len.fetch_add(1, Ordering::Relaxed) + 1;
            if len > self.log_keep + (self.log_keep / 20).max(1) {
                self.prune_log()?;
            }
        }
        match event {
            Event::MessageNew { message }
            | Event::MessageEdited { message }
            | Event::MessageDeleted { message } => self.remember(message)?,
            Event::Reaction {
                conversation_id,
                message_seq,
                reactions,
                ..
            } => self.react(*conversation_id, *message_seq, reactions)?,
            _ => {}
        }
        Ok(())
    }

    /// A kept message's reactions change (a `reaction` event carries all of them).
    fn react(&self, conversation: ConversationId, seq: Seq, reactions: &[Reaction]) -> Result<()> {
        let key = history_key(conversation, seq);
        let Some(kept) = self.history.get(key)? else {
            return Ok(()); // not kept: nothing to bring up to date
        };
        if let Ok(mut message) = serde_json::from_slice::<Message>(&kept) {
            message.reactions = reactions.to_vec();
            self.history.insert(key, json(&message))?;
        }
        Ok(())
    }

    /// Removes the oldest events until the log holds `log_keep`, and records the newest id
    /// removed as the floor below which the log cannot replay.
    fn prune_log(&self) -> Result<()> {
        let len = self.log_len.load(Ordering::Relaxed);
        let excess = len.saturating_sub(self.log_keep);
        let mut floor = None;
        let mut removed = 0;
        for item in self.log.iter().take(excess) {
            let (key, _) = item?;
            self.log.remove(&key)?;
            floor = Some(key);
            removed += 1;
        }
        if let Some(floor) = floor {
            self.meta.insert("log_floor", floor)?;
        }
        self.log_len.fetch_sub(removed, Ordering::Relaxed);
        Ok(())
    }

    /// The newest event id removed from the log (0 when nothing was): a window resuming
    /// from before it would miss events.
    pub fn log_floor(&self) -> EventId {
        self.meta
            .get("log_floor")
            .ok()
            .flatten()
            .and_then(|raw| raw.as_ref().try_into().ok())
            .map(|b| EventId(i64::from_be_bytes(b)))
            .unwrap_or_default()
    }

    /// The newest event in the log.
    pub fn last_event_id(&self) -> Option<EventId> {
        let (key, _) = self.log.last().ok()??;
        Some(EventId(i64::from_be_bytes(key.as_ref().try_into().ok()?)))
    }

    /// Up to `limit` logged events with an id above `after`, oldest first, as frame text.
    pub fn events_after(&self, after: EventId, limit: usize) -> Vec<(EventId, String)> {
        let start = after.get().saturating_add(1).max(0).to_be_bytes();
        self.log
            .range(start..)
            .take(limit)
            .filter_map(|item| {
                let (key, value) = item.ok()?;
                let id = EventId(i64::from_be_bytes(key.as_ref().try_into().ok()?));
                Some((id, String::from_utf8(value.to_vec()).ok()?))
            })
            .collect()
    }

    /// Keeps a message for offline reading (newer versions replace older ones).
    pub fn remember(&self, message: &Message) -> Result<()> {
        let key = history_key(message.conversation_id, message.seq);
        if let Some(old) = self.history.get(key)? {
            // An edit or tombstone must not be undone by an older copy fetched later.
            if let Ok(old) = serde_json::from_slice::<Message>(&old) {
                if old.deleted && !message.deleted
                    || old.edited_at.unwrap_or(0) > message.edited_at.unwrap_or(0)
                {
                    return Ok(());
                }
            }
        }
        self.history.insert(key, json(message))?;
        if message.seq % 100 == 0 {
            self.prune(message.conversation_id)?;
        }
        Ok(())
    }

    fn prune(&self, conversation: ConversationId) -> Result<()> {
        let prefix = conversation.get().to_be_bytes();
        let count = self.history.scan_prefix(prefix).count();
        if count > HISTORY_PER_CONVERSATION {
            let extra = count - HISTORY_PER_CONVERSATION;
            for item in self.history.scan_prefix(prefix).take(extra) {
                let (key, _) = item?;
                self.history.remove(key)?;
            }
        }
        Ok(())
    }

    /// A page of kept history, answering like the hub's
    /// `GET /conversations/{id}/messages`: newest `limit` before `before`, or oldest `limit`
    /// after `after`, oldest first.
    pub fn history_page(
        &self,
        conversation: ConversationId,
        before: Option<Seq>,
        after: Option<Seq>,
        limit: usize,
    ) -> (Vec<Message>, bool) {
        let decode = |item: sled::Result<(sled::IVec, sled::IVec)>| {
            let (_, value) = item.ok()?;
            serde_json::from_slice::<Message>(&value).ok()
        };
        match after {
            Some(after) => {
                let start = history_key(conversation, after.saturating_add(1));
                let end = history_key(conversation, Seq::MAX);
                let mut messages: Vec<Message> = self
                    .history
                    .range(start..=end)
                    .filter_map(decode)
                    .take(limit + 1)
                    .collect();
                let more = messages.len() > limit;
                messages.truncate(limit);
                (messages, more)
            }
            None => {
                let start = history_key(conversation, 0);
                let end = history_key(conversation, before.unwrap_or(Seq::MAX));
                let mut messages: Vec<Message> = self
                    .history
                    .range(start..end)
                    .rev()
                    .filter_map(decode)
                    .take(limit + 1)
                    .collect();
                // Only what is kept counts: older pages cannot be fetched while the hub is away.
                let more = messages.len() > limit;
                messages.truncate(limit);
                messages.reverse();
                (messages, more)
            }
        }
    }

    /// Kept messages of a conversation newer than `seq`, oldest first.
    pub fn newer_than(&self, conversation: ConversationId, seq: Seq) -> Vec<Message> {
        self.history_page(conversation, None, Some(seq), HISTORY_PER_CONVERSATION)
            .0
    }

    pub fn cache_put(&self, key: &str, body: &[u8]) -> Result<()> {
        self.cache.insert(key, body)?;
        Ok(())
    }

    pub fn cache_get(&self, key: &str) -> Option<Vec<u8>> {
        self.cache.get(key).ok()?.map(|v| v.to_vec())
    }

    /// Sets `muted` on a conversation in the kept conversation list (which notifications
    /// read), so a mute made elsewhere applies here before the list is fetched again.
    pub fn set_kept_mute(&self, id: ConversationId, muted: bool) {
        let Some(raw) = self.cache_get("conversations") else {
            return;
        };
        let Ok(serde_json::Value::Array(mut list)) = serde_json::from_slice(&raw) else {
            return;
        };
        let Some(summary) = list
            .iter_mut()
            .find(|s| s.get("id").and_then(serde_json::Value::as_i64) == Some(id.get()))
        else {
            return;
        };
        summary["muted"] = muted.into();
        let kept = serde_json::to_vec(&list)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                self.cache_put("conversations", &b)
                    .map_err(|e| e.to_string())
            });
        if let Err(err) = kept {
            tracing::warn!("cannot keep the mute of conversation {id}: {err}");
        }
    }

    pub fn save_hub(&self, hub: &SavedHub) -> Result<()> {
        self.saved.insert(hub.address.as_bytes(), json(hub))?;
        Ok(())
    }

    /// Hubs joined before, most recent first.
    pub fn saved_hubs(&self) -> Vec<SavedHub> {
        let mut hubs: Vec<SavedHub> = self
            .saved
            .iter()
            .filter_map(|item| serde_json::from_slice(&item.ok()?.1).ok())
            .collect();
        hubs.sort_by_key(|h: &SavedHub| std::cmp::Reverse(h.last_joined_at));
        hubs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chinwag_proto::{MessageId, UserId};

    fn message(conversation: ConversationId, seq: Seq, body: &str) -> Message {
        Message {
            id: MessageId(conversation.get() * 10_000 + seq),
            conversation_id: conversation,
            seq,
            sender_id: UserId(1),
            client_id: format!("c{seq}"),
            body: body.into(),
            created_at: seq,
            edited_at: None,
            deleted: false,
            attachments: Vec::new(),
            reply_to: None,
            reactions: Vec::new(),
            mentions: Default::default(),
        }
    }

    #[test]
    fn history_pages_like_the_hub_and_keeps_edits() {
        let dir = tempfile::tempdir().expect("dir");
        let store = NodeStore::open(dir.path()).expect("opens");
        for seq in 1..=30 {
            store
                .remember(&message(ConversationId(7), seq, "hi"))
                .expect("kept");
        }
        store
            .remember(&message(ConversationId(8), 1, "other"))
            .expect("kept");
        let (page, more) = store.history_page(ConversationId(7), None, None, 10);
        assert_eq!(page.first().map(|m| m.seq), Some(21));
        assert_eq!(page.last().map(|m| m.seq), Some(30));
        assert!(more);
        let (page, more) = store.history_page(ConversationId(7), Some(5), None, 10);
        assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert!(!more);
        let (page, more) = store.history_page(ConversationId(7), None, Some(25), 10);
        assert_eq!(
            page.iter().map(|m| m.seq).collect::<Vec<_>>(),
            [26, 27, 28, 29, 30]
        );
        assert!(!more);

        let mut edited = message(ConversationId(7), 3, "edited");
        edited.edited_at = Some(99);
        store.remember(&edited).expect("kept");
        store
            .remember(&message(ConversationId(7), 3, "stale copy"))
            .expect("ignored");
        let (page, _) = store.history_page(ConversationId(7), Some(4), None, 1);
        assert_eq!(page[0].body, "edited");

        // A reaction event brings the kept message's reactions up to date.
        let reactions = vec![Reaction {
            emoji: "👍".into(),
            user_ids: vec![UserId(2)],
        }];
        let event = Event::Reaction {
            conversation_id: ConversationId(7),
            message_id: MessageId(70_003),
            message_seq: 3,
            user_id: UserId(2),
            emoji: "👍".into(),
            on: true,
            reactions: reactions.clone(),
        };
        store.append_event(EventId(1), "r", &event).expect("logged");
        let (page, _) = store.history_page(ConversationId(7), Some(4), None, 1);
        assert_eq!(
            (page[0].body.as_str(), &page[0].reactions),
            ("edited", &reactions)
        );
    }

    #[test]
    fn the_log_replays_after_a_cursor() {
        let dir = tempfile::tempdir().expect("dir");
        let store = NodeStore::open(dir.path()).expect("opens");
        for id in 1..=5 {
            let event = Event::MessageNew {
                message: message(ConversationId(1), id, "x"),
            };
            store
                .append_event(EventId(id), &format!("e{id}"), &event)
                .expect("logged");
        }
        assert_eq!(store.last_event_id(), Some(EventId(5)));
        let ids: Vec<EventId> = store
            .events_after(EventId(2), 10)
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(ids, [3, 4, 5]);
        assert_eq!(store.events_after(EventId(-7), 2).len(), 2);
        assert_eq!(
            store
                .history_page(ConversationId(1), None, None, 50)
                .0
                .len(),
            5
        );
    }

    #[test]
    fn the_log_keeps_the_newest_events_and_remembers_what_it_dropped() {
        let dir = tempfile::tempdir().expect("dir");
        let log = |store: &NodeStore, ids: std::ops::RangeInclusive<i64>| {
            for id in ids {
                // Hub-wide ids: this node sees every third event.
                let id = id * 3;
                let event = Event::Receipt {
                    conversation_id: ConversationId(1),
                    user_id: UserId(1),
                    delivered_seq: 0,
                    read_seq: 0,
                };
                store
                    .append_event(EventId(id), &format!("e{id}"), &event)
                    .expect("logged");
            }
        };
        {
            let store = NodeStore::open(dir.path())
                .expect("opens")
                .with_log_keep(20);
            log(&store, 1..=21);
            assert_eq!(store.log_floor(), 0, "within the slack nothing goes");
            log(&store, 22..=22);
            // 22 > 20 + 1: pruned back to the newest 20 (ids 9..=66).
            let kept: Vec<EventId> = store
                .events_after(EventId(0), 100)
                .into_iter()
                .map(|e| e.0)
                .collect();
            assert_eq!(kept.len(), 20);
            assert_eq!(kept.first(), Some(&EventId(9)));
            assert_eq!(store.log_floor(), 6);
            // Logging the same event again does not count twice.
            log(&store, 22..=22);
            assert_eq!(store.events_after(EventId(0), 100).len(), 20);
        }
        // The count and the floor survive a restart.
        let store = NodeStore::open(dir.path())
            .expect("opens")
            .with_log_keep(20);
        assert_eq!(store.log_floor(), 6);
        log(&store, 23..=24);
        assert_eq!(store.events_after(EventId(0), 100).len(), 20);
        assert_eq!(store.log_floor(), 12);
    }
}

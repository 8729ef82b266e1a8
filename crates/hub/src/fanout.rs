//! Live delivery: who is connected, who is in which conversation, who is online and who is
//! typing.
//!
//! Presence goes only to the connections that watch a person (`watch`): a client watches the
//! people it shows, never the whole office, so a connect storm costs O(watchers) per arrival
//! rather than O(everyone).
//!
//! The store's writer thread calls [`Fanout::publish`] after each commit with the committed
//! events in id order. Publishing never blocks: each connection has a bounded queue and gets
//! a `try_send`. When a connection's queue is full, the event is dropped for it and the
//! connection is marked *lagged*; its task then re-reads what it missed from the store (the
//! store is the truth), so a slow client costs at most its queue in memory.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chinwag_proto::{
    event_frame, ConversationId, EventId, Presence, PresenceEntry, ServerFrame, UserId,
};
use chinwag_store::Committed;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::queue::{self, TrySendError};

/// One frame on its way to a connection. Durable events carry their id so a connection can
/// skip what it already sent during a catch-up.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub event_id: Option<EventId>,
    pub text: Utf8Bytes,
}

pub type ConnId = u64;

struct ConnHandle {
    user_id: UserId,
    /// SHA-256 of the session token the connection authenticated with.
    session: Vec<u8>,
    kick: Arc<Notify>,
    tx: queue::Sender<Outbound>,
    /// Bytes of frame text waiting in `tx`.
    queued: Arc<AtomicUsize>,
    lagged: Arc<AtomicBool>,
    away: bool,
    /// The people whose presence this connection watches.
    watching: Vec<UserId>,
}

#[derive(Default)]
struct Inner {
    conns: HashMap<ConnId, ConnHandle>,
    by_user: HashMap<UserId, Vec<ConnId>>,
    /// Every member of every conversation, online or not (for `is_member`).
    members: HashMap<ConversationId, HashSet<UserId>>,
    /// The same memberships by user, to keep `online` in step when a user comes and goes.
    conversations_of: HashMap<UserId, HashSet<ConversationId>>,
    /// For each conversation, the connections of its members: what an event to it costs is
    /// the connections that receive it, whatever the size of the membership.
    online: HashMap<ConversationId, HashSet<ConnId>>,
    /// The presence last announced for each user with a connection.
    presence: HashMap<UserId, Presence>,
    /// The connections watching each user's presence.
    watchers: HashMap<UserId, HashSet<ConnId>>,
    /// For each user, the people who blocked them (their typing is not shown to those).
    blocked_by: HashMap<UserId, HashSet<UserId>>,
}

/// The hub's live routing table.
pub struct Fanout {
    // std RwLock: held only for map lookups and non-blocking `try_send`s, never across an
    // await, and taken from the store's writer thread as well as from async tasks.
    inner: RwLock<Inner>,
    /// The id of the newest event handed to the connections. Written while the lock is held
    /// for routing, read under the write lock in `register`: a new connection has either been
    /// given an event or is told it is older than its starting point.
    last_published: AtomicI64,
    next_conn: AtomicU64,
    /// Event frames queued to connections, for `/metrics`.
    deliveries: AtomicU64,
    typing: Mutex<HashMap<(ConversationId, UserId), Instant>>,
    typing_ttl: Duration,
}

/// Receiving side of a registered connection.
pub struct Registration {
    pub id: ConnId,
    /// Every event after this one reaches the queue (or marks it lagged).
    pub last_event_id: EventId,
    pub queue: Queue,
    /// Set when an event could not be queued; the connection must catch up from the store.
    pub lagged: Arc<AtomicBool>,
    /// Notified when the connection's session is revoked.
    pub kicked: Arc<Notify>,
}

/// A connection's queue of frames, counting the bytes it holds so the hub can say how much
/// memory its slow readers cost.
pub struct Queue {
    rx: queue::Receiver<Outbound>,
    queued: Arc<AtomicUsize>,
}

impl Queue {
    pub async fn recv(&mut self) -> Option<Outbound> {
        let out = self.rx.recv().await;
        self.taken(out)
    }

    /// The next frame if one is already queued.
    pub fn try_recv(&mut self) -> Option<Outbound> {
        let out = self.rx.try_recv();
        self.taken(out)
    }

    fn taken(&self, out: Option<Outbound>) -> Option<Outbound> {
        if let Some(out) = &out {
            self.queued.fetch_sub(out.text.len(), Ordering::Relaxed);
        }
        out
    }
}

impl Fanout {
    pub fn new(typing_ttl: Duration) -> Self {
        Fanout {
            inner: RwLock::new(Inner::default()),
            last_published: AtomicI64::new(0),
            next_conn: AtomicU64::new(1),
            deliveries: AtomicU64::new(0),
            typing: Mutex::new(HashMap::new()),
            typing_ttl,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the newest stored event at start-up, before anything is published.
    pub fn set_last_published(&self, id: EventId) {
        self.last_published.fetch_max(id.get(), Ordering::AcqRel);
    }

    /// Fills the membership cache from the store at start-up.
    pub fn load_memberships(&self, memberships: Vec<(ConversationId, UserId)>) {
        let mut inner = self.write();
        for (conversation, user) in memberships {
            inner.join(conversation, user);
        }
    }

    /// Records that `blocker` blocked `blocked` (or no longer does).
    pub fn set_blocked(&self, blocker: UserId, blocked: UserId, is_blocked: bool) {
        let mut inner = self.write();
        if is_blocked {
            inner.blocked_by.entry(blocked).or_default().insert(blocker);
        } else if let Some(set) = inner.blocked_by.get_mut(&blocked) {
            set.remove(&blocker);
            if set.is_empty() {
                inner.blocked_by.remove(&blocked);
            }
        }
    }

    pub fn is_member(&self, conversation_id: ConversationId, user_id: UserId) -> bool {
        self.read().is_member(conversation_id, user_id)
    }

    /// Adds a connection with a queue of `capacity` frames. Announces the user online if this
    /// is their first connection.
    pub fn register(&self, user_id: UserId, session: Vec<u8>, capacity: usize) -> Registration {
        let (tx, rx) = queue::bounded(capacity);
        let lagged = Arc::new(AtomicBool::new(false));
        let queued = Arc::new(AtomicUsize::new(0));
        let kick = Arc::new(Notify::new());
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.write();
        inner.conns.insert(
            id,
            ConnHandle {
                user_id,
                session,
                kick: kick.clone(),
                tx,
                queued: queued.clone(),
                lagged: lagged.clone(),
                away: false,
                watching: Vec::new(),
            },
        );
        inner.by_user.entry(user_id).or_default().push(id);
        inner.connect(user_id, id);
        Self::announce_presence(&mut inner, user_id);
        let last_event_id = EventId(self.last_published.load(Ordering::Acquire));
        Registration {
            id,
            last_event_id,
            queue: Queue { rx, queued },
            lagged,
            kicked: kick,
        }
    }

    /// Queues an ephemeral frame to every connection of one user.
    pub fn to_user(&self, user_id: UserId, frame: &ServerFrame) {
        let text = frame_text(frame);
        let inner = self.read();
        for handle in inner.connections_of(user_id) {
            deliver(handle, None, &text);
        }
    }

    /// The sessions (token hashes) that have a connection open now, each once.
    pub fn live_sessions(&self) -> Vec<Vec<u8>> {
        let inner = self.read();
        let mut sessions: Vec<Vec<u8>> = inner.conns.values().map(|h| h.session.clone()).collect();
        sessions.sort_unstable();
        sessions.dedup();
        sessions
    }

    /// Tells every connection that authenticated with this session that it was revoked.
    pub fn kick_session(&self, session: &[u8]) {
        let inner = self.read();
        for handle in inner.conns.values().filter(|h| h.session == session) {
            handle.kick.notify_one();
        }
    }

    /// Closes every connection of a user (their account was disabled); returns how many.
    pub fn kick_user(&self, user_id: UserId) -> usize {
        let inner = self.read();
        let conns = inner.by_user.get(&user_id).map_or(&[][..], Vec::as_slice);
        for conn in conns {
            if let Some(handle) = inner.conns.get(conn) {
                handle.kick.notify_one();
            }
        }
        conns.len()
    }

    /// Removes a connection; announces the user offline if it was their last, and stops
    /// their typing indicators.
    pub fn unregister(&self, conn: ConnId) {
        let user_id = {
            let mut inner = self.write();
            let Some(handle) = inner.conns.remove(&conn) else {
                return;
            };
            let user_id = handle.user_id;
            Self::unwatch(&mut inner, conn, &handle.watching);
            inner.disconnect(user_id, conn);
            if let Some(list) = inner.by_user.get_mut(&user_id) {
                list.retain(|c| *c != conn);
                if list.is_empty() {
                    inner.by_user.remove(&user_id);
                }
            }
            Self::announce_presence(&mut inner, user_id);
            if inner.by_user.contains_key(&user_id) {
                return;
            }
            user_id
        };
        let stopped: Vec<ConversationId> = {
            let mut typing = self.typing.lock().unwrap_or_else(|p| p.into_inner());
            let keys: Vec<_> = typing
                .keys()
                .filter(|(_, u)| *u == user_id)
                .copied()
                .collect();
            keys.iter()
                .filter_map(|key| typing.remove(key).map(|_| key.0))
                .collect()
        };
        for conversation in stopped {
            self.send_typing(conversation, user_id, false);
        }
    }

    /// Marks a connection away (or back online) and announces the user's presence if it
    /// changed.
    pub fn set_away(&self, conn: ConnId, away: bool) {
        let mut inner = self.write();
        let Some(handle) = inner.conns.get_mut(&conn) else {
            return;
        };
        handle.away = away;
        let user_id = handle.user_id;
        Self::announce_presence(&mut inner, user_id);
    }

    /// Replaces the people a connection watches and queues the `watching` reply with each
    /// one's presence now. The reply goes through the connection's queue, under the same lock
    /// as presence changes, so no change can overtake it. Returns the reply instead when the
    /// queue is full, for the caller to send another way.
    pub fn watch(
        &self,
        conn: ConnId,
        user_ids: &[UserId],
        reference: Option<String>,
    ) -> Result<(), Utf8Bytes> {
        let mut unique: Vec<UserId> = user_ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let mut inner = self.write();
        let Some(handle) = inner.conns.get_mut(&conn) else {
            return Ok(());
        };
        let before = std::mem::replace(&mut handle.watching, unique.clone());
        Self::unwatch(&mut inner, conn, &before);
        for user in &unique {
            inner.watchers.entry(*user).or_default().insert(conn);
        }
        let presence = unique
            .into_iter()
            .map(|user_id| PresenceEntry {
                user_id,
                status: inner.presence.get(&user_id).copied().unwrap_or_default(),
            })
            .collect();
        let text = frame_text(&ServerFrame::Watching {
            reference,
            presence,
        });
        match inner.conns.get(&conn) {
            Some(handle) if deliver(handle, None, &text) => Ok(()),
            _ => Err(text),
        }
    }

    fn unwatch(inner: &mut Inner, conn: ConnId, users: &[UserId]) {
        for user in users {
            if let Some(set) = inner.watchers.get_mut(user) {
                set.remove(&conn);
                if set.is_empty() {
                    inner.watchers.remove(user);
                }
            }
        }
    }

    fn presence_in(inner: &Inner, user_id: UserId) -> Presence {
        match inner.by_user.get(&user_id) {
            None => Presence::Offline,
            Some(conns) => {
                let any_here = conns
                    .iter()
                    .filter_map(|c| inner.conns.get(c))
                    .any(|h| !h.away);
                if any_here {
                    Presence::Online
                } else {
                    Presence::Away
                }
            }
        }
    }

    fn announce_presence(inner: &mut Inner, user_id: UserId) {
        let now = Self::presence_in(inner, user_id);
        let before = inner.presence.get(&user_id).copied().unwrap_or_default();
        if now == before {
            return;
        }
        if now == Presence::Offline {
            inner.presence.remove(&user_id);
        } else {
            inner.presence.insert(user_id, now);
        }
        let Some(watchers) = inner.watchers.get(&user_id) else {
            return;
        };
        let text = frame_text(&ServerFrame::Presence {
            user_id,
            status: now,
        });
        for handle in watchers.iter().filter_map(|c| inner.conns.get(c)) {
            deliver(handle, None, &text);
        }
    }

    pub fn presence_of(&self, user_id: UserId) -> Presence {
        Self::presence_in(&self.read(), user_id)
    }

    /// How many people are connected (online or away) right now.
    pub fn online_count(&self) -> u32 {
        u32::try_from(self.read().presence.len()).unwrap_or(u32::MAX)
    }

    pub fn connection_count(&self) -> usize {
        self.read().conns.len()
    }

    /// Bytes of frames queued for delivery, to all connections or to one user's. A frame
    /// shared by many queues is counted once per queue.
    pub fn queued_bytes(&self, user_id: Option<UserId>) -> usize {
        self.read()
            .conns
            .values()
            .filter(|h| user_id.is_none_or(|u| h.user_id == u))
            .map(|h| h.queued.load(Ordering::Relaxed))
            .sum()
    }

    /// Delivers committed events to every connection that may see them, in the order given,
    /// and keeps the membership cache in step. Called by the store's writer thread.
    pub fn publish(&self, events: &[Committed]) {
        let changes_membership = events
            .iter()
            .any(|e| !e.joined.is_empty() || !e.left.is_empty());
        if changes_membership {
            let mut inner = self.write();
            for event in events {
                if let Some(conversation) = event.conversation_id {
                    for user in &event.joined {
                        inner.join(conversation, *user);
                    }
                }
                let n = Self::route(&inner, event);
                self.deliveries.fetch_add(n, Ordering::Relaxed);
                self.last_published
                    .fetch_max(event.id.get(), Ordering::AcqRel);
                if let Some(conversation) = event.conversation_id {
                    for user in &event.left {
                        inner.leave(conversation, *user);
                    }
                }
            }
        } else {
            let inner = self.read();
            let mut delivered = 0;
            for event in events {
                delivered += Self::route(&inner, event);
                self.last_published
                    .fetch_max(event.id.get(), Ordering::AcqRel);
            }
            self.deliveries.fetch_add(delivered, Ordering::Relaxed);
        }
    }

    /// Queues an event to every connection entitled to it; returns how many took it.
    fn route(inner: &Inner, event: &Committed) -> u64 {
        let text = Utf8Bytes::from(event_frame(event.id, &event.payload));
        let id = Some(event.id);
        let mut delivered = 0;
        match event.conversation_id {
            None => {
                for handle in inner.conns.values() {
                    delivered += u64::from(deliver(handle, id, &text));
                }
            }
            Some(conversation) => {
                let member = |user: &&UserId| inner.is_member(conversation, **user);
                if let Some(audience) = &event.audience {
                    // Only the listed members: O(their connections), whatever the conversation.
                    delivered += inner.deliver_to(audience.iter().filter(member), id, &text);
                } else {
                    for handle in inner.connections_in(conversation) {
                        if event.hidden_from.is_empty()
                            || !event.hidden_from.contains(&handle.user_id)
                        {
                            delivered += u64::from(deliver(handle, id, &text));
                        }
                    }
                    // Someone who left is told so even when the cache no longer lists them.
                    let gone = event.left.iter().filter(|u| !member(u));
                    delivered += inner.deliver_to(gone, id, &text);
                }
            }
        }
        delivered
    }

    /// Event frames queued to connections since the hub started.
    pub fn deliveries(&self) -> u64 {
        self.deliveries.load(Ordering::Relaxed)
    }

    /// Records that `user_id` is typing (or stopped) in a conversation and tells the other
    /// members. Repeated "typing" only refreshes the deadline and is forwarded, so others can
    /// extend their indicator; a "stopped" for someone not typing is not forwarded.
    pub fn typing(&self, conversation_id: ConversationId, user_id: UserId, typing: bool) {
        let forward = {
            let mut map = self.typing.lock().unwrap_or_else(|p| p.into_inner());
            if typing {
                map.insert((conversation_id, user_id), Instant::now() + self.typing_ttl);
                true
            } else {
                map.remove(&(conversation_id, user_id)).is_some()
            }
        };
        if forward {
            self.send_typing(conversation_id, user_id, typing);
        }
    }

    /// Stops the indicators whose deadline has passed; returns how many.
    pub fn expire_typing(&self) -> usize {
        let now = Instant::now();
        let expired: Vec<(ConversationId, UserId)> = {
            let mut map = self.typing.lock().unwrap_or_else(|p| p.into_inner());
            let keys: Vec<_> = map
                .iter()
                .filter(|(_, deadline)| **deadline <= now)
                .map(|(k, _)| *k)
                .collect();
            for key in &keys {
                map.remove(key);
            }
            keys
        };
        for (conversation, user) in &expired {
            self.send_typing(*conversation, *user, false);
        }
        expired.len()
    }

    fn send_typing(&self, conversation_id: ConversationId, user_id: UserId, typing: bool) {
        let text = frame_text(&ServerFrame::Typing {
            conversation_id,
            user_id,
            typing,
            expires_in_ms: self.typing_ttl.as_millis() as u64,
        });
        let inner = self.read();
        let blockers = inner.blocked_by.get(&user_id);
        for handle in inner.connections_in(conversation_id) {
            let to = handle.user_id;
            if to != user_id && !blockers.is_some_and(|b| b.contains(&to)) {
                deliver(handle, None, &text);
            }
        }
    }
}

impl Inner {
    fn is_member(&self, conversation: ConversationId, user_id: UserId) -> bool {
        self.members
            .get(&conversation)
            .is_some_and(|m| m.contains(&user_id))
    }

    /// Queues `text` to every connection of `users`; returns how many took it.
    fn deliver_to<'a>(
        &self,
        users: impl Iterator<Item = &'a UserId>,
        id: Option<EventId>,
        text: &Utf8Bytes,
    ) -> u64 {
        users
            .flat_map(|user| self.connections_of(*user))
            .map(|handle| u64::from(deliver(handle, id, text)))
            .sum()
    }

    /// The connections of one user.
    fn connections_of(&self, user_id: UserId) -> impl Iterator<Item = &ConnHandle> {
        let conns = self.by_user.get(&user_id).map_or(&[][..], Vec::as_slice);
        conns.iter().filter_map(|c| self.conns.get(c))
    }

    /// The connections of a conversation's members.
    fn connections_in(&self, conversation: ConversationId) -> impl Iterator<Item = &ConnHandle> {
        self.online
            .get(&conversation)
            .into_iter()
            .flatten()
            .filter_map(|c| self.conns.get(c))
    }

    fn join(&mut self, conversation: ConversationId, user_id: UserId) {
        if !self
            .members
            .entry(conversation)
            .or_default()
            .insert(user_id)
        {
            return;
        }
        self.conversations_of
            .entry(user_id)
            .or_default()
            .insert(conversation);
        if let Some(conns) = self.by_user.get(&user_id) {
            self.online
                .entry(conversation)
                .or_default()
                .extend(conns.iter().copied());
        }
    }

    fn leave(&mut self, conversation: ConversationId, user_id: UserId) {
        if let Some(set) = self.members.get_mut(&conversation) {
            set.remove(&user_id);
            if set.is_empty() {
                self.members.remove(&conversation);
            }
        }
        if let Some(set) = self.conversations_of.get_mut(&user_id) {
            set.remove(&conversation);
            if set.is_empty() {
                self.conversations_of.remove(&user_id);
            }
        }
        if let (Some(conns), Some(online)) = (
            self.by_user.get(&user_id),
            self.online.get_mut(&conversation),
        ) {
            for conn in conns {
                online.remove(conn);
            }
            if online.is_empty() {
                self.online.remove(&conversation);
            }
        }
    }

    /// Puts a new connection of `user_id` into each of the user's conversations.
    fn connect(&mut self, user_id: UserId, conn: ConnId) {
        for conversation in self.conversations_of.get(&user_id).into_iter().flatten() {
            self.online.entry(*conversation).or_default().insert(conn);
        }
    }

    fn disconnect(&mut self, user_id: UserId, conn: ConnId) {
        for conversation in self.conversations_of.get(&user_id).into_iter().flatten() {
            if let Some(online) = self.online.get_mut(conversation) {
                online.remove(&conn);
                if online.is_empty() {
                    self.online.remove(conversation);
                }
            }
        }
    }
}

/// Queues a frame without waiting. A durable event that does not fit marks the connection
/// lagged (it will re-read from the store); an ephemeral frame that does not fit is dropped,
/// as ephemeral frames may be.
///
/// Returns whether the frame was queued.
fn deliver(handle: &ConnHandle, event_id: Option<EventId>, text: &Utf8Bytes) -> bool {
    // Counted before the send so the receiver never subtracts what was not yet added.
    handle.queued.fetch_add(text.len(), Ordering::Relaxed);
    let sent = handle.tx.try_send(Outbound {
        event_id,
        text: text.clone(),
    });
    if sent.is_err() {
        handle.queued.fetch_sub(text.len(), Ordering::Relaxed);
    }
    match sent {
        Ok(()) => true,
        Err(TrySendError::Closed(_)) => false,
        Err(TrySendError::Full(_)) => {
            if event_id.is_some() {
                handle.lagged.store(true, Ordering::Release);
            }
            false
        }
    }
}

/// Serializes a server frame. These types always serialize; should one not, the client gets
/// an internal-error frame rather than nothing.
pub fn frame_text(frame: &ServerFrame) -> Utf8Bytes {
    match serde_json::to_string(frame) {
        Ok(text) => Utf8Bytes::from(text),
        Err(err) => {
            tracing::error!("cannot serialize a frame: {err}");
            Utf8Bytes::from_static(
                r#"{"type":"error","code":"internal","message":"The hub could not encode a reply."}"#,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed(id: EventId, conversation: Option<ConversationId>) -> Committed {
        Committed {
            id,
            conversation_id: conversation,
            payload: Arc::from(r#"{"kind":"x"}"#),
            joined: vec![],
            left: vec![],
            hidden_from: vec![],
            audience: None,
        }
    }

    #[test]
    fn full_queue_marks_lagged_instead_of_growing() {
        let fanout = Fanout::new(Duration::from_secs(6));
        fanout.load_memberships(vec![(ConversationId(1), UserId(10))]);
        let mut reg = fanout.register(UserId(10), vec![], 2);
        // Drain the user's own presence announcement.
        while reg.queue.try_recv().is_some() {}
        assert_eq!(fanout.queued_bytes(None), 0);
        fanout.publish(&[
            committed(EventId(1), Some(ConversationId(1))),
            committed(EventId(2), Some(ConversationId(1))),
        ]);
        assert!(!reg.lagged.load(Ordering::Acquire));
        let one = event_frame(EventId(1), r#"{"kind":"x"}"#).len();
        assert_eq!(fanout.queued_bytes(Some(UserId(10))), 2 * one);
        fanout.publish(&[committed(EventId(3), Some(ConversationId(1)))]);
        assert!(
            reg.lagged.load(Ordering::Acquire),
            "third event did not fit"
        );
        assert_eq!(reg.queue.rx.len(), 2);
        assert_eq!(
            fanout.queued_bytes(None),
            2 * one,
            "nothing counted for the drop"
        );
        assert_eq!(fanout.queued_bytes(Some(UserId(11))), 0);
        reg.queue.try_recv();
        assert_eq!(fanout.queued_bytes(None), one);
    }

    #[test]
    fn events_reach_members_and_the_removed_user_only() {
        let fanout = Fanout::new(Duration::from_secs(6));
        fanout.load_memberships(vec![
            (ConversationId(1), UserId(10)),
            (ConversationId(1), UserId(11)),
        ]);
        let mut a = fanout.register(UserId(10), vec![], 16);
        let mut b = fanout.register(UserId(11), vec![], 16);
        let mut c = fanout.register(UserId(12), vec![], 16);
        for r in [&mut a, &mut b, &mut c] {
            while r.queue.rx.try_recv().is_some() {}
        }
        let mut leave = committed(EventId(5), Some(ConversationId(1)));
        leave.left = vec![UserId(11)];
        fanout.publish(&[leave, committed(EventId(6), Some(ConversationId(1)))]);
        assert_eq!(a.queue.rx.len(), 2);
        assert_eq!(
            b.queue.rx.len(),
            1,
            "the removed user hears of the removal only"
        );
        assert_eq!(c.queue.rx.len(), 0);
        assert!(!fanout.is_member(ConversationId(1), UserId(11)));
    }

    #[test]
    fn an_event_with_an_audience_reaches_only_its_members_in_it() {
        let fanout = Fanout::new(Duration::from_secs(6));
        let general = ConversationId(1);
        fanout.load_memberships((10..15).map(|u| (general, UserId(u))).collect());
        let mut regs: Vec<_> = (10..16)
            .map(|u| fanout.register(UserId(u), vec![], 16))
            .collect();
        for r in &mut regs {
            while r.queue.try_recv().is_some() {}
        }
        let mut receipt = committed(EventId(7), Some(general));
        // 15 is listed but not a member: an audience never widens who may hear.
        receipt.audience = Some(vec![UserId(11), UserId(13), UserId(15)]);
        fanout.publish(&[receipt]);
        let heard: Vec<usize> = regs.iter().map(|r| r.queue.rx.len()).collect();
        assert_eq!(heard, [0, 1, 0, 1, 0, 0]);
    }

    #[test]
    fn the_online_index_follows_connections_and_membership() {
        let fanout = Fanout::new(Duration::from_secs(6));
        let general = ConversationId(1);
        let mut all: Vec<_> = (1..=1000).map(|u| (general, UserId(u))).collect();
        all.push((ConversationId(2), UserId(1)));
        fanout.load_memberships(all);
        assert!(fanout.read().online.is_empty(), "nobody is connected");
        let mut one = fanout.register(UserId(1), vec![], 16);
        let mut outsider = fanout.register(UserId(5000), vec![], 16);
        {
            let inner = fanout.read();
            assert_eq!(
                inner.online[&general].len(),
                1,
                "offline members are not there"
            );
            assert_eq!(inner.online[&ConversationId(2)].len(), 1);
        }
        // Added while connected: hears the event that added them, and what follows.
        let mut add = committed(EventId(1), Some(general));
        add.joined = vec![UserId(5000)];
        fanout.publish(&[add, committed(EventId(2), Some(general))]);
        let events = |reg: &mut Registration| {
            std::iter::from_fn(|| reg.queue.try_recv())
                .filter_map(|o| o.event_id)
                .map(EventId::get)
                .collect::<Vec<_>>()
        };
        assert_eq!(events(&mut one), [1, 2]);
        assert_eq!(events(&mut outsider), [1, 2]);
        assert_eq!(fanout.read().online[&general].len(), 2);
        let mut leave = committed(EventId(3), Some(general));
        leave.left = vec![UserId(5000)];
        fanout.publish(&[leave, committed(EventId(4), Some(general))]);
        assert_eq!(events(&mut one), [3, 4]);
        assert_eq!(
            events(&mut outsider),
            [3],
            "told of the removal, not of event 4"
        );
        assert_eq!(fanout.read().online[&general].len(), 1);
        fanout.unregister(one.id);
        fanout.unregister(outsider.id);
        let inner = fanout.read();
        assert!(inner.online.is_empty(), "{:?}", inner.online);
        assert!(!inner.conversations_of.contains_key(&UserId(5000)));
        assert_eq!(inner.members[&general].len(), 1000);
    }

    #[test]
    fn presence_follows_connections_and_away() {
        let fanout = Fanout::new(Duration::from_secs(6));
        let first = fanout.register(UserId(10), vec![], 16);
        let second = fanout.register(UserId(10), vec![], 16);
        assert_eq!(fanout.presence_of(UserId(10)), Presence::Online);
        fanout.set_away(first.id, true);
        assert_eq!(
            fanout.presence_of(UserId(10)),
            Presence::Online,
            "one device still here"
        );
        fanout.set_away(second.id, true);
        assert_eq!(fanout.presence_of(UserId(10)), Presence::Away);
        fanout.unregister(first.id);
        fanout.unregister(second.id);
        assert_eq!(fanout.presence_of(UserId(10)), Presence::Offline);
        assert_eq!(fanout.online_count(), 0);
    }

    #[test]
    fn a_new_connection_starts_after_the_last_published_event() {
        let fanout = Fanout::new(Duration::from_secs(6));
        fanout.set_last_published(EventId(40));
        fanout.load_memberships(vec![(ConversationId(1), UserId(10))]);
        fanout.publish(&[
            committed(EventId(41), Some(ConversationId(1))),
            committed(EventId(42), None),
        ]);
        let mut reg = fanout.register(UserId(10), vec![], 16);
        assert_eq!(reg.last_event_id, 42, "what was published before is older");
        fanout.publish(&[committed(EventId(43), Some(ConversationId(1)))]);
        assert_eq!(
            reg.queue.try_recv().expect("queued").event_id,
            Some(EventId(43))
        );
    }

    #[test]
    fn presence_goes_only_to_watchers() {
        let fanout = Fanout::new(Duration::from_secs(6));
        let mut watcher = fanout.register(UserId(1), vec![], 16);
        let mut bystander = fanout.register(UserId(2), vec![], 16);
        fanout
            .watch(
                watcher.id,
                &[UserId(10), UserId(11), UserId(10)],
                Some("w1".into()),
            )
            .expect("queued");
        let reply = watcher.queue.try_recv().expect("watching");
        assert_eq!(
            &*reply.text,
            r#"{"type":"watching","ref":"w1","presence":[{"user_id":10,"status":"offline"},{"user_id":11,"status":"offline"}]}"#,
            "sorted, without duplicates, offline included"
        );
        let ten = fanout.register(UserId(10), vec![], 16);
        let _twelve = fanout.register(UserId(12), vec![], 16);
        let heard = watcher.queue.try_recv().expect("10 came online");
        assert!(heard.text.contains(r#""user_id":10"#), "{}", heard.text);
        assert!(watcher.queue.try_recv().is_none(), "12 is not watched");
        assert!(bystander.queue.try_recv().is_none(), "watches nobody");

        // Replacing the list stops the old watch and reports the new one's presence.
        fanout
            .watch(watcher.id, &[UserId(12)], None)
            .expect("queued");
        let reply = watcher.queue.try_recv().expect("watching");
        assert!(reply.text.contains(r#"{"user_id":12,"status":"online"}"#));
        fanout.unregister(ten.id);
        assert!(
            watcher.queue.try_recv().is_none(),
            "10 is not watched any more"
        );

        // A watcher that leaves is forgotten.
        fanout.unregister(watcher.id);
        assert!(fanout.read().watchers.is_empty());
    }

    #[test]
    fn typing_is_not_echoed_and_expires() {
        let fanout = Fanout::new(Duration::from_millis(0));
        fanout.load_memberships(vec![
            (ConversationId(1), UserId(10)),
            (ConversationId(1), UserId(11)),
        ]);
        let mut typer = fanout.register(UserId(10), vec![], 16);
        let mut other = fanout.register(UserId(11), vec![], 16);
        while typer.queue.rx.try_recv().is_some() {}
        while other.queue.rx.try_recv().is_some() {}
        fanout.typing(ConversationId(1), UserId(10), true);
        assert_eq!(typer.queue.rx.len(), 0);
        assert_eq!(other.queue.rx.len(), 1);
        assert_eq!(fanout.expire_typing(), 1);
        other.queue.rx.try_recv().expect("typing frame");
        let stop = other.queue.rx.try_recv();
        assert!(stop.expect("stop frame").text.contains(r#""typing":false"#));
        fanout.typing(ConversationId(1), UserId(10), false);
        assert_eq!(other.queue.rx.len(), 0, "no stop for someone not typing");
    }
}

//! Versioned schema. Each migration is appended, never edited once released; the
//! database's `user_version` records how far it has come.

use rusqlite_migration::{Migrations, M};

/// The migrations, oldest first.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(steps())
}

fn steps() -> Vec<M<'static>> {
    vec![
        M::up(V1),
        M::up(V2),
        M::up(V3),
        M::up(V4),
        M::up(V5),
        M::up(V6),
        M::up(V7),
        M::up(V8),
        M::up(V9),
        M::up(V10),
        M::up(V11),
        M::up(V12),
        M::up(V13),
    ]
}

/// The schema version this build migrates to (the database's `user_version` once it has).
pub fn migrations_count() -> i64 {
    steps().len() as i64
}

/// Version 1: accounts, sessions, conversations, members, messages and the event log.
const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    status_text   TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL
) STRICT;

-- Session tokens are stored only as their SHA-256 hash.
CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE conversations (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('general', 'direct', 'group')),
    name             TEXT,
    -- 'low:high' user ids of a direct chat, so that a pair has exactly one.
    direct_key       TEXT UNIQUE,
    created_by       INTEGER REFERENCES users(id),
    created_at       INTEGER NOT NULL,
    last_seq         INTEGER NOT NULL DEFAULT 0,
    last_activity_at INTEGER NOT NULL
) STRICT;

-- A member row outlives leaving (active = 0) so that replay knows which events the
-- former member saw: those with joined_event <= id <= left_event.
CREATE TABLE members (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    user_id         INTEGER NOT NULL REFERENCES users(id),
    role            TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'admin')),
    active          INTEGER NOT NULL DEFAULT 1,
    joined_event    INTEGER NOT NULL,
    left_event      INTEGER,
    joined_at       INTEGER NOT NULL,
    delivered_seq   INTEGER NOT NULL DEFAULT 0,
    read_seq        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX members_by_user ON members(user_id, active, conversation_id);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    seq             INTEGER NOT NULL,
    sender_id       INTEGER NOT NULL REFERENCES users(id),
    client_id       TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    edited_at       INTEGER,
    deleted         INTEGER NOT NULL DEFAULT 0,
    UNIQUE (conversation_id, seq),
    UNIQUE (sender_id, client_id)
) STRICT;

-- Every durable event, in commit order. AUTOINCREMENT keeps ids from ever being reused.
CREATE TABLE events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER REFERENCES conversations(id),
    payload         TEXT NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;
"#;

/// Version 2: full-text search over message bodies (FTS5). Indexing is deferred and done in
/// batches by the hub ([`crate::Tx::index_pending`]): new messages by id, after the
/// `search_indexed_up_to` mark in `meta`; edits and deletions of indexed messages through
/// `search_pending`, which triggers fill. Indexing inside every send, by triggers, halved
/// the messages committed per second. The index is as lean as the search allows: no copy of
/// the text (`content = ''`; bodies are read from `messages`) and no word positions
/// (`detail = none`: every word must match, anywhere). Existing messages are indexed here.
const V2: &str = r#"
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body,
    content = '',
    contentless_delete = 1,
    detail = none,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO messages_fts(rowid, body) SELECT id, body FROM messages WHERE deleted = 0;
INSERT INTO meta (key, value)
    SELECT 'search_indexed_up_to', CAST(coalesce(max(id), 0) AS TEXT) FROM messages;
CREATE TABLE search_pending (message_id INTEGER PRIMARY KEY) STRICT;
CREATE TRIGGER search_pending_update AFTER UPDATE OF body ON messages BEGIN
    INSERT OR IGNORE INTO search_pending VALUES (new.id);
END;
CREATE TRIGGER search_pending_delete AFTER DELETE ON messages BEGIN
    INSERT OR IGNORE INTO search_pending VALUES (old.id);
END;
"#;

/// Version 3: files. An upload is a `files` row (who sent it where, its sanitized name, size,
/// media type and the SHA-256 naming its bytes under `files/` in the data directory) with no
/// `message_id` until a send attaches it. A message keeps a JSON copy of its attachments in
/// `messages.attachments`, so reading history needs no join.
const V3: &str = r#"
ALTER TABLE messages ADD COLUMN attachments TEXT;
CREATE TABLE files (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    uploader_id     INTEGER NOT NULL REFERENCES users(id),
    message_id      INTEGER REFERENCES messages(id),
    sha256          TEXT NOT NULL,
    name            TEXT NOT NULL,
    size            INTEGER NOT NULL,
    mime            TEXT NOT NULL,
    width           INTEGER,
    height          INTEGER,
    -- The thumbnail's media type, when the hub made one (under files/thumbs/).
    thumbnail       TEXT,
    created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX files_by_message ON files(message_id);
CREATE INDEX files_by_hash ON files(sha256);
"#;

/// Version 4: keeping order. A disabled account (`disabled_at`) cannot sign in and has no
/// sessions; a member may mute a conversation; a user may block another (no direct messages
/// from them, their typing hidden); a member may report a message to the hub's admins.
const V4: &str = r#"
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
ALTER TABLE members ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;
CREATE TABLE blocks (
    user_id    INTEGER NOT NULL REFERENCES users(id),
    blocked_id INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
) STRICT, WITHOUT ROWID;
CREATE TABLE reports (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    reporter_id INTEGER NOT NULL REFERENCES users(id),
    reason      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    resolved_by INTEGER REFERENCES users(id),
    resolved_at INTEGER,
    UNIQUE (message_id, reporter_id)
) STRICT;
CREATE INDEX reports_open ON reports(resolved_at, id);
"#;

/// Version 5: sessions remember when they were last used (`used_at`, kept to within an hour),
/// so a hub can expire the ones left idle. Existing sessions count as used when created.
const V5: &str = r#"
ALTER TABLE sessions ADD COLUMN used_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET used_at = created_at;
CREATE INDEX sessions_by_use ON sessions(used_at);
"#;

/// Version 6: history before joining. A group's `history_visible` (on by default, as in
/// Slack's and Mattermost's channels) says whether someone added from now on sees what was
/// said before; their `joined_seq` is 0 if so, else the group's `last_seq` when they were
/// (re)added. A member sees message `seq` when `seq > joined_seq` (`queries::visible`). An event about a message carries its `message_seq`, so replay
/// applies the same rule to edits and deletions of older messages.
const V6: &str = r#"
ALTER TABLE conversations ADD COLUMN history_visible INTEGER NOT NULL DEFAULT 1;
ALTER TABLE members ADD COLUMN joined_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN message_seq INTEGER;
-- Who may not see an edited or deleted message: empty unless a group hides its history.
CREATE INDEX members_hiding_history ON members(conversation_id, joined_seq) WHERE joined_seq > 0;
"#;

/// Version 7: events for a few. A receipt in a large conversation (`RECEIPTS_TO_EVERYONE_UP_TO`
/// members) is for its author's devices and the senders of the messages it moved over, not
/// for every member: `audience` lists them (a JSON array of user ids; NULL is everyone the
/// conversation's events reach), and replay applies it as live delivery does.
const V7: &str = r#"
ALTER TABLE events ADD COLUMN audience TEXT;
"#;

/// Version 8: replies. A message may answer another of its conversation (`reply_to`, its
/// id), checked when sent: the original exists, is not deleted, and the sender can see it.
/// Clients fetch the original themselves (`queries::visible_message`), so a reply shows
/// nothing of it to anyone who may not see it.
const V8: &str = r#"
ALTER TABLE messages ADD COLUMN reply_to INTEGER;
"#;

/// Version 9: reactions. A message keeps its emoji reactions as JSON (`reactions`: a list of
/// `{emoji, user_ids}` in the order each emoji was first used; NULL when none), as it keeps
/// its attachments, so history needs no join. Written only by `Tx::react`, emptied with the
/// message.
const V9: &str = r#"
ALTER TABLE messages ADD COLUMN reactions TEXT;
"#;

/// Version 10: mentions. A message keeps who its text mentions as the hub read it when it
/// was sent or edited (`mentions`: JSON `{user_ids, here, everyone}`; NULL when nobody), so
/// unread mention counts, highlighting and notifications agree. A group may keep `@here`
/// and `@everyone` to its admins (`everyone_admins_only`); `general` keeps them to hub
/// admins, always.
const V10: &str = r#"
ALTER TABLE messages ADD COLUMN mentions TEXT;
ALTER TABLE conversations ADD COLUMN everyone_admins_only INTEGER NOT NULL DEFAULT 0;
"#;

/// Version 11: marked unread. A member who marks a conversation unread from message `S`
/// has `unread_from = S`: their unread count and the conversation list's `read_seq` start
/// before it, while `read_seq` itself (what others see as read) stays; reading again at or
/// past `S` clears it.
const V11: &str = r#"
ALTER TABLE members ADD COLUMN unread_from INTEGER;
"#;

/// Version 12: notification settings on the hub. A person's settings (which messages notify,
/// previews, "mute all until"; JSON, `chinwag_proto::notify::NotifySettings`; NULL is the
/// defaults) follow them to every device.
const V12: &str = r#"
ALTER TABLE users ADD COLUMN notify TEXT;
"#;

/// Version 13: counting mentions reads only messages that mention someone. The unread
/// mention count looked at every unread message's `mentions` (a member a million messages
/// behind: 115 ms per conversation list); this index holds the few that have any.
const V13: &str = r#"
CREATE INDEX messages_mentioning ON messages(conversation_id, seq) WHERE mentions IS NOT NULL;
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        assert!(migrations().validate().is_ok());
    }

    #[test]
    fn migrate_from_empty_database() {
        let mut conn = rusqlite::Connection::open_in_memory().expect("in-memory db");
        migrations().to_latest(&mut conn).expect("migrates");
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("user_version");
        assert_eq!(version, migrations_count());
        // Running again on an up-to-date database is a no-op.
        migrations().to_latest(&mut conn).expect("idempotent");
    }
}

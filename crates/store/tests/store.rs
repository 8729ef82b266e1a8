//! The store on a real file: group commit, idempotent sends, replay visibility.

use chinwag_proto::{ConversationId, EventId, UserId};
use std::sync::{Arc, Mutex};

use chinwag_proto::{ConversationKind, Event, Role};
use chinwag_store::queries::{self, PageFrom};
use chinwag_store::{Committed, Store, StoreConfig, StoreError};

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    published: Arc<Mutex<Vec<Committed>>>,
}

fn open() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let published = Arc::new(Mutex::new(Vec::new()));
    let sink = published.clone();
    let store = Store::open(
        &dir.path().join("hub.db"),
        StoreConfig::default(),
        Arc::new(move |events: &[Committed]| {
            sink.lock().expect("lock").extend_from_slice(events);
        }),
    )
    .expect("opens");
    Fixture {
        _dir: dir,
        store,
        published,
    }
}

async fn register(store: &Store, name: &str) -> i64 {
    let name = name.to_owned();
    store
        .write(move |tx| tx.register(&name, &name, "hash"))
        .await
        .expect("registers")
        .id
        .into()
}

#[tokio::test]
async fn first_user_is_admin_and_everyone_joins_general() {
    let f = open();
    let alice = register(&f.store, "alice").await;
    let bob = register(&f.store, "bob").await;
    let (a, b) = f
        .store
        .read(move |c| {
            Ok((
                queries::user(c, UserId(alice))?,
                queries::user(c, UserId(bob))?,
            ))
        })
        .await
        .expect("reads");
    assert!(a.is_admin);
    assert!(!b.is_admin);
    let general = f
        .store
        .read(|c| queries::conversation_detail(c, ConversationId(1)))
        .await
        .expect("general");
    assert_eq!(general.conversation.kind, ConversationKind::General);
    assert_eq!(general.members.len(), 2);
    let dup = f.store.write(|tx| tx.register("ALICE", "x", "h")).await;
    assert!(matches!(dup, Err(StoreError::UsernameTaken)));
}

#[tokio::test]
async fn concurrent_sends_share_commits_and_keep_per_conversation_order() {
    let f = open();
    let alice = register(&f.store, "alice").await;
    let mut tickets = Vec::new();
    for i in 0..200 {
        let ticket = f
            .store
            .submit(move |tx| {
                tx.send_message(
                    UserId(alice),
                    ConversationId(1),
                    &format!("c{i}"),
                    &format!("m{i}"),
                    100,
                )
            })
            .await
            .expect("queued");
        tickets.push(ticket);
    }
    for (i, ticket) in tickets.into_iter().enumerate() {
        let (message, duplicate) = ticket.wait().await.expect("committed");
        assert!(!duplicate);
        assert_eq!(
            message.seq,
            i as i64 + 1,
            "submission order is sequence order"
        );
    }
    let published = f.published.lock().expect("lock").clone();
    let ids: Vec<EventId> = published.iter().map(|e| e.id).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "events are published in id order");
}

#[tokio::test]
async fn resend_with_same_client_id_returns_the_stored_message() {
    let f = open();
    let alice = register(&f.store, "alice").await;
    let (first, dup1) = f
        .store
        .write(move |tx| tx.send_message(UserId(alice), ConversationId(1), "same", "hello", 100))
        .await
        .expect("sent");
    let (second, dup2) = f
        .store
        .write(move |tx| {
            tx.send_message(UserId(alice), ConversationId(1), "same", "hello again", 100)
        })
        .await
        .expect("resent");
    assert!(!dup1);
    assert!(dup2);
    assert_eq!(first, second);
    let page = f
        .store
        .read(move |c| queries::history(c, ConversationId(1), UserId(alice), PageFrom::Latest, 50))
        .await
        .expect("history");
    assert_eq!(page.messages.len(), 1);
}

#[tokio::test]
async fn a_failing_job_rolls_back_alone() {
    let f = open();
    let alice = register(&f.store, "alice").await;
    let good = f
        .store
        .submit(move |tx| tx.send_message(UserId(alice), ConversationId(1), "ok", "fine", 100))
        .await
        .expect("queued");
    let bad = f
        .store
        .submit(move |tx| {
            tx.send_message(UserId(alice), ConversationId(1), "half", "written", 100)?;
            Err::<(), _>(StoreError::Forbidden("abandon after a write"))
        })
        .await
        .expect("queued");
    assert!(good.wait().await.is_ok());
    assert!(bad.wait().await.is_err());
    let page = f
        .store
        .read(move |c| queries::history(c, ConversationId(1), UserId(alice), PageFrom::Latest, 50))
        .await
        .expect("history");
    assert_eq!(page.messages.len(), 1, "the failed job left nothing behind");
    let published = f.published.lock().expect("lock").clone();
    assert!(published.iter().all(|e| !e.payload.contains("written")));
}

/// Holds the writer in a job of its own until the returned sender is dropped or sent to, so
/// that whatever is submitted meanwhile is committed as one batch.
async fn hold_the_writer(store: &Store) -> std::sync::mpsc::SyncSender<()> {
    let (running, started) = std::sync::mpsc::sync_channel::<()>(1);
    let (release, held) = std::sync::mpsc::sync_channel::<()>(1);
    store
        .submit(move |_tx| {
            let _ = running.send(());
            let _ = held.recv();
            Ok(())
        })
        .await
        .expect("queued");
    started.recv().expect("the writer runs the holding job");
    release
}

/// The bodies of `general` as `me` sees them, oldest first.
async fn general_bodies(store: &Store, me: i64) -> Vec<String> {
    store
        .read(move |c| queries::history(c, ConversationId(1), UserId(me), PageFrom::Latest, 50))
        .await
        .expect("history")
        .messages
        .into_iter()
        .map(|m| m.body)
        .collect()
}

fn send_job(
    me: i64,
    client_id: &'static str,
) -> impl FnOnce(&mut chinwag_store::Tx<'_>) -> Result<chinwag_proto::Message, StoreError> {
    move |tx| {
        tx.send_message(UserId(me), ConversationId(1), client_id, client_id, 100)
            .map(|(m, _)| m)
    }
}

#[tokio::test]
async fn sends_without_a_savepoint_fail_before_writing_and_leave_their_batch_alone() {
    let f = open();
    let alice = register(&f.store, "alice").await;
    let release = hold_the_writer(&f.store).await;
    let first = f
        .store
        .submit_checked(send_job(alice, "one"))
        .await
        .expect("queued");
    // Refused in the same batch: a conversation that does not exist, one I am not in, an
    // empty body, a file that is not mine.
    let nowhere = f
        .store
        .submit_checked(move |tx| tx.send_message(UserId(alice), ConversationId(99), "x", "x", 100))
        .await
        .expect("queued");
    let empty = f
        .store
        .submit_checked(move |tx| tx.send_message(UserId(alice), ConversationId(1), "y", "", 100))
        .await
        .expect("queued");
    let not_mine = f
        .store
        .submit_checked(move |tx| {
            tx.send(
                UserId(alice),
                ConversationId(1),
                &chinwag_proto::rest::SendRequest {
                    client_id: "z".into(),
                    body: "z".into(),
                    attachments: vec![chinwag_proto::FileId(7)],
                    reply_to: None,
                },
                100,
            )
        })
        .await
        .expect("queued");
    let second = f
        .store
        .submit_checked(send_job(alice, "two"))
        .await
        .expect("queued");
    drop(release);
    assert_eq!(first.wait().await.expect("sent").seq, 1);
    assert!(matches!(nowhere.wait().await, Err(StoreError::NotFound(_))));
    assert!(matches!(
        empty.wait().await,
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        not_mine.wait().await,
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(second.wait().await.expect("sent").seq, 2, "no gap");
    let bodies = general_bodies(&f.store, alice).await;
    assert_eq!(bodies, ["one", "two"]);
}

#[tokio::test]
async fn a_job_without_a_savepoint_that_fails_after_writing_takes_back_its_batch_only() {
    let f = open();
    let alice = register(&f.store, "alice").await;
    let release = hold_the_writer(&f.store).await;
    let guarded = f
        .store
        .submit(send_job(alice, "guarded"))
        .await
        .expect("queued");
    let checked = f
        .store
        .submit_checked(send_job(alice, "checked"))
        .await
        .expect("queued");
    // Breaks its promise: writes, then fails.
    let broken = f
        .store
        .submit_checked(move |tx| {
            tx.send_message(UserId(alice), ConversationId(1), "half", "half", 100)?;
            Err::<(), _>(StoreError::Forbidden("failing after a write"))
        })
        .await
        .expect("queued");
    let after = f
        .store
        .submit_checked(send_job(alice, "after"))
        .await
        .expect("queued");
    let last = f
        .store
        .submit(send_job(alice, "last"))
        .await
        .expect("queued");
    drop(release);
    // What ran in the batch before it is refused (nothing of it was stored, a retry is safe);
    // it gets its own error; what came after it is committed in a transaction of its own.
    assert!(matches!(
        guarded.wait().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        checked.wait().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(broken.wait().await, Err(StoreError::Forbidden(_))));
    assert_eq!(
        after.wait().await.expect("sent").seq,
        1,
        "numbering goes on where it was"
    );
    assert_eq!(last.wait().await.expect("sent").seq, 2);
    let bodies = general_bodies(&f.store, alice).await;
    assert_eq!(bodies, ["after", "last"]);
    let published = f.published.lock().expect("lock").clone();
    let said: Vec<&str> = ["guarded", "checked", "half"]
        .into_iter()
        .filter(|w| {
            published
                .iter()
                .any(|e| e.payload.contains(&format!("\"{w}\"")))
        })
        .collect();
    assert!(
        said.is_empty(),
        "events of the rolled-back batch were published: {said:?}"
    );
    // The retry the refused callers are told is safe stores them once.
    let (retried, duplicate) = f
        .store
        .write(move |tx| {
            tx.send_message(UserId(alice), ConversationId(1), "checked", "checked", 100)
        })
        .await
        .expect("retried");
    assert!(!duplicate);
    assert_eq!(retried.seq, 3);
}

#[tokio::test]
async fn replay_follows_membership_periods() {
    let f = open();
    let alice = register(&f.store, "alice").await;
    let bob = register(&f.store, "bob").await;
    let group = f
        .store
        .write(move |tx| tx.create_group(UserId(alice), "plans", &[UserId(bob)]))
        .await
        .expect("group")
        .conversation
        .id;
    f.store
        .write(move |tx| tx.send_message(UserId(alice), group, "1", "before", 100))
        .await
        .expect("sent");
    f.store
        .write(move |tx| tx.remove_member(UserId(alice), group, UserId(bob)))
        .await
        .expect("removed");
    f.store
        .write(move |tx| tx.send_message(UserId(alice), group, "2", "secret", 100))
        .await
        .expect("sent");
    let events = f
        .store
        .read(move |c| queries::events_for_user(c, UserId(bob), EventId(0), 1000))
        .await
        .expect("events");
    let decoded: Vec<Event> = events
        .iter()
        .map(|(_, json)| serde_json::from_str(json).expect("event json"))
        .collect();
    assert!(decoded
        .iter()
        .any(|e| matches!(e, Event::MessageNew { message } if message.body == "before")));
    assert!(decoded
        .iter()
        .any(|e| matches!(e, Event::MemberRemoved { user_id, .. } if *user_id == bob)));
    assert!(!decoded
        .iter()
        .any(|e| matches!(e, Event::MessageNew { message } if message.body == "secret")));
    // Bob can no longer post, and cannot probe the group.
    let refused = f
        .store
        .write(move |tx| tx.send_message(UserId(bob), group, "3", "hi", 100))
        .await;
    assert!(matches!(refused, Err(StoreError::NotFound(_))));
    // The refusal took no sequence number: the next message follows on without a gap.
    let (next, _) = f
        .store
        .write(move |tx| tx.send_message(UserId(alice), group, "4", "after", 100))
        .await
        .expect("sent");
    assert_eq!(next.seq, 3, "1 before, 2 secret, 3 after");
    // Added back, he sees new events again.
    f.store
        .write(move |tx| tx.add_members(UserId(alice), group, &[UserId(bob)]))
        .await
        .expect("re-added");
    let member = f
        .store
        .read(move |c| queries::membership(c, group, UserId(bob)))
        .await
        .expect("membership")
        .expect("active again");
    assert_eq!(member.role, Role::Member);
}

#[tokio::test]
async fn last_admin_leaving_hands_the_group_on() {
    let f = open();
    let alice = register(&f.store, "alice").await;
    let bob = register(&f.store, "bob").await;
    let group = f
        .store
        .write(move |tx| tx.create_group(UserId(alice), "g", &[UserId(bob)]))
        .await
        .expect("group")
        .conversation
        .id;
    f.store
        .write(move |tx| tx.remove_member(UserId(alice), group, UserId(alice)))
        .await
        .expect("left");
    let member = f
        .store
        .read(move |c| queries::membership(c, group, UserId(bob)))
        .await
        .expect("read")
        .expect("member");
    assert_eq!(member.role, Role::Admin);
}

#[tokio::test]
async fn receipts_only_move_forward_and_read_implies_delivered() {
    let f = open();
    let alice = register(&f.store, "alice").await;
    let bob = register(&f.store, "bob").await;
    for i in 0..3 {
        f.store
            .write(move |tx| {
                tx.send_message(UserId(alice), ConversationId(1), &format!("c{i}"), "x", 100)
            })
            .await
            .expect("sent");
    }
    let m = f
        .store
        .write(move |tx| tx.receipt(UserId(bob), ConversationId(1), None, Some(2)))
        .await
        .expect("receipt");
    assert_eq!((m.delivered_seq, m.read_seq), (2, 2));
    let m = f
        .store
        .write(move |tx| tx.receipt(UserId(bob), ConversationId(1), Some(1), Some(1)))
        .await
        .expect("receipt");
    assert_eq!((m.delivered_seq, m.read_seq), (2, 2), "never moves back");
    let beyond = f
        .store
        .write(move |tx| tx.receipt(UserId(bob), ConversationId(1), Some(99), None))
        .await;
    assert!(matches!(beyond, Err(StoreError::Invalid { .. })));
    let summaries = f
        .store
        .read(move |c| queries::conversation_summaries(c, UserId(bob)))
        .await
        .expect("summaries");
    assert_eq!(summaries[0].unread, 1);
}

#[tokio::test]
async fn receipts_in_a_large_conversation_reach_their_author_and_the_senders_moved_over() {
    let f = open();
    let everyone: Vec<UserId> = f
        .store
        .write(|tx| {
            (0..chinwag_store::RECEIPTS_TO_EVERYONE_UP_TO)
                .map(|i| {
                    tx.register(&format!("user{i}"), &format!("User {i}"), "hash")
                        .map(|u| u.id)
                })
                .collect()
        })
        .await
        .expect("registers");
    let (alice, bob, carol, reader) = (everyone[0], everyone[1], everyone[2], everyone[3]);
    for (i, sender) in [alice, bob, alice].into_iter().enumerate() {
        f.store
            .write(move |tx| tx.send_message(sender, ConversationId(1), &format!("c{i}"), "x", 100))
            .await
            .expect("sent");
    }
    let general = ConversationId(1);
    // At the limit, a receipt is for every member; one more member and it is not.
    f.published.lock().expect("lock").clear();
    f.store
        .write(move |tx| tx.receipt(carol, general, Some(1), None))
        .await
        .expect("receipt");
    assert_eq!(f.published.lock().expect("lock")[0].audience, None);
    f.store
        .write(|tx| tx.register("oneover", "One Over", "hash"))
        .await
        .expect("registers");
    let before = f.store.read(queries::last_event_id).await.expect("id");
    f.published.lock().expect("lock").clear();
    // Over messages 1 and 2 (alice's and bob's), then over 3 (alice's again).
    for seq in [2, 3] {
        f.store
            .write(move |tx| tx.receipt(reader, general, None, Some(seq)))
            .await
            .expect("receipt");
    }
    let audiences: Vec<Vec<UserId>> = f
        .published
        .lock()
        .expect("lock")
        .iter()
        .map(|e| {
            let mut a = e.audience.clone().expect("an audience");
            a.sort();
            a
        })
        .collect();
    assert_eq!(audiences, [vec![alice, bob, reader], vec![alice, reader]]);
    // Replay applies the same rule.
    let replayed = |user: UserId| {
        f.store
            .read(move |c| queries::events_for_user(c, user, before, 100))
    };
    assert_eq!(replayed(alice).await.expect("replay").len(), 2);
    assert_eq!(replayed(bob).await.expect("replay").len(), 1);
    assert_eq!(replayed(reader).await.expect("replay").len(), 2);
    assert!(replayed(carol).await.expect("replay").is_empty());
    // Everyone's positions stay readable by every member.
    let detail = f
        .store
        .read(move |c| queries::conversation_detail(c, general))
        .await
        .expect("detail");
    let position = detail
        .members
        .iter()
        .find(|m| m.user_id == reader)
        .expect("reader");
    assert_eq!((position.delivered_seq, position.read_seq), (3, 3));
}

#[tokio::test]
async fn reopening_keeps_everything_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("hub.db");
    let noop: chinwag_store::Publisher = Arc::new(|_: &[Committed]| {});
    let store = Store::open(&path, StoreConfig::default(), noop.clone()).expect("opens");
    let hub_id = store.read(queries::hub_id).await.expect("id");
    store
        .write(|tx| tx.register("alice", "Alice", "h"))
        .await
        .expect("registers");
    store.close().await;
    let store = Store::open(&path, StoreConfig::default(), noop).expect("reopens");
    assert_eq!(store.read(queries::hub_id).await.expect("id"), hub_id);
    assert_eq!(store.read(queries::users).await.expect("users").len(), 1);
    assert_eq!(
        store.read(queries::integrity_check).await.expect("check"),
        "ok"
    );
    // A closed store refuses writes with a clear error instead of hanging.
    store.close().await;
    let refused = store.write(|tx| tx.register("bob", "Bob", "h")).await;
    assert!(matches!(refused, Err(StoreError::Closed)));
}

/// Counts the messages in the database file itself, ignoring the WAL (`immutable=1`): what a
/// checkpoint has copied back. Zero until the schema itself is there.
fn messages_in_main_file(path: &std::path::Path) -> i64 {
    let uri = format!("file:{}?immutable=1", path.display());
    let conn = rusqlite::Connection::open_with_flags(
        uri,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
    )
    .expect("opens the main file");
    conn.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap_or(0)
}

#[tokio::test]
async fn checkpoints_run_off_the_writer_and_once_more_on_close() {
    let f = open();
    let path = f.store.path().to_owned();
    let alice = register(&f.store, "alice").await;
    for i in 0..20 {
        f.store
            .write(move |tx| {
                tx.send_message(
                    UserId(alice),
                    ConversationId(1),
                    &format!("c{i}"),
                    "hello",
                    100,
                )
            })
            .await
            .expect("sent");
    }
    // Far fewer pages than SQLite's own automatic checkpoint would wait for: only the
    // checkpoint thread copies these into the main file.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while messages_in_main_file(&path) < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    f.store
        .write(move |tx| tx.send_message(UserId(alice), ConversationId(1), "last", "goodbye", 100))
        .await
        .expect("sent");
    f.store.close().await;
    assert_eq!(messages_in_main_file(&path), 21, "close checkpoints");
}

#[test]
fn an_upgrade_keeps_a_verified_copy_of_the_older_store_before_migrating() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("chinwag.db");
    let known = chinwag_store::schema::migrations_count();
    let kept_copies = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("chinwag.db.before-v{known}-")))
            })
            .collect()
    };
    // A new store, and reopening an up-to-date one, make no copy.
    let noop = || Arc::new(|_: &[Committed]| {});
    let store = Store::open(&path, StoreConfig::default(), noop()).expect("new");
    drop(store);
    let store = Store::open(&path, StoreConfig::default(), noop()).expect("reopened");
    drop(store);
    assert!(kept_copies().is_empty());
    std::fs::remove_file(&path).expect("removed");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("chinwag.db{suffix}")));
    }

    // A store an older Chinwag left at schema 1, with a message in it.
    let mut conn = rusqlite::Connection::open(&path).expect("opens");
    chinwag_store::schema::migrations()
        .to_version(&mut conn, 1)
        .expect("schema 1");
    conn.execute_batch(
        "INSERT INTO users (id, username, display_name, password_hash, is_admin, created_at)
           VALUES (1, 'ada', 'Ada', 'x', 1, 1);
         INSERT INTO conversations (id, kind, name, created_by, created_at, last_seq, last_activity_at)
           VALUES (1, 'general', 'general', 1, 1, 1, 1);
         INSERT INTO messages (id, conversation_id, seq, sender_id, client_id, body, created_at)
           VALUES (1, 1, 1, 1, 'c1', 'from the old days', 1);",
    )
    .expect("old data");
    drop(conn);

    let store = Store::open(&path, StoreConfig::default(), noop()).expect("migrates");
    drop(store);
    let kept = kept_copies();
    assert_eq!(kept.len(), 1, "one copy: {kept:?}");
    let summary = chinwag_store::admin::verify(&kept[0]).expect("the copy verifies");
    assert_eq!((summary.schema_version, summary.messages), (1, 1));
    let migrated = rusqlite::Connection::open(&path).expect("opens");
    let version: i64 = migrated
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, known);
    let body: String = migrated
        .query_row("SELECT body FROM messages WHERE id = 1", [], |r| r.get(0))
        .expect("kept");
    assert_eq!(body, "from the old days");
}

#[test]
fn a_store_from_a_newer_chinwag_is_refused_with_both_versions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hub.db");
    let conn = rusqlite::Connection::open(&path).expect("opens");
    conn.pragma_update(None, "user_version", 99).expect("sets");
    drop(conn);
    let err = Store::open(
        &path,
        StoreConfig::default(),
        Arc::new(|_: &[Committed]| {}),
    )
    .err()
    .expect("refused");
    let text = err.to_string();
    assert!(text.contains("newer Chinwag (schema 99"), "{text}");
    assert!(
        text.contains(&format!(
            "knows up to {}",
            chinwag_store::schema::migrations_count()
        )),
        "{text}"
    );
}

#[tokio::test]
async fn disable_block_mute_and_report_keep_their_rules() {
    let f = open();
    let admin = register(&f.store, "admin").await;
    let bob = register(&f.store, "bob").await;
    // The last admin can be neither disabled nor demoted.
    let err = f
        .store
        .write(move |tx| tx.set_disabled(UserId(admin), true))
        .await
        .expect_err("last admin");
    assert!(err.to_string().contains("last admin"), "{err}");
    let err = f
        .store
        .write(move |tx| tx.set_hub_admin(UserId(admin), false))
        .await
        .expect_err("last admin");
    assert!(err.to_string().contains("last admin"), "{err}");
    // Disabling removes every session; the session no longer finds the user.
    f.store
        .write(move |tx| tx.create_session(UserId(bob), b"bob-session"))
        .await
        .expect("session");
    let user = f
        .store
        .write(move |tx| tx.set_disabled(UserId(bob), true))
        .await
        .expect("disabled");
    assert!(user.disabled);
    let found = f
        .store
        .read(|c| queries::user_for_session(c, b"bob-session", 0))
        .await
        .expect("reads");
    assert!(found.is_none());
    // Blocking: not myself, not nobody; twice is the same as once.
    let err = f
        .store
        .write(move |tx| tx.set_blocked(UserId(bob), UserId(bob), true))
        .await
        .expect_err("self");
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    let err = f
        .store
        .write(move |tx| tx.set_blocked(UserId(bob), UserId(999), true))
        .await
        .expect_err("nobody");
    assert!(matches!(err, StoreError::NotFound("user")), "{err:?}");
    for _ in 0..2 {
        f.store
            .write(move |tx| tx.set_blocked(UserId(admin), UserId(bob), true))
            .await
            .expect("blocks");
    }
    let blocked = f
        .store
        .read(move |c| queries::blocked_by(c, UserId(admin)))
        .await
        .expect("reads");
    assert_eq!(blocked, vec![bob]);
    // Muting a conversation I am not in is not found; reasons with control characters fail.
    let err = f
        .store
        .write(move |tx| tx.set_muted(UserId(admin), ConversationId(424242), true))
        .await
        .expect_err("not a member");
    assert!(
        matches!(err, StoreError::NotFound("conversation")),
        "{err:?}"
    );
    let (message, _) = f
        .store
        .write(move |tx| tx.send_message(UserId(admin), ConversationId(1), "c1", "hello", 1024))
        .await
        .expect("sends");
    let err = f
        .store
        .write(move |tx| tx.report(UserId(admin), message.id, "bad\u{0007}bell"))
        .await
        .expect_err("control character");
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
}

#[tokio::test]
async fn sessions_remember_their_use_and_expire_when_idle() {
    let f = open();
    let alice = register(&f.store, "alice").await;
    let write = |hash: &'static [u8]| {
        let store = f.store.clone();
        async move {
            store
                .write(move |tx| tx.create_session(UserId(alice), hash))
                .await
                .expect("session");
        }
    };
    let found = |hash: &'static [u8], since: i64| {
        let store = f.store.clone();
        async move {
            store
                .read(move |c| queries::user_for_session(c, hash, since))
                .await
                .expect("reads")
        }
    };
    write(b"old").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let between = chinwag_store::now_millis();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    write(b"new").await;

    // A session used before the cut-off is not found; one used after is, with its time.
    assert!(found(b"old", between).await.is_none());
    let (user, used_at) = found(b"new", between).await.expect("new session");
    assert_eq!(user.id, alice);
    assert!(used_at > between);
    assert!(found(b"old", 0).await.is_some(), "0 takes any age");

    // Using it brings it back inside; unknown tokens are skipped.
    f.store
        .write(|tx| tx.touch_sessions(&[b"old".to_vec(), b"nobody".to_vec()]))
        .await
        .expect("touched");
    assert!(found(b"old", between).await.is_some());

    // Expiry deletes exactly the sessions used before the cut-off.
    let expired = f
        .store
        .write(move |tx| tx.expire_sessions(between))
        .await
        .expect("expires");
    assert_eq!(expired, 0);
    let later = chinwag_store::now_millis() + 1;
    let expired = f
        .store
        .write(move |tx| tx.expire_sessions(later))
        .await
        .expect("expires");
    assert_eq!(expired, 2);
    assert!(found(b"new", 0).await.is_none());
}

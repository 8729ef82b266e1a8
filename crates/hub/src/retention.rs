//! Retention: deleting what is older than the admin wants kept.
//!
//! With `retention_days` set, messages older than that many days are deleted with their
//! files and the events that carry their text. Whatever the setting, uploads that were never
//! sent are deleted after [`UNSENT_UPLOAD_DAYS`], and content no file record names any more
//! is removed from `files/`. Runs in bounded batches through the writer, so sends carry on
//! between them.
//!
//! The same hourly pass signs out sessions left idle for over `session_idle_days`: a session
//! with a connection open counts as in use.

use std::sync::Arc;

use chinwag_store::Swept;

use crate::HubState;

/// Uploads never attached to a message are kept this long (a client may send them after an
/// outage), then swept.
pub const UNSENT_UPLOAD_DAYS: i64 = 7;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const BATCH: usize = 1_000;

/// One full retention pass; logs what it removed. Errors are logged and retried next time.
pub async fn run(state: &Arc<HubState>) {
    let now = chinwag_store::now_millis();
    let days = i64::from(state.config.retention_days);
    let messages_before = (days > 0).then(|| now - days * DAY_MS);
    let unsent_before = now - UNSENT_UPLOAD_DAYS * DAY_MS;
    let mut total = Swept::default();
    let mut removed = 0;
    loop {
        // Retention holds the content lock while it decides and removes, so an upload that
        // is placing the same bytes waits (see `Files::content`).
        let guard = state.files.content.write().await;
        let pass = state
            .store
            .write(move |tx| tx.sweep(messages_before, unsent_before, BATCH))
            .await;
        let swept = match pass {
            Ok(swept) => swept,
            Err(err) => {
                tracing::warn!("retention: cannot delete old messages (will retry): {err}");
                break;
            }
        };
        removed += state.files.remove_content(&swept.unreferenced);
        drop(guard);
        let more = swept.messages == BATCH || swept.events == BATCH || swept.files >= BATCH;
        total.messages += swept.messages;
        total.events += swept.events;
        total.files += swept.files;
        if !more {
            break;
        }
        tokio::task::yield_now().await;
    }
    if total.messages + total.files + removed > 0 {
        tracing::info!(
            messages = total.messages,
            events = total.events,
            file_records = total.files,
            files_removed = removed,
            retention_days = days,
            "retention: deleted messages and files older than retention_days"
        );
    }
}

/// Marks the sessions with an open connection as used, then deletes those idle for longer
/// than the hub allows. Errors are logged and retried next time.
pub async fn expire_sessions(state: &Arc<HubState>) {
    if state.config.session_idle_days == 0 {
        return;
    }
    let live = state.fanout.live_sessions();
    let before = state
        .config
        .session_idle_cutoff(chinwag_store::now_millis());
    let pass = state
        .store
        .write(move |tx| {
            tx.touch_sessions(&live)?;
            tx.expire_sessions(before)
        })
        .await;
    match pass {
        Ok(0) => {}
        Ok(expired) => tracing::info!(
            sessions = expired,
            idle_days = state.config.session_idle_days,
            "signed out sessions left idle for longer than session_idle_days"
        ),
        Err(err) => tracing::warn!("cannot expire idle sessions (will retry): {err}"),
    }
}

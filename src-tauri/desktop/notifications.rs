//! Desktop notifications (notify-rust) for what the node hears, one thread per shown notification waiting for its click.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chinwag_node::join::notify::Attention;
use chinwag_node::join::{Joined, Live, NodeApi};
use chinwag_proto::node::OpenFrame;
use chinwag_proto::Event;
use tauri::Manager;

use super::*;

/// Desktop notifications for messages the user is not looking at, following the hub in use.
pub(super) async fn notify_loop(shared: Arc<Shared>, node: Arc<NodeApi>) {
    let mut current = node.watch_current();
    loop {
        let joined = current.borrow_and_update().clone();
        if let Some(joined) = joined {
            let mut live = joined.subscribe();
            let mut settings = joined.watch_notify_settings();
            update_mute_item(&shared, &settings.borrow_and_update());
            loop {
                tokio::select! {
                    changed = current.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        break;
                    }
                    Ok(()) = settings.changed() => {
                        update_mute_item(&shared, &settings.borrow_and_update());
                    }
                    received = live.recv() => match received {
                        Ok(Live::Event { text, .. }) => {
                            notify_about(&shared, &node, &joined, &text).await;
                        }
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    },
                }
            }
        } else if current.changed().await.is_err() {
            return;
        }
    }
}

pub(super) async fn notify_about(
    shared: &Arc<Shared>,
    node: &NodeApi,
    joined: &Arc<Joined>,
    text: &str,
) {
    let Ok(frame) = serde_json::from_str::<chinwag_proto::EventFrame>(text) else {
        return;
    };
    let Event::MessageNew { message } = frame.event else {
        return;
    };
    let view = node.view();
    // The page reports whether it has focus; a window hidden in the tray has none.
    let visible = shared
        .app
        .get()
        .and_then(|a| a.get_webview_window("main"))
        .and_then(|w| w.is_visible().ok())
        .unwrap_or(false);
    let attention = Attention {
        conversation: view.conversation_id,
        focused: view.focused && visible,
    };
    let Some(notice) = joined.notice(&message, attention).await else {
        return;
    };
    let shared = shared.clone();
    let joined = joined.clone();
    // notify-rust blocks while it waits for a click; each notification gets a thread.
    let sent = std::thread::Builder::new()
        .name("notification".into())
        .spawn(move || show_notification(&shared, &joined, &notice));
    if let Err(err) = sent {
        if !NOTIFY_WARNED.swap(true, Ordering::Relaxed) {
            tracing::warn!("cannot show notifications: {err}");
        }
    }
}

pub(super) static NOTIFY_WARNED: AtomicBool = AtomicBool::new(false);

pub(super) fn show_notification(
    shared: &Arc<Shared>,
    joined: &Arc<Joined>,
    notice: &chinwag_node::join::notify::Notice,
) {
    let shown = notify_rust::Notification::new()
        .appname("Chinwag")
        .summary(&notice.summary)
        .body(&notice.body)
        .icon("mail-message-new")
        .hint(notify_rust::Hint::Category("im.received".into()))
        .action("default", "Open")
        .show();
    match shown {
        Ok(handle) => handle.wait_for_action(|action| {
            if action == "default" {
                show_window(shared);
                joined.announce(&OpenFrame {
                    conversation_id: notice.conversation_id,
                });
            }
        }),
        Err(err) => {
            if !NOTIFY_WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!("desktop notifications are not available here ({err}); carrying on without them");
            }
        }
    }
}

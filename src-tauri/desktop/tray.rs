//! The tray icon (unread count, mute, quit) and the window menu (Switch hub, About).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chinwag_node::join::notify::{NotifyChange, NotifySettings};
use chinwag_node::join::NodeApi;
use chinwag_store::now_millis;
use tauri::menu::{AboutMetadata, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::{AppHandle, Manager};

use super::*;

/// The tray's "mute" item says what clicking it will do.
pub(super) fn update_mute_item(shared: &Shared, settings: &NotifySettings) {
    if let Some(item) = shared.mute_item.get() {
        let text = if settings.muted_at(now_millis()) {
            "Unmute notifications"
        } else {
            "Mute notifications for 1 hour"
        };
        let _ = item.set_text(text);
    }
}

pub(super) fn toggle_mute(shared: &Shared) {
    let Some(joined) = shared.node.get().and_then(|n| n.current()) else {
        return;
    };
    let now = now_millis();
    let until = if joined.notify_settings().muted_at(now) {
        None
    } else {
        Some(now + 3_600_000)
    };
    let change = NotifyChange {
        muted_until: Some(until),
        ..NotifyChange::default()
    };
    if let Err(err) = joined.change_notify_settings(change) {
        tracing::warn!("cannot change the notification settings: {}", err.message);
    }
}

/// The tray follows the page's unread count.
pub(super) async fn tray_loop(shared: Arc<Shared>, node: Arc<NodeApi>) {
    let mut view = node.watch_view();
    loop {
        let unread = view.borrow_and_update().unread;
        update_tray(&shared, unread);
        if view.changed().await.is_err() {
            return;
        }
    }
}

pub(super) fn update_tray(shared: &Shared, unread: u32) {
    let Some(app) = shared.app.get() else {
        return;
    };
    if let Some(tray) = app.tray_by_id("main") {
        let tip = match unread {
            0 => "Chinwag".to_owned(),
            1 => "Chinwag: 1 unread message".to_owned(),
            n => format!("Chinwag: {n} unread messages"),
        };
        let _ = tray.set_tooltip(Some(&tip));
        let _ = tray.set_title(match unread {
            0 => None,
            1..=999 => Some(unread.to_string()),
            _ => Some("999+".to_owned()),
        });
    }
}

/// The window's menu: the hub in use, switching hubs, About and Quit.
pub(super) fn window_menu(app: &AppHandle, shared: &Shared) -> tauri::Result<Menu<tauri::Wry>> {
    let current = shared.node.get().and_then(|n| n.current());
    let hosting = lock(&shared.hosted).is_some();
    let comments = match &current {
        Some(j) => about_text(
            j.hub_name().as_deref(),
            &j.hub_addresses(),
            hosting,
            &shared.data_dir,
        ),
        None => about_text(None, &[], false, &shared.data_dir),
    };
    let about = AboutMetadata {
        name: Some("Chinwag".into()),
        version: Some(env!("CARGO_PKG_VERSION").into()),
        comments: Some(comments),
        license: Some("MIT OR Apache-2.0".into()),
        icon: app.default_window_icon().cloned(),
        ..AboutMetadata::default()
    };
    let switch = MenuItem::with_id(
        app,
        "switch",
        "Switch hub…",
        current.is_some(),
        None::<&str>,
    )?;
    let close = MenuItem::with_id(app, "close", "Close window", true, Some("CmdOrCtrl+W"))?;
    let quit = MenuItem::with_id(app, "quit", "Quit Chinwag", true, Some("CmdOrCtrl+Q"))?;
    let chinwag = Submenu::with_items(
        app,
        "Chinwag",
        true,
        &[&switch, &PredefinedMenuItem::separator(app)?, &close, &quit],
    )?;
    let help = Submenu::with_items(
        app,
        "Help",
        true,
        &[&PredefinedMenuItem::about(
            app,
            Some("About Chinwag"),
            Some(about),
        )?],
    )?;
    Menu::with_items(app, &[&chinwag, &help])
}

/// About's text: the hub by name and by the addresses colleagues open (its LAN addresses,
/// not the loopback one this app talks to), whether it is hosted here, and the data folder.
fn about_text(
    name: Option<&str>,
    addresses: &[String],
    hosting: bool,
    data: &std::path::Path,
) -> String {
    let hub = match (name, addresses.is_empty()) {
        (None, _) => "none chosen yet".to_owned(),
        (Some(name), true) => name.to_owned(),
        (Some(name), false) => format!("{name}, at {}", addresses.join(" or ")),
    };
    format!(
        "A LAN messenger in one program.\n\nHub: {hub}{}\nData: {}",
        if hosting { " (hosted here)" } else { "" },
        data.display()
    )
}

/// Rebuilds the window menu when the hub in use changes (About names it).
pub(super) async fn menu_loop(shared: Arc<Shared>, node: Arc<NodeApi>) {
    let mut current = node.watch_current();
    while current.changed().await.is_ok() {
        let Some(app) = shared.app.get() else {
            continue;
        };
        if let Some(window) = app.get_webview_window("main") {
            match window_menu(app, &shared) {
                Ok(menu) => {
                    let _ = window.set_menu(menu);
                }
                Err(err) => tracing::warn!("cannot rebuild the menu: {err}"),
            }
        }
    }
}

pub(super) fn menu_event(app: &AppHandle, shared: &Arc<Shared>, id: &str) {
    match id {
        "open" => show_window(shared),
        "mute" => toggle_mute(shared),
        "switch" => {
            if let Some(node) = shared.node.get() {
                node.set_switching(true);
            }
            show_window(shared);
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.eval("location.assign('/')");
            }
        }
        "close" => {
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.close();
            }
        }
        "quit" => quit(app, shared),
        _ => {}
    }
}

/// Quits for real (menu, tray, SIGTERM): keeps the window's place, then ends the event loop;
/// `run` then stops the node and the hosted hub.
pub(super) fn quit(app: &AppHandle, shared: &Shared) {
    shared.quitting.store(true, Ordering::Relaxed);
    if let Some(window) = app.get_webview_window("main") {
        save_placement(&placement_path(&shared.data_dir), &window.as_ref().window());
    }
    app.exit(0);
}

#[cfg(test)]
mod tests {
    use super::about_text;
    use std::path::Path;

    #[test]
    fn about_names_the_lan_addresses_not_loopback() {
        let lan = ["http://192.168.1.20:7117/".to_owned()];
        let text = about_text(Some("Office"), &lan, true, Path::new("/data"));
        assert!(
            text.contains("Hub: Office, at http://192.168.1.20:7117/ (hosted here)"),
            "{text}"
        );
        assert!(!text.contains("127.0.0.1"), "{text}");
        let none = about_text(None, &[], false, Path::new("/data"));
        assert!(none.contains("Hub: none chosen yet\n"), "{none}");
    }
}

//! The desktop app: `chinwag` with no arguments.
//!
//! One process holds a tokio runtime shared with Tauri, a local node on `127.0.0.1:<random>`
//! guarded by a per-launch secret (only this window gets the cookie), and, when hosting, the
//! hub itself. The window shows the start screen until a hub is chosen (host here, a hub
//! discovered on the LAN, or an address); the choice is remembered in `desktop.json` and the
//! next launch goes straight to the chat. Closing the window keeps the app in the tray, still
//! connected and notifying; Quit stops everything (with the mDNS goodbye when hosting). A
//! second launch on the same data directory focuses the running window.

mod hosting;
mod notifications;
mod single_instance;
mod tray;
mod window;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chinwag_node::join::{self, Choice, Chooser, Directory, HubAddress, NodeApi};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder, WindowEvent};
use tokio::sync::oneshot;

use hosting::*;
use notifications::*;
use single_instance::*;
use tray::*;
use window::*;

struct Shared {
    data_dir: PathBuf,
    hosted: Mutex<Option<Hosted>>,
    node: OnceLock<Arc<NodeApi>>,
    app: OnceLock<AppHandle>,
    /// The tray menu's "mute" item, whose text follows the settings.
    mute_item: OnceLock<MenuItem<tauri::Wry>>,
    quitting: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn run(data_dir: Option<PathBuf>, browse_loopback: bool) -> ExitCode {
    let data_dir = match data_dir
        .map(Ok)
        .unwrap_or_else(chinwag_node::default_data_dir)
    {
        Ok(dir) => dir,
        Err(err) => {
            eprintln!("chinwag: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(err) = chinwag_node::prepare_data_dir(&data_dir) {
        eprintln!("chinwag: {err:#}");
        return ExitCode::FAILURE;
    }
    let instance = match single_instance(&data_dir) {
        Ok(Some(listener)) => listener,
        Ok(None) => {
            println!("Chinwag is already running; showing its window.");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("chinwag: {err}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match crate::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    tauri::async_runtime::set(runtime.handle().clone());

    let shared = Arc::new(Shared {
        data_dir: data_dir.clone(),
        hosted: Mutex::new(None),
        node: OnceLock::new(),
        app: OnceLock::new(),
        mute_item: OnceLock::new(),
        quitting: AtomicBool::new(false),
    });
    listen_for_others(instance, shared.clone());

    // The local node: start screen until a hub is chosen; the remembered choice first.
    let started = runtime.block_on(async {
        let directory = Directory::new(Vec::new());
        if let Ok(browser) = chinwag_discovery::Browser::start(chinwag_discovery::Options {
            include_loopback: browse_loopback,
        }) {
            directory.browse(browser);
        }
        let initial = match load_remembered(&data_dir) {
            Some(Remembered::Host { name }) => {
                carry_out(shared.clone(), Choice::Host { name: Some(name) })
                    .await
                    .ok()
            }
            Some(Remembered::Join { address }) => {
                // Reopen without checking: the hub may be away, and the outbox works offline.
                match HubAddress::parse(&address) {
                    Ok(parsed) => open_joined(&shared, &parsed).await.ok(),
                    Err(_) => None,
                }
            }
            None => None,
        };
        let chooser: Chooser = {
            let shared = shared.clone();
            Arc::new(move |choice| Box::pin(carry_out(shared.clone(), choice)))
        };
        // As unguessable as a session token.
        let key = chinwag_hub::auth::new_token();
        let node = NodeApi::desktop(initial, directory, key.clone(), chooser);
        // A stable port keeps the page's origin, and so its stored sign-in, across launches.
        let listener =
            match chinwag_node::bind(([127, 0, 0, 1], join::DEFAULT_LOCAL_PORT).into()).await {
                Ok(l) => l,
                Err(_) => chinwag_node::bind(([127, 0, 0, 1], 0).into()).await?,
            };
        let addr = listener.local_addr()?;
        let (stop, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(join::serve_node(listener, node.clone(), async move {
            let _ = rx.await;
        }));
        anyhow::Ok((node, format!("http://{addr}/?launch={key}"), stop, task))
    });
    let (node, url, stop_node, node_task) = match started {
        Ok(parts) => parts,
        Err(err) => {
            eprintln!("chinwag: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    let _ = shared.node.set(node.clone());
    runtime.spawn(notify_loop(shared.clone(), node.clone()));
    runtime.spawn(tray_loop(shared.clone(), node.clone()));
    runtime.spawn(menu_loop(shared.clone(), node));
    let window_file = placement_path(&data_dir);
    let placement = load_placement(&window_file);

    let setup_shared = shared.clone();
    let app = tauri::Builder::default()
        .setup(move |app| {
            let shared = setup_shared.clone();
            let _ = shared.app.set(app.handle().clone());
            let url = url.parse().map_err(|e| format!("bad local URL: {e}"))?;
            let menu = window_menu(app.handle(), &shared)?;
            let mut window = WebviewWindowBuilder::new(app, "main", WebviewUrl::External(url))
                .title("Chinwag")
                .menu(menu)
                .inner_size(placement.width, placement.height)
                .min_inner_size(360.0, 480.0)
                .maximized(placement.maximized)
                // Files dropped on the window go to the page (HTML5 drag and drop), which
                // uploads them; Tauri's own handler would swallow the drop.
                .disable_drag_drop_handler();
            if let (Some(x), Some(y)) = (placement.x, placement.y) {
                window = window.position(x, y);
            }
            let window = window.build()?;
            #[cfg(target_os = "linux")]
            one_page_cache(&window);

            let open = MenuItem::with_id(app, "open", "Open Chinwag", true, None::<&str>)?;
            let mute = MenuItem::with_id(
                app,
                "mute",
                "Mute notifications for 1 hour",
                true,
                None::<&str>,
            )?;
            let _ = shared.mute_item.set(mute.clone());
            let quit_item = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
            let separator = PredefinedMenuItem::separator(app)?;
            let menu = Menu::with_items(app, &[&open, &mute, &separator, &quit_item])?;
            let mut tray = TrayIconBuilder::with_id("main")
                .tooltip("Chinwag")
                .menu(&menu)
                .on_menu_event({
                    let shared = shared.clone();
                    move |app, event| menu_event(app, &shared, event.id().as_ref())
                });
            if let Some(icon) = app.default_window_icon() {
                tray = tray.icon(icon.clone());
            }
            if let Err(err) = tray.build(app) {
                // No tray on this desktop: closing the window then quits.
                tracing::warn!("no tray icon: {err}");
            }
            // SIGTERM (logout, systemd, kill) and Ctrl-C quit as the menu does.
            let handle = app.handle().clone();
            let quitting = shared.clone();
            tauri::async_runtime::spawn(async move {
                chinwag_node::shutdown_signal().await;
                quit(&handle, &quitting);
            });
            Ok(())
        })
        .on_menu_event({
            let shared = shared.clone();
            move |app, event| menu_event(app, &shared, event.id().as_ref())
        })
        .on_window_event({
            let shared = shared.clone();
            let window_file_for_events = window_file.clone();
            move |window, event| {
                if let WindowEvent::CloseRequested { api, .. } = event {
                    let has_tray = window.app_handle().tray_by_id("main").is_some();
                    save_placement(&window_file_for_events, window);
                    if has_tray && !shared.quitting.load(Ordering::Relaxed) {
                        // Close to the tray: still connected, still notified.
                        api.prevent_close();
                        let _ = window.hide();
                    }
                }
            }
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(err) => {
            eprintln!("chinwag: cannot open the window: {err}");
            return ExitCode::FAILURE;
        }
    };
    let _ = app.run_return(|_, _| {});

    // Quit: close the node's link, then the hub (commits writes, says goodbye on the LAN).
    runtime.block_on(async {
        let _ = stop_node.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), node_task).await;
        stop_hosting(&shared).await;
    });
    let _ = std::fs::remove_file(data_dir.join("desktop.sock"));
    ExitCode::SUCCESS
}

/// The window shows one page for its whole life, so WebKit's default cache model (a page
/// cache for going back and forth, memory caches sized for browsing) would only hold memory.
#[cfg(target_os = "linux")]
fn one_page_cache(window: &tauri::WebviewWindow) {
    let _ = window.with_webview(|webview| {
        use webkit2gtk::{CacheModel, WebContextExt, WebViewExt};
        if let Some(context) = webview.inner().context() {
            context.set_cache_model(CacheModel::DocumentViewer);
        }
    });
}

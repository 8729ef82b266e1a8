//! The desktop app: `chinwag` with no arguments.
//!
//! One process holds a tokio runtime shared with Tauri, a local node on `127.0.0.1:<random>`
//! guarded by a per-launch secret (only this window gets the cookie), and, when hosting, the
//! hub itself. The window shows the start screen until a hub is chosen (host here, a hub
//! discovered on the LAN, or an address); the choice is remembered in `desktop.json` and the
//! next launch goes straight to the chat. Closing the window keeps the app in the tray, still
//! connected and notifying; Quit stops everything (with the mDNS goodbye when hosting). A
//! second launch on the same data directory focuses the running window.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chinwag_node::join::notify::{Attention, NotifyChange, NotifySettings};
use chinwag_node::join::{self, Choice, Chooser, Directory, HubAddress, Joined, Live, NodeApi};
use chinwag_node::{Mdns, ServerOptions, DEFAULT_PORT};
use chinwag_proto::ApiError;
use chinwag_proto::{ErrorCode, Event};
use chinwag_store::now_millis;
use serde::{Deserialize, Serialize};
use tauri::menu::{AboutMetadata, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder, WindowEvent};
use tokio::sync::oneshot;

/// What the start screen chose, remembered for the next launch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "mode", rename_all = "snake_case")]
enum Remembered {
    Host { name: String },
    Join { address: String },
}

/// A hub this app hosts: stopping it commits every write and says goodbye on the LAN.
struct Hosted {
    address: HubAddress,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    advertiser: Option<chinwag_discovery::Advertiser>,
}

struct Shared {
    data_dir: PathBuf,
    hosted: Mutex<Option<Hosted>>,
    node: OnceLock<Arc<NodeApi>>,
    app: OnceLock<AppHandle>,
    /// The tray menu's "mute" item, whose text follows the settings.
    mute_item: OnceLock<MenuItem<tauri::Wry>>,
    quitting: AtomicBool,
}

fn remembered_path(dir: &Path) -> PathBuf {
    dir.join("desktop.json")
}

fn load_remembered(dir: &Path) -> Option<Remembered> {
    let raw = std::fs::read(remembered_path(dir)).ok()?;
    serde_json::from_slice(&raw).ok()
}

fn save_remembered(dir: &Path, choice: &Remembered) {
    write_json(&remembered_path(dir), choice);
}

/// Where the window was, remembered across launches (logical pixels).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
struct Placement {
    width: f64,
    height: f64,
    x: Option<f64>,
    y: Option<f64>,
    maximized: bool,
}

impl Default for Placement {
    fn default() -> Self {
        Placement {
            width: 1100.0,
            height: 720.0,
            x: None,
            y: None,
            maximized: false,
        }
    }
}

impl Placement {
    /// A hand-edited or corrupt file cannot put the window out of reach.
    fn sane(self) -> Placement {
        let within = |v: f64, lo: f64, hi: f64| v.is_finite() && (lo..=hi).contains(&v);
        if !within(self.width, 360.0, 16_384.0) || !within(self.height, 480.0, 16_384.0) {
            return Placement::default();
        }
        let on_screen = |v: Option<f64>| v.is_some_and(|v| within(v, -1_000.0, 16_384.0));
        if on_screen(self.x) && on_screen(self.y) {
            self
        } else {
            Placement {
                x: None,
                y: None,
                ..self
            }
        }
    }
}

fn load_placement(path: &Path) -> Placement {
    std::fs::read(path)
        .ok()
        .and_then(|raw| serde_json::from_slice::<Placement>(&raw).ok())
        .map(Placement::sane)
        .unwrap_or_default()
}

fn save_placement(path: &Path, window: &tauri::Window) {
    let placement = (|| -> tauri::Result<Placement> {
        let scale = window.scale_factor()?;
        let maximized = window.is_maximized()?;
        let size = window.inner_size()?.to_logical::<f64>(scale);
        let position = window.outer_position()?.to_logical::<f64>(scale);
        Ok(Placement {
            width: size.width,
            height: size.height,
            x: Some(position.x),
            y: Some(position.y),
            maximized,
        })
    })();
    let Ok(placement) = placement else {
        return;
    };
    // A maximized window keeps the size it had before, where it is known.
    let placement = if placement.maximized {
        Placement {
            maximized: true,
            ..load_placement(path)
        }
    } else {
        placement.sane()
    };
    write_json(path, &placement);
}

fn write_json<T: Serialize>(path: &Path, value: &T) {
    let tmp = path.with_extension("json.tmp");
    let written = serde_json::to_vec_pretty(value)
        .map_err(std::io::Error::other)
        .and_then(|raw| std::fs::write(&tmp, raw))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(err) = written {
        tracing::warn!("cannot write {}: {err}", path.display());
    }
}

fn unavailable(message: String) -> ApiError {
    ApiError::new(ErrorCode::Unavailable, message)
}

/// Starts a hub here (port 7117, or any free port if taken) and returns its local address.
async fn host(shared: &Shared, name: &str) -> Result<HubAddress, ApiError> {
    if let Some(hosted) = lock(&shared.hosted).as_ref() {
        return Ok(hosted.address.clone());
    }
    let mut options = ServerOptions {
        bind: ([0, 0, 0, 0], DEFAULT_PORT).into(),
        data_dir: Some(shared.data_dir.join("hub")),
        mdns: Mdns::On,
        ..ServerOptions::default()
    };
    options.hub.name = name.to_owned();
    let prepared = match chinwag_node::prepare(options.clone()).await {
        Ok(p) => p,
        Err(first) => {
            tracing::warn!("{first:#}; hosting on another port");
            options.bind = ([0, 0, 0, 0], 0).into();
            chinwag_node::prepare(options)
                .await
                .map_err(|err| unavailable(format!("Cannot host a chat here: {err:#}")))?
        }
    };
    let port = prepared.addr.port();
    let advertiser = chinwag_node::advertise(&prepared, Mdns::On);
    let (stop, rx) = oneshot::channel::<()>();
    let guard = prepared.guard;
    let task = tokio::spawn(async move {
        chinwag_hub::serve(prepared.listener, prepared.hub, async move {
            let _ = rx.await;
        })
        .await;
        // The data directory is free again once the hub has stopped.
        drop(guard);
    });
    let address = HubAddress::parse(&format!("127.0.0.1:{port}")).map_err(unavailable)?;
    *lock(&shared.hosted) = Some(Hosted {
        address: address.clone(),
        stop,
        task,
        advertiser,
    });
    Ok(address)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Stops the hosted hub, if any: commits its writes and says goodbye on the LAN.
async fn stop_hosting(shared: &Shared) {
    let hosted = lock(&shared.hosted).take();
    if let Some(hosted) = hosted {
        let _ = hosted.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), hosted.task).await;
        if let Some(ad) = hosted.advertiser {
            let _ = tokio::task::spawn_blocking(move || ad.stop()).await;
        }
    }
}

async fn open_joined(shared: &Shared, address: &HubAddress) -> Result<Arc<Joined>, ApiError> {
    let store = join::open_store(&shared.data_dir, address)
        .map_err(|err| unavailable(format!("{err:#}")))?;
    Ok(Joined::open(store, address.clone()).await)
}

/// Carries out a choice (from the start screen, or remembered).
async fn carry_out(shared: Arc<Shared>, choice: Choice) -> Result<Arc<Joined>, ApiError> {
    let (address, remembered) = match choice {
        Choice::Host { name } => {
            let name = name
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(default_hub_name);
            if name.chars().count() > 64 {
                return Err(ApiError::new(
                    ErrorCode::InvalidField,
                    "The name of the chat is at most 64 characters.",
                ));
            }
            let address = host(&shared, &name).await?;
            (address, Remembered::Host { name })
        }
        Choice::Join { address } => {
            let parsed = HubAddress::parse(&address).map_err(|why| {
                ApiError::new(ErrorCode::InvalidField, format!("address: {why}."))
            })?;
            let info = join::verify(&reqwest_client(), &parsed).await?;
            // The hub hosted here, seen under its LAN address: keep using it as it is. (The
            // hub in use under the same address never gets here: the node keeps it.)
            let current = shared.node.get().and_then(|n| n.current());
            if let Some(current) = current.filter(|c| {
                lock(&shared.hosted).is_some() && c.hub_id().as_deref() == Some(info.id.as_str())
            }) {
                return Ok(current);
            }
            let remembered = Remembered::Join {
                address: parsed.to_string(),
            };
            (parsed, remembered)
        }
    };
    // Switching back to the hub in use keeps it (its state is open, and stays so).
    let current = shared.node.get().and_then(|n| n.current());
    let joined = match current {
        Some(current) if current.hub() == &address => current,
        _ => open_joined(&shared, &address).await?,
    };
    if !matches!(remembered, Remembered::Host { .. }) {
        // Joined elsewhere: the hub hosted here, if any, stops for everyone.
        stop_hosting(&shared).await;
    }
    save_remembered(&shared.data_dir, &remembered);
    Ok(joined)
}

fn reqwest_client() -> reqwest::Client {
    reqwest::Client::new()
}

fn default_hub_name() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty() && u != "root")
        .map(|u| format!("{u}'s chat"))
        .unwrap_or_else(|| "Office chat".into())
}

/// Desktop notifications for messages the user is not looking at, following the hub in use.
async fn notify_loop(shared: Arc<Shared>, node: Arc<NodeApi>) {
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

async fn notify_about(shared: &Arc<Shared>, node: &NodeApi, joined: &Arc<Joined>, text: &str) {
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

static NOTIFY_WARNED: AtomicBool = AtomicBool::new(false);

fn show_notification(
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
                joined.announce(serde_json::json!({
                    "type": "open",
                    "conversation_id": notice.conversation_id,
                }));
            }
        }),
        Err(err) => {
            if !NOTIFY_WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!("desktop notifications are not available here ({err}); carrying on without them");
            }
        }
    }
}

/// The tray's "mute" item says what clicking it will do.
fn update_mute_item(shared: &Shared, settings: &NotifySettings) {
    if let Some(item) = shared.mute_item.get() {
        let text = if settings.muted_at(now_millis()) {
            "Unmute notifications"
        } else {
            "Mute notifications for 1 hour"
        };
        let _ = item.set_text(text);
    }
}

fn toggle_mute(shared: &Shared) {
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
async fn tray_loop(shared: Arc<Shared>, node: Arc<NodeApi>) {
    let mut view = node.watch_view();
    loop {
        let unread = view.borrow_and_update().unread;
        update_tray(&shared, unread);
        if view.changed().await.is_err() {
            return;
        }
    }
}

/// The window's menu: the hub in use, switching hubs, About and Quit.
fn window_menu(app: &AppHandle, shared: &Shared) -> tauri::Result<Menu<tauri::Wry>> {
    let current = shared.node.get().and_then(|n| n.current());
    let hub = match &current {
        Some(j) => match j.hub_name() {
            Some(name) => format!("{name} ({})", j.hub()),
            None => j.hub().to_string(),
        },
        None => "none chosen yet".into(),
    };
    let hosting = lock(&shared.hosted).is_some();
    let about = AboutMetadata {
        name: Some("Chinwag".into()),
        version: Some(env!("CARGO_PKG_VERSION").into()),
        comments: Some(format!(
            "A LAN messenger in one program.\n\nHub: {hub}{}\nData: {}",
            if hosting { ", hosted here" } else { "" },
            shared.data_dir.display()
        )),
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

/// Rebuilds the window menu when the hub in use changes (About names it).
async fn menu_loop(shared: Arc<Shared>, node: Arc<NodeApi>) {
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

fn menu_event(app: &AppHandle, shared: &Arc<Shared>, id: &str) {
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
fn quit(app: &AppHandle, shared: &Shared) {
    shared.quitting.store(true, Ordering::Relaxed);
    if let Some(window) = app.get_webview_window("main") {
        save_placement(&placement_path(&shared.data_dir), &window.as_ref().window());
    }
    app.exit(0);
}

fn placement_path(dir: &Path) -> PathBuf {
    dir.join("window.json")
}

fn update_tray(shared: &Shared, unread: u32) {
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

fn show_window(shared: &Shared) {
    if let Some(window) = shared.app.get().and_then(|a| a.get_webview_window("main")) {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// A second launch on the same data directory asks the first to show its window.
fn single_instance(dir: &Path) -> Result<Option<UnixListener>, String> {
    let path = dir.join("desktop.sock");
    if let Ok(mut stream) = UnixStream::connect(&path) {
        let _ = stream.write_all(b"focus\n");
        return Ok(None);
    }
    let _ = std::fs::remove_file(&path);
    UnixListener::bind(&path)
        .map(Some)
        .map_err(|err| format!("cannot create {}: {err}", path.display()))
}

fn listen_for_others(listener: UnixListener, shared: Arc<Shared>) {
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut line = String::new();
            let _ = BufReader::new(stream).read_line(&mut line);
            if line.trim() == "focus" {
                show_window(&shared);
            }
        }
    });
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
            window.build()?;

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

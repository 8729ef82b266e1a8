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
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chinwag_hub::error::ApiError;
use chinwag_node::join::{self, Choice, Chooser, Directory, HubAddress, Joined, Live, NodeApi};
use chinwag_node::{Mdns, ServerOptions, DEFAULT_PORT};
use chinwag_proto::{ErrorCode, Event};
use serde::{Deserialize, Serialize};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
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
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    advertiser: Option<chinwag_discovery::Advertiser>,
}

struct Shared {
    data_dir: PathBuf,
    hosted: Mutex<Option<Hosted>>,
    node: OnceLock<Arc<NodeApi>>,
    app: OnceLock<AppHandle>,
    /// Notifications are off until this time (ms since the epoch): "mute for 1 hour".
    muted_until: AtomicI64,
    /// Messages notified since the window last had focus (the tray shows it).
    unseen: AtomicU32,
    quitting: AtomicBool,
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn remembered_path(dir: &Path) -> PathBuf {
    dir.join("desktop.json")
}

fn load_remembered(dir: &Path) -> Option<Remembered> {
    let raw = std::fs::read(remembered_path(dir)).ok()?;
    serde_json::from_slice(&raw).ok()
}

fn save_remembered(dir: &Path, choice: &Remembered) {
    let path = remembered_path(dir);
    let tmp = path.with_extension("json.tmp");
    let written = serde_json::to_vec_pretty(choice)
        .map_err(std::io::Error::other)
        .and_then(|raw| std::fs::write(&tmp, raw))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(err) = written {
        tracing::warn!("cannot remember the choice in {}: {err}", path.display());
    }
}

fn unavailable(message: String) -> ApiError {
    ApiError::new(ErrorCode::Unavailable, message)
}

/// Starts a hub here (port 7117, or any free port if taken) and returns its local address.
async fn host(shared: &Shared, name: &str) -> Result<HubAddress, ApiError> {
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
    let task = tokio::spawn(chinwag_hub::serve(
        prepared.listener,
        prepared.hub,
        async move {
            let _ = rx.await;
        },
    ));
    *shared.hosted.lock().unwrap_or_else(|p| p.into_inner()) = Some(Hosted {
        stop,
        task,
        advertiser,
    });
    HubAddress::parse(&format!("127.0.0.1:{port}")).map_err(unavailable)
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
            join::verify(&reqwest_client(), &parsed).await?;
            let remembered = Remembered::Join {
                address: parsed.to_string(),
            };
            (parsed, remembered)
        }
    };
    let joined = open_joined(&shared, &address).await?;
    save_remembered(&shared.data_dir, &remembered);
    tokio::spawn(notify_loop(shared.clone(), joined.clone()));
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

/// Desktop notifications for messages the user is not looking at.
async fn notify_loop(shared: Arc<Shared>, joined: Arc<Joined>) {
    let mut live = joined.subscribe();
    loop {
        let text = match live.recv().await {
            Ok(Live::Event { text, .. }) => text,
            Ok(_) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let Ok(frame) = serde_json::from_str::<chinwag_proto::EventFrame>(&text) else {
            continue;
        };
        let Event::MessageNew { message } = frame.event else {
            continue;
        };
        if Some(message.sender_id) == joined.user_id() {
            continue;
        }
        let (viewing, focused) = shared
            .node
            .get()
            .map(|n| n.viewing())
            .unwrap_or((None, false));
        let window_focused = focused
            && shared
                .app
                .get()
                .and_then(|a| a.get_webview_window("main"))
                .and_then(|w| w.is_focused().ok())
                .unwrap_or(false);
        if window_focused && viewing == Some(message.conversation_id) {
            continue;
        }
        if now_millis() < shared.muted_until.load(Ordering::Relaxed) {
            continue;
        }
        let unseen = shared.unseen.fetch_add(1, Ordering::Relaxed) + 1;
        update_tray(&shared, unseen);
        let (sender, conversation) = joined.names(message.sender_id, message.conversation_id);
        let summary = match conversation {
            Some(name) => format!("{sender} in {name}"),
            None => sender,
        };
        let preview: String = message.body.chars().take(140).collect();
        let shared = shared.clone();
        let joined = joined.clone();
        let conversation_id = message.conversation_id;
        // notify-rust blocks while it waits for a click; each notification gets a thread.
        let sent = std::thread::Builder::new()
            .name("notification".into())
            .spawn(move || {
                show_notification(&shared, &joined, &summary, &preview, conversation_id)
            });
        if let Err(err) = sent {
            if !NOTIFY_WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!("cannot show notifications: {err}");
            }
        }
    }
}

static NOTIFY_WARNED: AtomicBool = AtomicBool::new(false);

fn show_notification(
    shared: &Arc<Shared>,
    joined: &Arc<Joined>,
    summary: &str,
    body: &str,
    conversation_id: i64,
) {
    let shown = notify_rust::Notification::new()
        .appname("Chinwag")
        .summary(summary)
        .body(body)
        .icon("mail-message-new")
        .action("default", "Open")
        .show();
    match shown {
        Ok(handle) => handle.wait_for_action(|action| {
            if action == "default" {
                show_window(shared);
                joined.announce(serde_json::json!({
                    "type": "open",
                    "conversation_id": conversation_id,
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

fn update_tray(shared: &Shared, unseen: u32) {
    let Some(app) = shared.app.get() else {
        return;
    };
    if let Some(tray) = app.tray_by_id("main") {
        let tip = match unseen {
            0 => "Chinwag".to_owned(),
            1 => "Chinwag: 1 new message".to_owned(),
            n => format!("Chinwag: {n} new messages"),
        };
        let _ = tray.set_tooltip(Some(&tip));
        let _ = tray.set_title(if unseen > 0 {
            Some(unseen.to_string())
        } else {
            None
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
        muted_until: AtomicI64::new(0),
        unseen: AtomicU32::new(0),
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
                    Ok(parsed) => match open_joined(&shared, &parsed).await {
                        Ok(joined) => {
                            tokio::spawn(notify_loop(shared.clone(), joined.clone()));
                            Some(joined)
                        }
                        Err(_) => None,
                    },
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
    let _ = shared.node.set(node);

    let setup_shared = shared.clone();
    let app = tauri::Builder::default()
        .setup(move |app| {
            let shared = setup_shared.clone();
            let _ = shared.app.set(app.handle().clone());
            let url = url.parse().map_err(|e| format!("bad local URL: {e}"))?;
            WebviewWindowBuilder::new(app, "main", WebviewUrl::External(url))
                .title("Chinwag")
                .inner_size(1100.0, 720.0)
                .min_inner_size(360.0, 480.0)
                .build()?;

            let open = MenuItem::with_id(app, "open", "Open Chinwag", true, None::<&str>)?;
            let mute = MenuItem::with_id(
                app,
                "mute",
                "Mute notifications for 1 hour",
                true,
                None::<&str>,
            )?;
            let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
            let separator = PredefinedMenuItem::separator(app)?;
            let menu = Menu::with_items(app, &[&open, &mute, &separator, &quit])?;
            let mut tray = TrayIconBuilder::with_id("main")
                .tooltip("Chinwag")
                .menu(&menu)
                .on_menu_event(move |app, event| match event.id().as_ref() {
                    "open" => show_window(&shared),
                    "mute" => {
                        shared
                            .muted_until
                            .store(now_millis() + 3_600_000, Ordering::Relaxed);
                    }
                    "quit" => {
                        shared.quitting.store(true, Ordering::Relaxed);
                        app.exit(0);
                    }
                    _ => {}
                });
            if let Some(icon) = app.default_window_icon() {
                tray = tray.icon(icon.clone());
            }
            if let Err(err) = tray.build(app) {
                // No tray on this desktop: closing the window then quits.
                tracing::warn!("no tray icon: {err}");
            }
            Ok(())
        })
        .on_window_event({
            let shared = shared.clone();
            move |window, event| match event {
                WindowEvent::CloseRequested { api, .. } => {
                    let has_tray = window.app_handle().tray_by_id("main").is_some();
                    if has_tray && !shared.quitting.load(Ordering::Relaxed) {
                        // Close to the tray: still connected, still notified.
                        api.prevent_close();
                        let _ = window.hide();
                    }
                }
                WindowEvent::Focused(true) => {
                    shared.unseen.store(0, Ordering::Relaxed);
                    update_tray(&shared, 0);
                }
                _ => {}
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
        let hosted = shared
            .hosted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(hosted) = hosted {
            let _ = hosted.stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(5), hosted.task).await;
            if let Some(ad) = hosted.advertiser {
                let _ = tokio::task::spawn_blocking(move || ad.stop()).await;
            }
        }
    });
    let _ = std::fs::remove_file(data_dir.join("desktop.sock"));
    ExitCode::SUCCESS
}

//! What the start screen chose and carrying it out: hosting a hub here, or joining one; the choice remembered in `desktop.json`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chinwag_node::join::{self, Choice, HubAddress, Joined};
use chinwag_node::{Mdns, ServerOptions, DEFAULT_PORT};
use chinwag_proto::ApiError;
use chinwag_proto::ErrorCode;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::*;

/// What the start screen chose, remembered for the next launch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub(super) enum Remembered {
    Host { name: String },
    Join { address: String },
}

/// A hub this app hosts: stopping it commits every write and says goodbye on the LAN.
pub(super) struct Hosted {
    pub(super) address: HubAddress,
    pub(super) stop: oneshot::Sender<()>,
    pub(super) task: tokio::task::JoinHandle<()>,
    pub(super) advertiser: Option<chinwag_discovery::Advertiser>,
}

pub(super) fn remembered_path(dir: &Path) -> PathBuf {
    dir.join("desktop.json")
}

pub(super) fn load_remembered(dir: &Path) -> Option<Remembered> {
    let raw = std::fs::read(remembered_path(dir)).ok()?;
    serde_json::from_slice(&raw).ok()
}

pub(super) fn save_remembered(dir: &Path, choice: &Remembered) {
    write_json(&remembered_path(dir), choice);
}

pub(super) fn unavailable(message: String) -> ApiError {
    ApiError::new(ErrorCode::Unavailable, message)
}

/// Starts a hub here (port 7117, or any free port if taken) and returns its local address.
pub(super) async fn host(shared: &Shared, name: &str) -> Result<HubAddress, ApiError> {
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

/// Stops the hosted hub, if any: commits its writes and says goodbye on the LAN.
pub(super) async fn stop_hosting(shared: &Shared) {
    let hosted = lock(&shared.hosted).take();
    if let Some(hosted) = hosted {
        let _ = hosted.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), hosted.task).await;
        if let Some(ad) = hosted.advertiser {
            let _ = tokio::task::spawn_blocking(move || ad.stop()).await;
        }
    }
}

pub(super) async fn open_joined(
    shared: &Shared,
    address: &HubAddress,
) -> Result<Arc<Joined>, ApiError> {
    let store = join::open_store(&shared.data_dir, address)
        .map_err(|err| unavailable(format!("{err:#}")))?;
    Ok(Joined::open(store, address.clone()).await)
}

/// Carries out a choice (from the start screen, or remembered).
pub(super) async fn carry_out(
    shared: Arc<Shared>,
    choice: Choice,
) -> Result<Arc<Joined>, ApiError> {
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

pub(super) fn reqwest_client() -> reqwest::Client {
    reqwest::Client::new()
}

pub(super) fn default_hub_name() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty() && u != "root")
        .map(|u| format!("{u}'s chat"))
        .unwrap_or_else(|| "Office chat".into())
}

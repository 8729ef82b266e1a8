//! Join mode: this node uses a hub elsewhere on the LAN.
//!
//! The node serves the same web UI on loopback and speaks the hub's protocol to it, so the UI
//! does not care whether it is hosting or joined. One room per part: the [`Joined`] state
//! (`joined.rs`: one link to the hub for the signed-in user), its WebSocket face
//! (`socket.rs`), its HTTP face (`server.rs`: guards and filters; `api.rs`: the node's own
//! `/api/v1/node` routes, a table like the hub's; `proxy.rs`: REST forwarded to the hub and
//! the offline cache of its answers), the hubs heard on the LAN (`directory.rs`), where a hub
//! is (`address.rs`), and the node's storage ([`store`], sled), which lets a message typed
//! while the hub is away survive until it is delivered.

mod address;
mod api;
mod directory;
mod joined;
pub mod notify;
mod proxy;
mod server;
mod socket;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use chinwag_discovery::Browser;

pub use address::{verify, HubAddress};
pub use api::{Choice, Chooser, NodeApi, View};
pub use directory::Directory;
pub use joined::{Joined, LinkState, Live};
pub use server::{serve, serve_node};
pub use store::NodeStore;

use crate::{bind, default_data_dir, prepare_data_dir, shutdown_signal};

/// The port a joined node serves its UI on unless told otherwise.
pub const DEFAULT_LOCAL_PORT: u16 = 7118;

/// Largest request body the node forwards (the hub applies its own, smaller limit).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How `chinwag --join` runs.
#[derive(Debug, Clone)]
pub struct JoinOptions {
    pub hub: String,
    /// Where the local UI is served (loopback).
    pub bind: SocketAddr,
    pub data_dir: Option<PathBuf>,
    /// Browse for hubs on the LAN (listed at `/api/v1/node/hubs`).
    pub browse: bool,
    /// Browse on loopback too (one-machine setups and tests in a network namespace).
    pub browse_loopback: bool,
}

impl Default for JoinOptions {
    fn default() -> Self {
        JoinOptions {
            hub: String::new(),
            bind: SocketAddr::from(([127, 0, 0, 1], DEFAULT_LOCAL_PORT)),
            data_dir: None,
            browse: true,
            browse_loopback: false,
        }
    }
}

/// Opens the node's local state for `hub` under `data_dir`.
pub fn open_store(data_dir: &std::path::Path, hub: &HubAddress) -> Result<NodeStore> {
    let dir = data_dir.join("joined").join(hub.dir_name());
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    NodeStore::open(&dir).map_err(|err| {
        anyhow!(
            "cannot open the local state in {} ({err}); is another Chinwag using it?",
            dir.display()
        )
    })
}

/// Runs a node joined to a hub until SIGINT or SIGTERM.
pub async fn run_join(options: JoinOptions) -> Result<()> {
    let hub = HubAddress::parse(&options.hub).map_err(|why| anyhow!("--join: {why}"))?;
    let data_dir = match options.data_dir {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    prepare_data_dir(&data_dir)?;
    let store = open_store(&data_dir, &hub)?;
    let listener = bind(options.bind).await?;
    let addr = listener.local_addr()?;
    let directory = Directory::new(Vec::new());
    let browsing = if options.browse {
        match Browser::start(chinwag_discovery::Options {
            include_loopback: options.browse_loopback,
        }) {
            Ok(browser) => Some(directory.browse(browser)),
            Err(err) => {
                tracing::warn!("cannot browse for hubs on the LAN: {err}");
                None
            }
        }
    } else {
        None
    };
    let joined = Joined::open(store, hub.clone()).await;
    match verify(&joined.http, &hub).await {
        Ok(info) => println!("Joining \"{}\" at {hub}.", info.name),
        Err(err) => println!(
            "{} Working offline; messages you send are kept until it is back.",
            err.message
        ),
    }
    println!("Chinwag is running. Open http://{addr}/");
    serve(listener, joined, directory, shutdown_signal()).await;
    if let Some(task) = browsing {
        task.abort();
    }
    println!("Chinwag stopped.");
    Ok(())
}

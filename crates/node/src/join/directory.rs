//! The hubs a node hears on the LAN by mDNS, as the start screen lists them.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chinwag_discovery::{Browser, DiscoveredHub, HubEvent};
use tokio::sync::watch;

/// Hubs seen on the LAN, with a version that moves on every change (for long polls).
#[derive(Clone, Default)]
pub struct Directory {
    hubs: Arc<Mutex<BTreeMap<String, DiscoveredHub>>>,
    version: Arc<watch::Sender<u64>>,
    /// Hub ids never listed (our own hub, when this node hosts one).
    ignore: Arc<Vec<String>>,
}

impl Directory {
    pub fn new(ignore: Vec<String>) -> Directory {
        Directory {
            ignore: Arc::new(ignore),
            ..Directory::default()
        }
    }

    pub fn apply(&self, event: HubEvent) {
        let mut hubs = self.hubs.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            HubEvent::Added(hub) | HubEvent::Updated(hub) => {
                if self.ignore.contains(&hub.id) {
                    return;
                }
                hubs.insert(hub.id.clone(), hub);
            }
            HubEvent::Removed(id) => {
                if hubs.remove(&id).is_none() {
                    return;
                }
            }
        }
        drop(hubs);
        self.version.send_modify(|v| *v += 1);
    }

    pub fn version(&self) -> u64 {
        *self.version.borrow()
    }

    pub fn list(&self) -> Vec<DiscoveredHub> {
        let hubs = self.hubs.lock().unwrap_or_else(|p| p.into_inner());
        let mut list: Vec<DiscoveredHub> = hubs.values().cloned().collect();
        list.sort_by_key(|h| h.name.to_lowercase());
        list
    }

    /// Waits (at most `wait`) for the version to move past `since`.
    pub async fn changed_since(&self, since: u64, wait: Duration) {
        let mut rx = self.version.subscribe();
        let _ = tokio::time::timeout(wait, rx.wait_for(|v| *v != since)).await;
    }

    /// Browses until the returned task is aborted.
    pub fn browse(&self, browser: Browser) -> tokio::task::JoinHandle<()> {
        let directory = self.clone();
        let mut browser = browser;
        tokio::spawn(async move {
            while let Some(event) = browser.next().await {
                directory.apply(event);
            }
        })
    }
}

/// A discovered hub as `GET /api/v1/node/hubs` lists it, with the address to join first.
pub(crate) fn entry(hub: &DiscoveredHub) -> chinwag_proto::node::DiscoveredHub {
    let address = hub.addresses.first().map(|ip| match ip {
        IpAddr::V6(_) => format!("[{ip}]:{}", hub.port),
        IpAddr::V4(_) => format!("{ip}:{}", hub.port),
    });
    chinwag_proto::node::DiscoveredHub {
        id: hub.id.clone(),
        name: hub.name.clone(),
        address,
        addresses: hub.addresses.clone(),
        port: hub.port,
        host: hub.host.clone(),
        protocol: hub.protocol,
        version: hub.version.clone(),
    }
}

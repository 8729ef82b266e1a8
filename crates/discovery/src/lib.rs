//! Chinwag's LAN discovery over mDNS (`mdns-sd`).
//!
//! A hub advertises `_chinwag._tcp.local.` with TXT records `id` (stable hub id), `name`,
//! `proto` (protocol version) and `ver` (software version). The instance name is derived
//! from the hub id, so two hubs with the same display name never collide. [`Advertiser::stop`]
//! unregisters, which sends the mDNS goodbye so browsers drop the hub at once.
//!
//! [`Browser`] turns mdns-sd's raw events into [`HubEvent`]s: deduplicated by hub id, with
//! addresses ordered routable IPv4 first, and repeated resolutions (mdns-sd resolves a service
//! again as addresses arrive) reported as updates only when something changed.
//!
//! What it must not do: know about HTTP, the store or Tauri. It only says which hubs exist.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use mdns_sd::{IfKind, ResolvedService, ServiceDaemon, ServiceEvent, ServiceInfo};

/// The mDNS service type of a Chinwag hub.
pub const SERVICE_TYPE: &str = "_chinwag._tcp.local.";

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("mDNS: {0}")]
    Mdns(#[from] mdns_sd::Error),
}

pub type Result<T, E = DiscoveryError> = std::result::Result<T, E>;

/// Which interfaces the daemon uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Also use loopback (tests inside a private network namespace; one machine setups).
    pub include_loopback: bool,
}

fn daemon(options: Options) -> Result<ServiceDaemon> {
    let daemon = ServiceDaemon::new()?;
    if options.include_loopback {
        daemon.enable_interface(vec![IfKind::LoopbackV4, IfKind::LoopbackV6])?;
    }
    Ok(daemon)
}

/// What a hub says about itself on the LAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertisement {
    pub hub_id: String,
    pub name: String,
    pub port: u16,
    pub protocol: u32,
    pub version: String,
}

/// A hub being advertised; dropping it without [`Advertiser::stop`] still shuts the daemon
/// down, but `stop` waits for the goodbye to go out.
pub struct Advertiser {
    daemon: ServiceDaemon,
    fullname: String,
}

/// The instance name: unique per hub, readable enough in `avahi-browse`.
pub fn instance_name(hub_id: &str) -> String {
    let short: String = hub_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    format!("chinwag-{short}")
}

impl Advertiser {
    pub fn start(ad: &Advertisement, options: Options) -> Result<Advertiser> {
        let daemon = daemon(options)?;
        let instance = instance_name(&ad.hub_id);
        // TXT values are limited to 255 bytes each; a name is at most 64 characters anyway.
        let name: String = ad.name.chars().take(63).collect();
        let properties = [
            ("id", ad.hub_id.as_str()),
            ("name", name.as_str()),
            ("proto", &ad.protocol.to_string()),
            ("ver", ad.version.as_str()),
        ];
        let host = format!("{instance}.local.");
        let info = ServiceInfo::new(SERVICE_TYPE, &instance, &host, "", ad.port, &properties[..])?
            .enable_addr_auto();
        let fullname = info.get_fullname().to_owned();
        daemon.register(info)?;
        tracing::info!("advertising {fullname} on the LAN");
        Ok(Advertiser { daemon, fullname })
    }

    pub fn fullname(&self) -> &str {
        &self.fullname
    }

    /// Unregisters (the goodbye packet) and stops the daemon, waiting up to a second for each.
    pub fn stop(self) {
        if let Ok(status) = self.daemon.unregister(&self.fullname) {
            let _ = status.recv_timeout(Duration::from_secs(1));
        }
        if let Ok(status) = self.daemon.shutdown() {
            let _ = status.recv_timeout(Duration::from_secs(1));
        }
    }
}

/// A hub found on the LAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredHub {
    pub id: String,
    pub name: String,
    pub protocol: Option<u32>,
    pub version: Option<String>,
    pub host: String,
    pub port: u16,
    /// Best first: routable IPv4, loopback IPv4, routable IPv6, link-local.
    pub addresses: Vec<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubEvent {
    Added(DiscoveredHub),
    Updated(DiscoveredHub),
    /// The hub with this id said goodbye or expired.
    Removed(String),
}

/// Ranks an address for connecting: lower is better.
fn rank(ip: &IpAddr) -> u8 {
    match ip {
        IpAddr::V4(v4) if v4.is_link_local() => 4,
        IpAddr::V4(v4) if v4.is_loopback() => 1,
        IpAddr::V4(_) => 0,
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => 5,
        IpAddr::V6(v6) if v6.is_loopback() => 3,
        IpAddr::V6(_) => 2,
    }
}

/// Folds mdns-sd events into hub events. Pure, so it is tested without a network.
#[derive(Debug, Default)]
pub struct HubTable {
    hubs: HashMap<String, DiscoveredHub>,
    by_fullname: HashMap<String, String>,
}

impl HubTable {
    pub fn hubs(&self) -> impl Iterator<Item = &DiscoveredHub> {
        self.hubs.values()
    }

    pub fn resolved(&mut self, service: &ResolvedService) -> Option<HubEvent> {
        let props = &service.txt_properties;
        let id = props.get_property_val_str("id")?.to_owned();
        if id.is_empty() {
            return None;
        }
        let mut addresses: Vec<IpAddr> = service.addresses.iter().map(|a| a.to_ip_addr()).collect();
        addresses.sort_by_key(|ip| (rank(ip), *ip));
        addresses.dedup();
        if addresses.is_empty() {
            return None;
        }
        let hub = DiscoveredHub {
            name: props.get_property_val_str("name").unwrap_or(&id).to_owned(),
            protocol: props
                .get_property_val_str("proto")
                .and_then(|p| p.parse().ok()),
            version: props.get_property_val_str("ver").map(str::to_owned),
            host: service.host.clone(),
            port: service.port,
            addresses,
            id: id.clone(),
        };
        self.by_fullname
            .insert(service.fullname.clone(), id.clone());
        match self.hubs.insert(id, hub.clone()) {
            None => Some(HubEvent::Added(hub)),
            Some(old) if old != hub => Some(HubEvent::Updated(hub)),
            Some(_) => None,
        }
    }

    pub fn removed(&mut self, fullname: &str) -> Option<HubEvent> {
        let id = self.by_fullname.remove(fullname)?;
        // Another instance name may still announce the same hub id.
        if self.by_fullname.values().any(|other| *other == id) {
            return None;
        }
        self.hubs.remove(&id).map(|_| HubEvent::Removed(id))
    }
}

/// Browses for hubs until dropped.
pub struct Browser {
    daemon: ServiceDaemon,
    events: mdns_sd::Receiver<ServiceEvent>,
    table: HubTable,
}

impl Browser {
    pub fn start(options: Options) -> Result<Browser> {
        let daemon = daemon(options)?;
        let events = daemon.browse(SERVICE_TYPE)?;
        Ok(Browser {
            daemon,
            events,
            table: HubTable::default(),
        })
    }

    /// The next change, waiting at most `timeout`.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<HubEvent> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let event = self.events.recv_timeout(left).ok()?;
            if let Some(change) = self.apply(event) {
                return Some(change);
            }
        }
    }

    /// The next change, without blocking the async runtime.
    pub async fn next(&mut self) -> Option<HubEvent> {
        loop {
            let event = self.events.recv_async().await.ok()?;
            if let Some(change) = self.apply(event) {
                return Some(change);
            }
        }
    }

    fn apply(&mut self, event: ServiceEvent) -> Option<HubEvent> {
        match event {
            ServiceEvent::ServiceResolved(service) => self.table.resolved(&service),
            ServiceEvent::ServiceRemoved(_, fullname) => self.table.removed(&fullname),
            _ => None,
        }
    }

    pub fn hubs(&self) -> impl Iterator<Item = &DiscoveredHub> {
        self.table.hubs()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.daemon.stop_browse(SERVICE_TYPE);
        let _ = self.daemon.shutdown();
    }
}

/// For tests of real multicast: run a test inside a private user + network namespace, so
/// nothing reaches the real LAN.
pub mod test_support {
    use std::process::Command;

    const INSIDE: &str = "CHINWAG_TEST_IN_NETNS";

    /// Re-runs the test named `test` (its full path in the test binary) inside a fresh
    /// namespace with only loopback, up and multicast-capable, and asserts that it passed.
    /// Returns `false` when already inside: then the caller runs the test body.
    pub fn in_private_netns(test: &str) -> bool {
        if std::env::var_os(INSIDE).is_some() {
            return false;
        }
        let exe = std::env::current_exe().expect("test binary");
        let script = "ip link set lo up && ip link set lo multicast on && \
                      ip route add 224.0.0.0/4 dev lo && exec \"$0\" \"$@\"";
        let out = Command::new("unshare")
            .args(["--user", "--map-root-user", "--net", "sh", "-c", script])
            .arg(exe)
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(INSIDE, "1")
            .output()
            .expect("unshare makes a private network namespace");
        // The inner run's own report is shown only when it failed, so totals are not
        // counted twice.
        assert!(
            out.status.success(),
            "{test} failed inside the namespace:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_are_unique_per_hub_and_safe() {
        assert_eq!(
            instance_name("b959dbbbc47d124fe721"),
            "chinwag-b959dbbbc47d"
        );
        assert_ne!(
            instance_name("aaaaaaaaaaaa1"),
            instance_name("bbbbbbbbbbbb1")
        );
        assert_eq!(instance_name("a.b/c"), "chinwag-abc");
    }

    #[test]
    fn addresses_rank_routable_ipv4_first() {
        let mut ips: Vec<IpAddr> = [
            "fe80::1",
            "127.0.0.1",
            "2001:db8::5",
            "169.254.1.1",
            "192.168.1.20",
        ]
        .iter()
        .map(|s| s.parse().expect("ip"))
        .collect();
        ips.sort_by_key(|ip| (rank(ip), *ip));
        let order: Vec<String> = ips.iter().map(ToString::to_string).collect();
        assert_eq!(
            order,
            [
                "192.168.1.20",
                "127.0.0.1",
                "2001:db8::5",
                "169.254.1.1",
                "fe80::1"
            ]
        );
    }
}

//! Chinwag's composition root: turns options into a running node.
//!
//! It owns what the headless server and (later) the desktop app share: choosing and checking
//! the data directory, binding the listening socket with an error a person can act on,
//! opening the hub, telling the user where to point a browser, and shutting down on SIGINT or
//! SIGTERM. It holds no protocol or storage logic of its own.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use chinwag_discovery::{Advertisement, Advertiser, Options};
use chinwag_hub::{Hub, HubConfig};
use tokio::net::TcpListener;

pub mod admin;
pub mod config;
pub mod doctor;
pub mod join;
mod private;

pub use private::{prepare_data_dir, private_by_default};

/// The port a hub listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 7117;

/// The database file inside the data directory.
pub const DB_FILE: &str = "chinwag.db";

/// What `chinwag --server` needs to start.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub bind: SocketAddr,
    /// `None`: the platform's data directory for Chinwag.
    pub data_dir: Option<PathBuf>,
    pub hub: HubConfig,
    /// Advertise the hub on the LAN with mDNS (`--no-mdns` turns it off).
    pub mdns: Mdns,
}

/// Whether and where the hub is advertised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mdns {
    #[default]
    On,
    Off,
    /// Also on loopback: for a single machine, and for tests in a private network namespace.
    IncludingLoopback,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), DEFAULT_PORT),
            data_dir: None,
            hub: HubConfig::default(),
            mdns: Mdns::On,
        }
    }
}

/// The platform's data directory for Chinwag (e.g. `~/.local/share/chinwag` on Linux).
pub fn default_data_dir() -> Result<PathBuf> {
    directories::ProjectDirs::from("org", "Chinwag", "chinwag")
        .map(|dirs| dirs.data_dir().to_owned())
        .ok_or_else(|| anyhow!("cannot find a home directory; pass --data-dir"))
}

/// Binds the listening socket, explaining the usual failures.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    chinwag_hub::listen(addr).map_err(|err| match err.kind() {
        std::io::ErrorKind::AddrInUse => anyhow!(
            "{addr} is already in use (is another Chinwag running?); choose another with --bind"
        ),
        std::io::ErrorKind::PermissionDenied => anyhow!(
            "not allowed to listen on {addr} (ports below 1024 need privileges); choose another with --bind"
        ),
        std::io::ErrorKind::AddrNotAvailable => {
            anyhow!("{addr} is not an address of this machine; choose another with --bind")
        }
        _ => anyhow!("cannot listen on {addr}: {err}"),
    })
}

/// URLs people on the LAN can open to reach a hub listening on `addr` (not loopback ones:
/// those reach only this machine). Empty when it listens on loopback only.
pub fn lan_urls(addr: SocketAddr) -> Vec<String> {
    let lan = listening_ips(addr)
        .into_iter()
        .filter(|ip| !ip.is_loopback());
    lan.map(|ip| url(ip, addr.port())).collect()
}

/// URLs people can open to reach a hub listening on `addr`.
pub fn urls(addr: SocketAddr) -> Vec<String> {
    let ips = listening_ips(addr);
    ips.into_iter().map(|ip| url(ip, addr.port())).collect()
}

fn url(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("http://{v4}:{port}/"),
        IpAddr::V6(v6) => format!("http://[{v6}]:{port}/"),
    }
}

/// The addresses a hub listening on `addr` is reached at: that one, or for a wildcard,
/// loopback first and then each usable interface address.
fn listening_ips(addr: SocketAddr) -> Vec<IpAddr> {
    if !addr.ip().is_unspecified() {
        return vec![addr.ip()];
    }
    let mut out = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    if let Ok(interfaces) = if_addrs::get_if_addrs() {
        for iface in interfaces {
            let ip = iface.ip();
            let usable = match ip {
                IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local(),
                // Link-local IPv6 needs a zone id browsers do not accept in URLs.
                IpAddr::V6(v6) => {
                    addr.is_ipv6() && !v6.is_loopback() && (v6.segments()[0] & 0xffc0) != 0xfe80
                }
            };
            if usable && !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    out
}

/// A hub that is bound and open but not yet serving.
pub struct Prepared {
    pub listener: TcpListener,
    pub hub: Hub,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Holds the data directory for this hub; keep it until the hub has stopped.
    pub guard: admin::DataDirGuard,
}

/// Checks the data directory, binds and opens the hub.
/// Starts advertising the hub, unless told not to or it listens on loopback only. Failure to
/// advertise is logged, not fatal: joining by address always works.
pub fn advertise(prepared: &Prepared, mdns: Mdns) -> Option<Advertiser> {
    if mdns == Mdns::Off {
        return None;
    }
    if prepared.addr.ip().is_loopback() && mdns != Mdns::IncludingLoopback {
        tracing::info!("listening on loopback only; not advertising on the LAN");
        return None;
    }
    let info = prepared.hub.info();
    let ad = Advertisement {
        hub_id: info.id.clone(),
        name: info.name.clone(),
        port: prepared.addr.port(),
        protocol: info.protocol,
        version: info.version.clone(),
    };
    let options = Options {
        include_loopback: mdns == Mdns::IncludingLoopback,
    };
    match Advertiser::start(&ad, options) {
        Ok(advertiser) => Some(advertiser),
        Err(err) => {
            tracing::warn!("cannot advertise on the LAN ({err}); people can still join by address");
            None
        }
    }
}

pub async fn prepare(mut options: ServerOptions) -> Result<Prepared> {
    let data_dir = match options.data_dir {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    prepare_data_dir(&data_dir)?;
    let mut guard = admin::DataDirGuard::take(&data_dir)?;
    let listener = bind(options.bind).await?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let token = chinwag_hub::auth::new_token();
    options.hub.admin_token = Some(token.clone());
    if options.hub.urls.is_empty() {
        options.hub.urls = lan_urls(addr);
    }
    let db = data_dir.join(DB_FILE);
    let hub = Hub::open(options.hub, &db)
        .await
        .with_context(|| format!("cannot open the database {}", db.display()))?;
    guard.publish(addr, &token)?;
    Ok(Prepared {
        listener,
        hub,
        addr,
        data_dir,
        guard,
    })
}

/// Runs a headless hub until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn run_server(options: ServerOptions) -> Result<()> {
    let mdns = options.mdns;
    let prepared = prepare(options).await?;
    let advertiser = advertise(&prepared, mdns);
    let info = prepared.hub.info().clone();
    println!(
        "Chinwag hub \"{}\" is running (data in {}). Open:",
        info.name,
        prepared.data_dir.display()
    );
    for url in urls(prepared.addr) {
        println!("  {url}");
    }
    if info.join_code_required {
        println!("Registration needs the join code you set.");
    }
    if advertiser.is_some() {
        println!(
            "Advertised on the LAN as \"{}\" (turn off with --no-mdns).",
            info.name
        );
    }
    chinwag_hub::serve(prepared.listener, prepared.hub, shutdown_signal()).await;
    drop(prepared.guard);
    if let Some(advertiser) = advertiser {
        // The goodbye, so that browsers drop the hub at once.
        let _ = tokio::task::spawn_blocking(move || advertiser.stop()).await;
    }
    println!("Chinwag hub stopped.");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(err) => {
                tracing::warn!("cannot listen for SIGTERM: {err}");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritable_data_dir_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"x").expect("file");
        let err = prepare_data_dir(&file.join("sub")).expect_err("cannot create under a file");
        assert!(err.to_string().contains("cannot create the data directory"));
    }

    #[tokio::test]
    async fn port_in_use_is_a_clear_error() {
        let taken = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = taken.local_addr().expect("addr");
        let err = bind(addr).await.expect_err("in use");
        assert!(err.to_string().contains("already in use"), "{err}");
    }

    #[test]
    fn urls_for_a_specific_address() {
        let addr: SocketAddr = "127.0.0.1:7117".parse().expect("addr");
        assert_eq!(urls(addr), vec!["http://127.0.0.1:7117/".to_owned()]);
        let any: SocketAddr = "0.0.0.0:7117".parse().expect("addr");
        assert_eq!(urls(any)[0], "http://127.0.0.1:7117/");
        assert!(
            lan_urls(addr).is_empty(),
            "loopback is no address to hand out"
        );
        assert!(lan_urls(any).iter().all(|u| !u.contains("127.0.0.1")));
    }
}

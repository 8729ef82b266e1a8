//! `chinwag doctor ADDRESS`: why a hub at an address can or cannot be reached, one verdict
//! per check, in plain words, with what to do. The checks go in order (the address, its
//! name, a TCP connection, the hub's `GET /api/v1/hub`, its protocol) and stop at the first
//! that fails, since the later ones could only fail the same way.

use std::net::SocketAddr;
use std::time::Duration;

use chinwag_proto::{HubInfo, PROTOCOL_VERSION};
use serde::Serialize;
use tokio::net::TcpStream;

use crate::join::HubAddress;

/// How long a name may take to resolve, and a connection or the hub to answer.
const RESOLVE: Duration = Duration::from_secs(5);
const CONNECT: Duration = Duration::from_secs(3);
const ANSWER: Duration = Duration::from_secs(5);

/// One check's outcome.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Verdict {
    /// `address`, `name`, `connection`, `hub` or `version`.
    pub check: &'static str,
    pub ok: bool,
    /// What was found, in a sentence.
    pub says: String,
    /// What to do about it, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn passed(check: &'static str, says: String) -> Verdict {
    Verdict {
        check,
        ok: true,
        says,
        fix: None,
    }
}

fn failed(check: &'static str, says: String, fix: &str) -> Verdict {
    Verdict {
        check,
        ok: false,
        says,
        fix: Some(fix.to_owned()),
    }
}

/// Runs the checks on an address as a person types it (`192.168.1.20`, `office-pc.local`,
/// `host:7117`, `http://host:7117/`).
pub async fn check_address(raw: &str) -> Vec<Verdict> {
    let mut out = Vec::new();
    let address = match HubAddress::parse(raw) {
        Ok(address) => address,
        Err(err) => {
            out.push(failed(
                "address",
                format!("\"{}\" is not an address: {err}.", raw.trim()),
                "Type it as the hub prints it: 192.168.1.20, office-pc.local or host:7117.",
            ));
            return out;
        }
    };
    out.push(passed("address", format!("Checking {address}.")));
    let Some(targets) = resolve(&address, &mut out).await else {
        return out;
    };
    let Some(reached) = connect(&address, &targets, &mut out).await else {
        return out;
    };
    if let Some(info) = ask_hub(&address, reached, &mut out).await {
        out.push(version(&info));
    }
    out
}

async fn resolve(address: &HubAddress, out: &mut Vec<Verdict>) -> Option<Vec<SocketAddr>> {
    let host = address.host();
    let lookup = tokio::net::lookup_host((host, address.port()));
    let fix = "Check the spelling, or use the hub's IP address (its admin sees it in the Invite \
               panel in # general, and the hub prints it when it starts).";
    match tokio::time::timeout(RESOLVE, lookup).await {
        Ok(Ok(found)) => {
            let found: Vec<SocketAddr> = found.collect();
            if found.is_empty() {
                out.push(failed("name", format!("\"{host}\" has no address."), fix));
                return None;
            }
            let ips: Vec<String> = found.iter().map(|a| a.ip().to_string()).collect();
            out.push(passed("name", format!("{host} is {}.", ips.join(", "))));
            Some(found)
        }
        Ok(Err(err)) => {
            out.push(failed(
                "name",
                format!("\"{host}\" does not resolve to an address ({err})."),
                fix,
            ));
            None
        }
        Err(_) => {
            out.push(failed(
                "name",
                format!("Looking up \"{host}\" took over {} s.", RESOLVE.as_secs()),
                "The name server does not answer: use the hub's IP address instead.",
            ));
            None
        }
    }
}

async fn connect(
    address: &HubAddress,
    targets: &[SocketAddr],
    out: &mut Vec<Verdict>,
) -> Option<SocketAddr> {
    let port = address.port();
    let mut last = None;
    for &target in targets {
        match tokio::time::timeout(CONNECT, TcpStream::connect(target)).await {
            Ok(Ok(_)) => {
                out.push(passed(
                    "connection",
                    format!("{target} accepts connections on port {port}."),
                ));
                return Some(target);
            }
            Ok(Err(err)) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = Some(failed(
                    "connection",
                    format!(
                        "Connection refused at {target}: the machine is there, but nothing \
                         listens on port {port}."
                    ),
                    "Start the hub (chinwag --server, or host a chat in the app), or check \
                     the port: the hub prints the address to use.",
                ));
            }
            Ok(Err(err)) => {
                last = Some(failed(
                    "connection",
                    format!("Cannot connect to {target}: {err}."),
                    "This computer has no way to that network: is it on the same network as \
                     the hub (not guest Wi-Fi, not only a VPN)?",
                ));
            }
            Err(_) => {
                last = Some(failed(
                    "connection",
                    format!(
                        "No answer from {target} within {} s: a firewall drops port {port}, \
                         the network keeps computers apart (guest Wi-Fi), or the machine is off.",
                        CONNECT.as_secs()
                    ),
                    "Open TCP port 7117 (or the hub's port) in the hub's firewall, or use a \
                     network where computers can reach each other.",
                ));
            }
        }
    }
    out.extend(last);
    None
}

async fn ask_hub(
    address: &HubAddress,
    reached: SocketAddr,
    out: &mut Vec<Verdict>,
) -> Option<HubInfo> {
    let not_a_hub = "Check the address and port: another program answers there.";
    let client = reqwest::Client::builder()
        .timeout(ANSWER)
        // The address that answered, under the name the person typed (the Host header).
        .resolve(address.host(), reached)
        .build()
        .ok()?;
    let answer = match client
        .get(format!("{}/api/v1/hub", address.http_url()))
        .send()
        .await
    {
        Ok(answer) => answer,
        Err(err) if err.is_timeout() => {
            out.push(failed(
                "hub",
                format!(
                    "{reached} takes connections but gives no answer within {} s.",
                    ANSWER.as_secs()
                ),
                "The hub may be overloaded or stuck: look at its log, or restart it.",
            ));
            return None;
        }
        Err(_) => {
            out.push(failed(
                "hub",
                format!("{reached} takes connections but does not speak HTTP."),
                not_a_hub,
            ));
            return None;
        }
    };
    let status = answer.status();
    let info = if status.is_success() {
        answer.json::<HubInfo>().await.ok()
    } else {
        None
    };
    match info {
        Some(info) => {
            let online = info
                .online
                .map(|n| format!(", {n} online"))
                .unwrap_or_default();
            out.push(passed(
                "hub",
                format!("A Chinwag hub answers: \"{}\"{online}.", info.name),
            ));
            Some(info)
        }
        None => {
            out.push(failed(
                "hub",
                format!(
                    "Something answers at {reached} (HTTP {status}), but it is not a Chinwag hub."
                ),
                not_a_hub,
            ));
            None
        }
    }
}

fn version(info: &HubInfo) -> Verdict {
    if info.protocol == PROTOCOL_VERSION {
        passed(
            "version",
            format!(
                "It runs Chinwag {} (protocol {}), which this app speaks: you can join it.",
                info.version, info.protocol
            ),
        )
    } else {
        failed(
            "version",
            format!(
                "It speaks protocol {} (Chinwag {}); this app speaks {}.",
                info.protocol, info.version, PROTOCOL_VERSION
            ),
            "Update the older of the two to the same Chinwag version.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_typo_in_the_address_is_said_so_and_nothing_is_tried() {
        let out = check_address("office pc").await;
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].check, "address");
        assert!(!out[0].ok && out[0].fix.is_some(), "{out:?}");
    }

    #[tokio::test]
    async fn a_port_with_nothing_behind_it_is_refused_not_timed_out() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = free.local_addr().expect("addr").port();
        drop(free);
        let out = check_address(&format!("127.0.0.1:{port}")).await;
        let last = out.last().expect("verdicts");
        assert_eq!(last.check, "connection");
        assert!(last.says.contains("nothing listens"), "{last:?}");
    }

    #[tokio::test]
    async fn something_that_is_not_a_hub_is_named_as_such() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let out = check_address(&addr.to_string()).await;
        let last = out.last().expect("verdicts");
        assert_eq!((last.check, last.ok), ("hub", false), "{out:?}");
        assert!(last.says.contains("not a Chinwag hub"), "{last:?}");
    }
}

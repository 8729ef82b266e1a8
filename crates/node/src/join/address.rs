//! Where a hub is (`HubAddress`, as people type it) and whether a Chinwag hub answers there
//! ([`verify`]).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use chinwag_proto::{ApiError, ErrorCode, HubInfo};

use crate::DEFAULT_PORT;

/// Where a hub is: `host:port`, as typed or discovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubAddress {
    host: String,
    port: u16,
}

impl HubAddress {
    /// Accepts `host`, `host:port`, `[v6]:port` or an `http://` URL of a hub. The port
    /// defaults to 7117.
    pub fn parse(raw: &str) -> Result<HubAddress, String> {
        let raw = raw.trim();
        let raw = raw
            .strip_prefix("http://")
            .or_else(|| raw.strip_prefix("ws://"))
            .unwrap_or(raw);
        let raw = raw.split('/').next().unwrap_or("");
        if raw.is_empty() {
            return Err("give the hub's address as HOST or HOST:PORT".into());
        }
        if let Ok(addr) = raw.parse::<SocketAddr>() {
            return Self::checked(addr.ip().to_string(), addr.port());
        }
        if let Ok(ip) = raw.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Self::checked(ip.to_string(), DEFAULT_PORT);
        }
        let (host, port) = match raw.rsplit_once(':') {
            Some((host, port)) => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| format!("\"{port}\" is not a port number"))?;
                (host, port)
            }
            None => (raw, DEFAULT_PORT),
        };
        let valid = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if !valid {
            return Err(format!("\"{host}\" is not a host name or IP address"));
        }
        Self::checked(host.to_ascii_lowercase(), port)
    }

    fn checked(host: String, port: u16) -> Result<HubAddress, String> {
        if port == 0 {
            return Err("the port must be between 1 and 65535".into());
        }
        Ok(HubAddress { host, port })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn http_url(&self) -> String {
        format!("http://{self}")
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{self}/api/v1/ws")
    }

    /// A name safe to use as a directory: one local state per hub.
    pub(super) fn dir_name(&self) -> String {
        let host: String = self
            .host
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{host}_{}", self.port)
    }
}

impl fmt::Display for HubAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Checks that a hub answers at `address` and is a Chinwag hub this build can speak to.
pub async fn verify(client: &reqwest::Client, address: &HubAddress) -> Result<HubInfo, ApiError> {
    let unreachable = || {
        ApiError::new(
            ErrorCode::Unavailable,
            format!("Nothing answers at {address}. Is the hub running, and on this network?"),
        )
    };
    let answer = client
        .get(format!("{}/api/v1/hub", address.http_url()))
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .map_err(|_| unreachable())?;
    if !answer.status().is_success() {
        return Err(unreachable());
    }
    let info: HubInfo = answer.json().await.map_err(|_| {
        ApiError::new(
            ErrorCode::Unavailable,
            format!("{address} answers, but it is not a Chinwag hub."),
        )
    })?;
    if info.protocol != chinwag_proto::PROTOCOL_VERSION {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            format!(
                "{} speaks protocol {}; this app speaks {}. Update the older one.",
                info.name,
                info.protocol,
                chinwag_proto::PROTOCOL_VERSION
            ),
        ));
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_addresses_parse_as_people_type_them() {
        let ok = |raw: &str| HubAddress::parse(raw).map(|a| a.to_string());
        assert_eq!(ok("office-pc").as_deref(), Ok("office-pc:7117"));
        assert_eq!(ok(" 10.0.0.5:8000 ").as_deref(), Ok("10.0.0.5:8000"));
        assert_eq!(
            ok("http://Hub.local:7117/").as_deref(),
            Ok("hub.local:7117")
        );
        assert_eq!(ok("[fe80::1]:9000").as_deref(), Ok("[fe80::1]:9000"));
        assert_eq!(ok("::1").as_deref(), Ok("[::1]:7117"));
        assert!(HubAddress::parse("").is_err());
        assert!(HubAddress::parse("host:99999").is_err());
        assert!(HubAddress::parse("host:0").is_err());
        assert!(HubAddress::parse("bad host!:80").is_err());
        assert!(HubAddress::parse("a:b:c").is_err());
    }
}

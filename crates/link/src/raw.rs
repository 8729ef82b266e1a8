//! One authenticated WebSocket to a hub, with no outbox and no reconnecting: the building
//! block of [`crate::Link`], and what tools that drive thousands of connections at once (the
//! benchmark) use directly.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use chinwag_proto::{ClientFrame, EventId, HubInfo, ServerFrame, User};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Debug, thiserror::Error)]
pub enum RawError {
    #[error("cannot reach the hub: {0}")]
    Connect(#[from] WsError),
    #[error("cannot reach the hub: {0}")]
    Io(#[from] std::io::Error),
    #[error("the hub did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the hub refused: {0}")]
    Refused(String),
    #[error("the hub closed the connection")]
    Closed,
}

/// A client's WebSocket settings: small read buffers, as a client holds few frames at once.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4 * 1024)
}

/// Opens a WebSocket to `url` (`ws://host:port/api/v1/ws`). With `source`, the connection
/// leaves from that local address, so a load generator can spread thousands of connections
/// over loopback addresses (127.0.0.0/8) as many machines would arrive from many.
pub async fn connect(url: &str, source: Option<IpAddr>) -> Result<Socket, RawError> {
    let Some(source) = source else {
        let (ws, _) =
            tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), true).await?;
        return Ok(ws);
    };
    let request = url.into_client_request()?;
    let host = request
        .uri()
        .host()
        .unwrap_or("localhost")
        .trim_matches(['[', ']']);
    let port = request.uri().port_u16().unwrap_or(80);
    let target: SocketAddr = tokio::net::lookup_host((host, port))
        .await?
        .find(|a| a.is_ipv4() == source.is_ipv4())
        .ok_or_else(|| std::io::Error::other(format!("{host} has no address like {source}")))?;
    let socket = if target.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket.connect(target).await?;
    stream.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async_with_config(
        request,
        MaybeTlsStream::Plain(stream),
        Some(ws_config()),
    )
    .await?;
    Ok(ws)
}

/// The `auth` frame as text.
pub fn auth_text(token: &str, resume_from: Option<EventId>) -> WsMessage {
    text(&ClientFrame::Auth {
        reference: None,
        token: token.to_owned(),
        resume_from,
    })
}

/// A client frame as a WebSocket text message.
pub fn text(frame: &ClientFrame) -> WsMessage {
    WsMessage::Text(
        serde_json::to_string(frame)
            .unwrap_or_else(|_| "{}".into())
            .into(),
    )
}

/// What the hub said when the connection authenticated.
#[derive(Debug, Clone)]
pub struct Ready {
    pub user: User,
    pub hub: HubInfo,
    pub last_event_id: EventId,
    /// Raw `event` frames replayed between `ready` and `synced` (with `resume_from`).
    pub replayed: Vec<Utf8Bytes>,
}

/// Authenticates an open socket and reads until `synced`, within `limit`.
pub async fn authenticate(
    ws: &mut Socket,
    token: &str,
    resume_from: Option<EventId>,
    limit: Duration,
) -> Result<Ready, RawError> {
    ws.send(auth_text(token, resume_from)).await?;
    tokio::time::timeout(limit, until_synced(ws))
        .await
        .map_err(|_| RawError::Timeout(limit))?
}

async fn until_synced(ws: &mut Socket) -> Result<Ready, RawError> {
    let mut ready: Option<Ready> = None;
    while let Some(message) = ws.next().await {
        let WsMessage::Text(raw) = message? else {
            continue;
        };
        if let Some(ready) = ready.as_mut() {
            if raw.as_str().starts_with(r#"{"type":"event""#) {
                ready.replayed.push(raw);
                continue;
            }
        }
        match serde_json::from_str::<ServerFrame>(&raw) {
            Ok(ServerFrame::Ready {
                user,
                hub,
                last_event_id,
                ..
            }) => {
                ready = Some(Ready {
                    user,
                    hub,
                    last_event_id,
                    replayed: Vec::new(),
                })
            }
            Ok(ServerFrame::Synced { .. }) => {
                return ready.ok_or_else(|| RawError::Refused("synced before ready".into()))
            }
            Ok(ServerFrame::Error { error, .. }) => return Err(RawError::Refused(error.message)),
            _ => {}
        }
    }
    Err(RawError::Closed)
}

/// Connects and authenticates: [`connect`] then [`authenticate`].
pub async fn open(
    url: &str,
    source: Option<IpAddr>,
    token: &str,
    resume_from: Option<EventId>,
) -> Result<(Socket, Ready), RawError> {
    let limit = Duration::from_secs(30);
    let mut ws = tokio::time::timeout(limit, connect(url, source))
        .await
        .map_err(|_| RawError::Timeout(limit))??;
    let ready = authenticate(&mut ws, token, resume_from, limit).await?;
    Ok((ws, ready))
}

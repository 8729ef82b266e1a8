//! Serving a filter on a listener the caller bound, for the hub and the joined node alike.
//!
//! Every accepted TCP connection takes a place at the [`Gate`]: there are at most
//! `max_connections` in all and `per_addr` from one address, HTTP and WebSocket together (a
//! WebSocket keeps its place for as long as its socket is open). A connection over either cap
//! is answered at once with a ready-made JSON error (`429` or `503`, `Retry-After`) and
//! closed without reading it, so a flood costs no task and no timer; refusals are logged at
//! most once every ten seconds, with how many there were. A connection must send each
//! request's headers (and, idle between requests, the next request's) within
//! `header_timeout` or it is closed. Only HTTP/1.1 is spoken: a browser uses nothing else
//! without TLS, and it keeps one timeout rule for every connection.
//!
//! [`raise_open_files`] lifts the process's open-files soft limit to its hard limit, so the
//! caps above are what bounds connections rather than `EMFILE` at 1,024.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use chinwag_proto::{ApiError, ErrorCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use warp::reply::Response;
use warp::Filter;

/// The peer's address, in every request's extensions (`warp::ext::optional::<Peer>()`).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// How many connections a server takes, and how long a request's headers may take.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub per_addr: usize,
    pub header_timeout: Duration,
}

/// How often, at most, refused connections are logged.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

/// Counts the open connections, in all and per address, and refuses those over the caps.
pub struct Gate {
    limits: ConnectionLimits,
    // std Mutex: a small map for one update, never held across an await.
    open: Mutex<Open>,
    refused: AtomicU64,
    log: Mutex<RefusalLog>,
    too_many_from_addr: Vec<u8>,
    full: Vec<u8>,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_addr: HashMap<IpAddr, usize>,
}

struct RefusalLog {
    last: Option<Instant>,
    unlogged: u64,
}

/// Why a connection was turned away.
enum Refusal {
    FromAddr,
    Full,
}

impl Gate {
    pub fn new(limits: ConnectionLimits) -> Arc<Gate> {
        let from_addr = ApiError::rate_limited(
            format!(
                "Too many connections from your address (the limit is {}); close some and try \
                 again.",
                limits.per_addr
            ),
            5_000,
        );
        let full = ApiError {
            retry_after_ms: Some(5_000),
            ..ApiError::new(
                ErrorCode::Unavailable,
                "The server has as many connections as it can take; try again later.",
            )
        };
        Arc::new(Gate {
            limits,
            open: Mutex::new(Open::default()),
            refused: AtomicU64::new(0),
            log: Mutex::new(RefusalLog {
                last: None,
                unlogged: 0,
            }),
            too_many_from_addr: raw_response(&from_addr),
            full: raw_response(&full),
        })
    }

    /// Connections refused since the server started.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Connections open right now.
    pub fn open(&self) -> usize {
        self.lock().total
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn enter(self: &Arc<Self>, ip: IpAddr) -> Result<Place, Refusal> {
        let mut open = self.lock();
        if open.total >= self.limits.max_connections {
            return Err(Refusal::Full);
        }
        let from_addr = open.per_addr.entry(ip).or_insert(0);
        if *from_addr >= self.limits.per_addr {
            return Err(Refusal::FromAddr);
        }
        *from_addr += 1;
        open.total += 1;
        Ok(Place {
            gate: self.clone(),
            ip,
        })
    }

    fn leave(&self, ip: IpAddr) {
        let mut open = self.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.per_addr.get_mut(&ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.per_addr.remove(&ip);
            }
        }
    }

    /// Answers a refused connection without reading it, and logs now and then.
    fn refuse(&self, stream: TcpStream, ip: IpAddr, why: Refusal) {
        let answer = match why {
            Refusal::FromAddr => &self.too_many_from_addr,
            Refusal::Full => &self.full,
        };
        // A fresh socket's send buffer takes this whole; if not, the peer gets a close.
        let _ = stream.try_write(answer);
        drop(stream);
        self.refused.fetch_add(1, Ordering::Relaxed);
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.unlogged += 1;
        if log.last.is_none_or(|at| at.elapsed() >= REFUSAL_LOG_EVERY) {
            let reason = match why {
                Refusal::FromAddr => format!("{ip} is at the cap of {}", self.limits.per_addr),
                Refusal::Full => format!(
                    "the server is at its cap of {} in all",
                    self.limits.max_connections
                ),
            };
            tracing::warn!(
                refused = log.unlogged,
                "refusing connections: {reason} ({} refused since the last such line)",
                log.unlogged
            );
            log.last = Some(Instant::now());
            log.unlogged = 0;
        }
    }
}

/// A connection's place at the gate, given back when the socket closes.
struct Place {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.gate.leave(self.ip);
    }
}

/// A socket that holds its place at the gate: after a WebSocket upgrade the socket outlives
/// the HTTP connection, and the place goes with the socket.
struct Counted {
    stream: TcpStream,
    _place: Place,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// An HTTP/1.1 response as bytes on the wire: `err`'s status, JSON envelope and
/// `Retry-After`, and `Connection: close`.
fn raw_response(err: &ApiError) -> Vec<u8> {
    let response = crate::error_response(err);
    let status = response.status();
    let body = serde_json::to_vec(&err.envelope()).unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    if let Some(retry) = response.headers().get(warp::http::header::RETRY_AFTER) {
        out.push_str(&format!(
            "retry-after: {}\r\n",
            retry.to_str().unwrap_or("5")
        ));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(&body);
    out
}

/// Serves `filter` on `listener` through `gate` until `shutdown` resolves; then stops
/// accepting, lets every HTTP connection finish the request in hand (idle ones close at
/// once) and returns.
/// Upgraded connections (WebSockets) are their handlers' to close.
pub async fn serve<F>(
    listener: TcpListener,
    filter: F,
    gate: Arc<Gate>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let (stopping, stop) = tokio::sync::watch::channel(false);
    let connections = tokio_util::task::TaskTracker::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(gate.limits.header_timeout);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    accept_failed(&err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let place = match gate.enter(addr.ip()) {
            Ok(place) => place,
            Err(why) => {
                gate.refuse(stream, addr.ip(), why);
                continue;
            }
        };
        let io = TokioIo::new(Counted {
            stream,
            _place: place,
        });
        let service = warp::service(filter.clone());
        let service = hyper::service::service_fn(move |mut request| {
            request.extensions_mut().insert(Peer(addr));
            let mut service = service.clone();
            async move { tower_call(&mut service, request).await }
        });
        let connection = builder.serve_connection(io, service).with_upgrades();
        let mut stop = stop.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => Some(ended),
                _ = stop.wait_for(|stopping| *stopping) => None,
            };
            // On shutdown, finish the request in hand, then close; an idle connection closes
            // now.
            let ended = match ended {
                Some(ended) => ended,
                None => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(err) = ended {
                tracing::debug!("connection from {addr} ended: {err}");
            }
        });
    }
    drop(listener);
    stopping.send_replace(true);
    connections.close();
    connections.wait().await;
}

async fn tower_call<S, R>(service: &mut S, request: R) -> Result<S::Response, S::Error>
where
    S: tower_service::Service<R>,
{
    std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
    service.call(request).await
}

/// An accept that failed: out of file descriptors or memory is worth a pause (the socket
/// stays in the backlog); anything else (a peer that reset before we accepted) is not.
async fn accept_failed(err: &io::Error) {
    let pressing = matches!(err.raw_os_error(), Some(23 | 24 | 12 | 105));
    if pressing {
        tracing::warn!("cannot accept a connection: {err}; pausing 100 ms");
        tokio::time::sleep(Duration::from_millis(100)).await;
    } else {
        tracing::debug!("accept failed: {err}");
    }
}

/// Raises this process's open-files soft limit to its hard limit; returns the new limit.
pub fn raise_open_files() -> io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

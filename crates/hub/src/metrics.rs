//! What the hub counts for `/metrics` (Prometheus text format, version 0.0.4) and the
//! `/healthz` probe. Counters are relaxed atomics bumped where things happen; gauges are read
//! when scraped. Nothing here holds a lock on a hot path.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::Reply;

use crate::HubState;

/// Upper bounds of the send→ack latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
pub(crate) struct Metrics {
    pub messages_sent: AtomicU64,
    pub resyncs: AtomicU64,
    pub uploads: AtomicU64,
    pub upload_bytes: AtomicU64,
    send_ack: Histogram,
}

#[derive(Default)]
struct Histogram {
    /// Observations at or below each bound (not cumulative; summed when scraped).
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Metrics {
    /// A message committed and acknowledged, `took` after its frame or request arrived.
    pub fn sent(&self, took: Duration) {
        self.messages_sent.fetch_add(1, Ordering::Relaxed);
        let seconds = took.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| seconds <= *b) {
            self.send_ack.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.send_ack.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.send_ack
            .sum_micros
            .fetch_add(micros, Ordering::Relaxed);
    }

    pub fn uploaded(&self, bytes: u64) {
        self.uploads.fetch_add(1, Ordering::Relaxed);
        self.upload_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// `GET /metrics`.
pub(crate) fn render(state: &HubState) -> Response {
    let m = &state.metrics;
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let mut out = String::with_capacity(4096);
    let mut family = |name: &str, kind: &str, help: &str, value: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    family(
        "chinwag_connections",
        "gauge",
        "WebSocket connections open now.",
        state.fanout.connection_count().to_string(),
    );
    family(
        "chinwag_tcp_connections",
        "gauge",
        "TCP connections open now (HTTP and WebSocket).",
        state.gate.open().to_string(),
    );
    family(
        "chinwag_connections_refused_total",
        "counter",
        "Connections turned away at accept: over the per-address or the total cap.",
        state.gate.refused().to_string(),
    );
    family(
        "chinwag_users_online",
        "gauge",
        "People with at least one connection open (online or away).",
        state.fanout.online_count().to_string(),
    );
    family(
        "chinwag_messages_sent_total",
        "counter",
        "Messages committed and acknowledged to their sender (resends of the same client id not counted).",
        get(&m.messages_sent).to_string(),
    );
    family(
        "chinwag_deliveries_total",
        "counter",
        "Event frames queued to connections (one per receiving connection).",
        state.fanout.deliveries().to_string(),
    );
    family(
        "chinwag_resyncs_total",
        "counter",
        "Times a connection fell behind its queue and was caught up from the store.",
        get(&m.resyncs).to_string(),
    );
    family(
        "chinwag_uploads_total",
        "counter",
        "Files uploaded.",
        get(&m.uploads).to_string(),
    );
    family(
        "chinwag_upload_bytes_total",
        "counter",
        "Bytes of files uploaded.",
        get(&m.upload_bytes).to_string(),
    );
    family(
        "chinwag_store_bytes",
        "gauge",
        "Size of the database on disk, with its write-ahead log.",
        store_bytes(&state.db_path).to_string(),
    );
    let name = "chinwag_send_ack_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time from a send arriving to its acknowledgement (committed).\n\
         # TYPE {name} histogram"
    );
    let mut cumulative = 0;
    for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&m.send_ack.buckets) {
        cumulative += get(bucket);
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    let count = get(&m.send_ack.count);
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let sum = get(&m.send_ack.sum_micros) as f64 / 1e6;
    let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");

    let mut response = Response::new(out.into());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// The database file and its write-ahead log, in bytes.
pub(crate) fn store_bytes(db_path: &std::path::Path) -> u64 {
    let size = |suffix: &str| {
        let mut path = db_path.to_owned().into_os_string();
        path.push(suffix);
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    };
    size("") + size("-wal")
}

/// `GET /healthz`: 200 when the hub answers and its store commits a write, 503 otherwise.
pub(crate) async fn health(state: Arc<HubState>) -> Response {
    let checked = state.store.write(|tx| tx.touch_health()).await;
    let (status, body) = match checked {
        Ok(()) => (
            StatusCode::OK,
            serde_json::json!({"status": "ok", "store": "writable"}),
        ),
        Err(err) => {
            tracing::warn!("health check: the store cannot write: {err}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"status": "failing", "store": err.to_string()}),
            )
        }
    };
    let mut response = warp::reply::with_status(warp::reply::json(&body), status).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

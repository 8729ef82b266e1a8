//! Request bodies: how fast they must arrive ([`Pace`]) and how big they may be
//! ([`read_body`]). Both servers read every body through [`paced`], so a client that opens a
//! request and trickles (or never sends) its body is answered `408 timeout` and let go,
//! whatever the route.

use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use chinwag_proto::{ApiError, ErrorCode};
use futures_util::{Stream, StreamExt};
use tokio::time::Instant;

/// How a body must arrive: every `window` must bring at least `min_bytes` (a body that stops,
/// or slows to a trickle, is dropped), and the whole of it must be in by `deadline` when
/// there is one.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub window: Duration,
    pub min_bytes: u64,
    pub deadline: Option<Duration>,
}

impl Pace {
    /// A small body (JSON): all of it within `total`.
    pub fn within(total: Duration) -> Pace {
        Pace {
            window: total,
            min_bytes: 0,
            deadline: Some(total),
        }
    }

    fn stalled(&self) -> ApiError {
        let secs = self.window.as_secs_f32();
        let what = match self.min_bytes {
            0 | 1 => format!("no bytes arrived for {secs} seconds"),
            n => format!("fewer than {n} bytes arrived in {secs} seconds"),
        };
        ApiError::new(
            ErrorCode::Timeout,
            format!("The request body stalled: {what}. Nothing was kept; send it again."),
        )
    }

    fn late(total: Duration) -> ApiError {
        ApiError::new(
            ErrorCode::Timeout,
            format!(
                "The request body did not arrive within {} seconds. Nothing was kept; send it \
                 again.",
                total.as_secs_f32()
            ),
        )
    }
}

/// `body` as a stream of chunks that ends in a `408 timeout` error when it falls behind
/// `pace`, or a `400` when the client cuts it off.
pub fn paced<S, B>(body: S, pace: Pace) -> impl Stream<Item = Result<B, ApiError>> + Send
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf + Send,
{
    struct Reading<S> {
        body: std::pin::Pin<Box<S>>,
        window_end: Instant,
        window_bytes: u64,
        deadline: Option<Instant>,
        done: bool,
    }
    let now = Instant::now();
    let reading = Reading {
        body: Box::pin(body),
        window_end: now + pace.window,
        window_bytes: 0,
        deadline: pace.deadline.map(|d| now + d),
        done: false,
    };
    futures_util::stream::unfold(reading, move |mut r| async move {
        if r.done {
            return None;
        }
        loop {
            let wake = r
                .deadline
                .map_or(r.window_end, |deadline| deadline.min(r.window_end));
            let failed = match tokio::time::timeout_at(wake, r.body.next()).await {
                Ok(Some(Ok(chunk))) => {
                    r.window_bytes += chunk.remaining() as u64;
                    return Some((Ok(chunk), r));
                }
                Ok(Some(Err(err))) => ApiError::bad_request(format!(
                    "The request body was cut off before its end: {err}."
                )),
                Ok(None) => return None,
                Err(_) if r.deadline.is_some_and(|d| Instant::now() >= d) => {
                    Pace::late(pace.deadline.unwrap_or_default())
                }
                Err(_) if r.window_bytes < pace.min_bytes.max(1) => pace.stalled(),
                Err(_) => {
                    r.window_end = Instant::now() + pace.window;
                    r.window_bytes = 0;
                    continue;
                }
            };
            r.done = true;
            return Some((Err(failed), r));
        }
    })
}

/// Reads a request body at `pace`, refusing (413 `too_large`) past `limit` bytes without
/// buffering more.
pub async fn read_body<S, B>(body: S, limit: usize, pace: Pace) -> Result<Bytes, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf + Send,
{
    let mut body = std::pin::pin!(paced(body, pace));
    let mut out = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk?;
        if out.len() + chunk.remaining() > limit {
            return Err(ApiError::new(
                ErrorCode::TooLarge,
                format!("The request body is larger than the limit of {limit} bytes."),
            ));
        }
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            let n = piece.len();
            out.extend_from_slice(piece);
            chunk.advance(n);
        }
    }
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    type Chunk = Result<Bytes, warp::Error>;

    /// Chunks of `size` bytes, one every `every`.
    fn trickle(size: usize, every: Duration, n: usize) -> impl Stream<Item = Chunk> + Send {
        stream::iter(0..n).then(move |_| async move {
            tokio::time::sleep(every).await;
            Ok(Bytes::from(vec![b'x'; size]))
        })
    }

    async fn outcome(body: impl Stream<Item = Chunk> + Send, pace: Pace) -> Result<usize, String> {
        read_body(body, 1 << 20, pace)
            .await
            .map(|b| b.len())
            .map_err(|e| e.message)
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_keeps_its_pace_is_read_whole() {
        let pace = Pace {
            window: Duration::from_secs(1),
            min_bytes: 100,
            deadline: None,
        };
        let slow_but_steady = trickle(100, Duration::from_millis(900), 20);
        assert_eq!(outcome(slow_but_steady, pace).await, Ok(2000));
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_under_the_pace_is_dropped() {
        let pace = Pace {
            window: Duration::from_secs(1),
            min_bytes: 100,
            deadline: None,
        };
        // One byte every 200 ms never stops, but five bytes a second is under the pace.
        let err = outcome(trickle(1, Duration::from_millis(200), 1000), pace).await;
        assert_eq!(
            err,
            Err(
                "The request body stalled: fewer than 100 bytes arrived in 1 seconds. Nothing \
                 was kept; send it again."
                    .into()
            )
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_small_body_must_arrive_by_its_deadline() {
        let pace = Pace::within(Duration::from_secs(10));
        // A byte a second would pass any idle rule; the deadline still ends it.
        let err = outcome(trickle(1, Duration::from_secs(1), 100), pace).await;
        assert_eq!(
            err,
            Err(
                "The request body did not arrive within 10 seconds. Nothing was kept; send it \
                 again."
                    .into()
            )
        );
        let silent = stream::pending::<Chunk>();
        let err = outcome(silent, pace).await.expect_err("nothing arrives");
        assert!(err.contains("within 10 seconds"), "{err}");
        assert_eq!(
            outcome(trickle(10, Duration::from_secs(1), 3), pace).await,
            Ok(30)
        );
    }
}

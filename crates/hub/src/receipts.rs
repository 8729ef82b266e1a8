//! Receipts coalesced per person and conversation.
//!
//! Every client reports `delivered` and `read` as messages arrive; in a busy channel that is
//! many moves a second per person, each a durable update and an event. The first report after
//! a quiet [`WINDOW`] is written at once (a one-to-one chat sees its ticks without delay);
//! reports within the window after a write are merged (each position's maximum) and written
//! as one update when the window ends, or at once when the hub stops. A report with a `ref`
//! (whose sender waits for `ok`) and a REST receipt are written at once, taking any merged
//! report with them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chinwag_proto::{ApiError, ConversationId, Seq, UserId};

use crate::HubState;

/// At most one durable receipt per person and conversation in this time, past the first.
pub(crate) const WINDOW: Duration = Duration::from_secs(1);

/// How often slots idle for a window are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

type Key = (UserId, ConversationId);

#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
struct Positions {
    delivered: Option<Seq>,
    read: Option<Seq>,
}

impl Positions {
    fn merge(self, other: Positions) -> Positions {
        let max = |a: Option<Seq>, b: Option<Seq>| a.max(b);
        Positions {
            delivered: max(self.delivered, other.delivered),
            read: max(self.read, other.read),
        }
    }
}

struct Slot {
    /// The last write, `None` before the first.
    written_at: Option<Instant>,
    /// Merged reports waiting for the window's end; `Some` while a flush is scheduled.
    pending: Option<Positions>,
}

struct Slots {
    map: HashMap<Key, Slot>,
    swept_at: Instant,
}

/// What to do with a report.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Write these positions now (the report's, with any merged ones).
    Now(Option<Seq>, Option<Seq>),
    /// Merged into the write at the window's end.
    Later,
}

#[derive(Clone)]
pub(crate) struct Receipts {
    slots: Arc<Mutex<Slots>>,
    window: Duration,
}

impl Receipts {
    pub(crate) fn new(window: Duration) -> Receipts {
        Receipts {
            slots: Arc::new(Mutex::new(Slots {
                map: HashMap::new(),
                swept_at: Instant::now(),
            })),
            window,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Plans a report. `Later` means the caller must make sure a flush runs at
    /// `deadline` (it is `Some` only for the report that scheduled it).
    fn plan(
        &self,
        key: Key,
        report: Positions,
        now: Instant,
        at_once: bool,
    ) -> (Plan, Option<Instant>) {
        let mut slots = self.lock();
        if now.duration_since(slots.swept_at) >= SWEEP_EVERY {
            let window = self.window;
            slots.map.retain(|_, s| {
                s.pending.is_some() || s.written_at.is_some_and(|w| now.duration_since(w) < window)
            });
            slots.swept_at = now;
        }
        let slot = slots.map.entry(key).or_insert(Slot {
            written_at: None,
            pending: None,
        });
        let open = match slot.written_at {
            Some(written) if !at_once && now.duration_since(written) < self.window => written,
            _ => {
                let merged = slot.pending.take().unwrap_or_default().merge(report);
                slot.written_at = Some(now);
                return (Plan::Now(merged.delivered, merged.read), None);
            }
        };
        let scheduled = slot.pending.is_some();
        slot.pending = Some(slot.pending.unwrap_or_default().merge(report));
        let deadline = (!scheduled).then_some(open + self.window);
        (Plan::Later, deadline)
    }

    /// The merged positions due at a flush, if a write at once has not taken them.
    fn take(&self, key: Key, now: Instant) -> Option<Positions> {
        let mut slots = self.lock();
        let slot = slots.map.get_mut(&key)?;
        let due = slot.pending.take()?;
        slot.written_at = Some(now);
        Some(due)
    }

    /// Plans `me`'s report and schedules the window's write when it is merged. A merged
    /// report that then fails (a position past the latest message, say) is told to `me`'s
    /// connections as an `error` without `ref`.
    pub(crate) fn report(
        &self,
        hub: &HubState,
        me: UserId,
        conversation: ConversationId,
        delivered: Option<Seq>,
        read: Option<Seq>,
        at_once: bool,
    ) -> Plan {
        let key = (me, conversation);
        let (plan, deadline) =
            self.plan(key, Positions { delivered, read }, Instant::now(), at_once);
        if let Some(deadline) = deadline {
            let receipts = self.clone();
            let store = hub.store.clone();
            let fanout = hub.fanout.clone();
            let mut stop = hub.shutdown.subscribe();
            hub.tasks.spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline.into()) => {}
                    _ = stop.wait_for(|stopping| *stopping) => {}
                }
                let Some(due) = receipts.take(key, Instant::now()) else {
                    return;
                };
                let written = store
                    .write(move |tx| tx.receipt(me, conversation, due.delivered, due.read))
                    .await;
                if let Err(err) = written {
                    let err = ApiError::from(err);
                    tracing::debug!(user = me.get(), "a merged receipt failed: {}", err.message);
                    fanout.to_user(me, &err.frame(None));
                }
            });
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(p: (Option<Seq>, Option<Seq>)) -> Positions {
        Positions {
            delivered: p.0,
            read: p.1,
        }
    }

    #[test]
    fn the_first_report_goes_at_once_and_the_rest_of_the_window_is_one_write() {
        let receipts = Receipts::new(Duration::from_secs(1));
        let key = (UserId(1), ConversationId(1));
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        assert_eq!(
            receipts.plan(key, at((Some(1), None)), t0, false),
            (Plan::Now(Some(1), None), None)
        );
        // Two more within the window: merged, one flush scheduled at the window's end.
        assert_eq!(
            receipts.plan(key, at((Some(3), None)), ms(100), false),
            (Plan::Later, Some(ms(1000)))
        );
        assert_eq!(
            receipts.plan(key, at((None, Some(2))), ms(200), false),
            (Plan::Later, None)
        );
        // Another person or conversation has its own window.
        assert!(matches!(
            receipts
                .plan(
                    (UserId(2), ConversationId(1)),
                    at((Some(3), None)),
                    ms(200),
                    false
                )
                .0,
            Plan::Now(..)
        ));
        assert_eq!(receipts.take(key, ms(1000)), Some(at((Some(3), Some(2)))));
        assert_eq!(receipts.take(key, ms(1000)), None, "taken once");
        // The flush's write opened a new window.
        assert_eq!(
            receipts.plan(key, at((Some(4), None)), ms(1500), false),
            (Plan::Later, Some(ms(2000)))
        );
        // A report whose sender waits for `ok` goes at once, with what was merged.
        assert_eq!(
            receipts.plan(key, at((None, Some(4))), ms(1600), true),
            (Plan::Now(Some(4), Some(4)), None)
        );
        assert_eq!(receipts.take(key, ms(2000)), None, "nothing left to flush");
    }

    #[test]
    fn idle_slots_are_swept() {
        let receipts = Receipts::new(Duration::from_secs(1));
        let t0 = Instant::now();
        for u in 1..=100 {
            receipts.plan(
                (UserId(u), ConversationId(1)),
                at((Some(1), None)),
                t0,
                false,
            );
        }
        receipts.plan(
            (UserId(1), ConversationId(1)),
            at((Some(2), None)),
            t0,
            false,
        );
        let later = t0 + SWEEP_EVERY + Duration::from_secs(1);
        receipts.plan(
            (UserId(200), ConversationId(1)),
            at((Some(1), None)),
            later,
            false,
        );
        let slots = receipts.lock();
        // User 1's merged report waits for its flush; the idle ones are gone.
        assert_eq!(slots.map.len(), 2);
    }
}

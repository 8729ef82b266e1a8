//! A bounded queue between one producer and one consumer that costs nothing while empty.
//!
//! Every connection has two (frames from the fan-out, replies from its reader task), and an
//! office hub keeps thousands of connections idle. `tokio::sync::mpsc` allocates its first
//! block of 32 slots up front (1.5–2 KiB per channel here, measured with heaptrack); a
//! `VecDeque` allocates only once something is queued and so an idle connection's queues are
//! a few dozen bytes.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

struct Shared<T> {
    // std Mutex: held for a push or a pop, never across an await.
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    /// Signalled when an item is pushed or the sender goes.
    item: Notify,
    /// Signalled when an item is taken or the receiver goes.
    room: Notify,
    sender_gone: AtomicBool,
    receiver_gone: AtomicBool,
}

impl<T> Shared<T> {
    fn items(&self) -> MutexGuard<'_, VecDeque<T>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pop(&self) -> Option<T> {
        let value = self.items().pop_front();
        if value.is_some() {
            self.room.notify_one();
        }
        value
    }
}

/// Why [`Sender::try_send`] gave the value back.
#[derive(Debug, PartialEq, Eq)]
pub enum TrySendError<T> {
    Full(T),
    Closed(T),
}

pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

/// A queue holding at most `capacity` items (at least one).
pub fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        items: Mutex::new(VecDeque::new()),
        capacity: capacity.max(1),
        item: Notify::new(),
        room: Notify::new(),
        sender_gone: AtomicBool::new(false),
        receiver_gone: AtomicBool::new(false),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

impl<T> Sender<T> {
    /// Queues `value` if there is room, without waiting.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        if self.shared.receiver_gone.load(Ordering::Acquire) {
            return Err(TrySendError::Closed(value));
        }
        {
            let mut items = self.shared.items();
            if items.len() >= self.shared.capacity {
                return Err(TrySendError::Full(value));
            }
            items.push_back(value);
        }
        // One consumer: `notify_one` stores a permit if it is not waiting yet.
        self.shared.item.notify_one();
        Ok(())
    }

    /// Queues `value`, waiting for room; gives it back if the receiver is gone.
    pub async fn send(&self, mut value: T) -> Result<(), T> {
        loop {
            let room = self.shared.room.notified();
            match self.try_send(value) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Closed(back)) => return Err(back),
                Err(TrySendError::Full(back)) => {
                    value = back;
                    room.await;
                }
            }
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.sender_gone.store(true, Ordering::Release);
        self.shared.item.notify_one();
    }
}

impl<T> Receiver<T> {
    /// The next item; `None` once the queue is empty and the sender is gone.
    pub async fn recv(&mut self) -> Option<T> {
        let shared = &*self.shared;
        loop {
            let item = shared.item.notified();
            if let Some(value) = shared.pop() {
                return Some(value);
            }
            if shared.sender_gone.load(Ordering::Acquire) {
                // The sender may have pushed just before it went.
                return shared.pop();
            }
            item.await;
        }
    }

    /// The next item if one is queued.
    pub fn try_recv(&mut self) -> Option<T> {
        self.shared.pop()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shared.items().len()
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.receiver_gone.store(true, Ordering::Release);
        self.shared.room.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn keeps_order_bounds_and_ends() {
        let (tx, mut rx) = bounded(2);
        tx.try_send(1).expect("room");
        tx.try_send(2).expect("room");
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        assert_eq!(rx.len(), 2);
        assert_eq!(rx.recv().await, Some(1));
        tx.try_send(3).expect("room again");
        drop(tx);
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, Some(3));
        assert_eq!(rx.recv().await, None, "empty and the sender is gone");
    }

    #[tokio::test]
    async fn send_waits_for_room_and_recv_waits_for_items() {
        let (tx, mut rx) = bounded(1);
        let producer = tokio::spawn(async move {
            for i in 0..100 {
                tx.send(i).await.expect("receiver alive");
            }
        });
        for i in 0..100 {
            let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("no lost wake-up");
            assert_eq!(got, Some(i));
        }
        producer.await.expect("producer");
        assert_eq!(rx.recv().await, None);
    }

    // Paused time: the sleep ends as soon as every task waits, so the sender is parked on
    // the full queue when the receiver goes, on any machine and without waiting.
    #[tokio::test(start_paused = true)]
    async fn a_gone_receiver_refuses_and_wakes_a_waiting_sender() {
        let (tx, rx) = bounded(1);
        tx.try_send(1).expect("room");
        let waiting = tokio::spawn(async move { tx.send(2).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(rx);
        let back = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("woken")
            .expect("task");
        assert_eq!(back, Err(2));
    }
}

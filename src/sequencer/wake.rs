//! Waiting on the sequencer's two queues (batches to the storage thread; jobs, which the engine
//! thread only waits on as a safety net since the threads that queue them run them: see
//! `engine_thread`) without spinning. crossbeam's blocking `recv` spins and then calls `sched_yield`
//! several times before it parks; on two cores shared with the HTTP workers (and, in the load
//! benchmark, the clients) those yields were ~11% of the server's CPU under signed Balance load
//! (BENCHMARKS.md §4). Here the receiver polls the channel once, says it is going to sleep, polls
//! again, and parks; a sender wakes it only when it said so (one futex wake, no yields). The
//! channel itself (crossbeam's, with its bounds and disconnection) is unchanged; a timed park
//! notices a disconnection that no message announced.
//!
//! The fan-out threads outside the sequencer (the market-data publisher, the private fan-out)
//! receive the storage thread's committed batches the same way, through [`queue`]: under AddOrder
//! load the publisher's crossbeam `iter()` was ~5% of the server's samples, nearly all of it
//! spinning and yielding between batches.

use crossbeam_channel::{Receiver, RecvError, SendError, Sender, TryRecvError};
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;
use std::thread::Thread;
use std::time::Duration;

/// The receiving thread's doorbell, shared by every sender of one queue.
#[derive(Default)]
pub(super) struct Wake {
    sleeping: AtomicBool,
    thread: OnceLock<Thread>,
}

impl Wake {
    /// A sender calls this after each message it queued.
    pub(super) fn notify(&self) {
        // Pairs with the fence in `recv`: either the receiver sees the message on its second
        // poll, or this sees `sleeping` and unparks it.
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) && self.sleeping.swap(false, Ordering::AcqRel) {
            if let Some(t) = self.thread.get() {
                t.unpark();
            }
        }
    }

    /// The next message, waiting for one without spinning; `Err` once every sender is gone and
    /// the queue is empty. Only one thread may receive through a given `Wake`.
    pub(super) fn recv<T>(&self, rx: &Receiver<T>) -> Result<T, RecvError> {
        loop {
            if let Some(m) = self.recv_until(rx, None, &|| false)? {
                return Ok(m);
            }
        }
    }

    /// [`Wake::recv`], returning `None` once `deadline` passes or `stop()` holds (checked after
    /// each wake-up: whoever makes it true calls [`Wake::notify`]).
    pub(super) fn recv_until<T>(
        &self,
        rx: &Receiver<T>,
        deadline: Option<std::time::Instant>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<T>, RecvError> {
        let _ = self.thread.get_or_init(std::thread::current);
        loop {
            match rx.try_recv() {
                Ok(m) => return Ok(Some(m)),
                Err(TryRecvError::Disconnected) => return Err(RecvError),
                Err(TryRecvError::Empty) => {}
            }
            let now = std::time::Instant::now();
            if stop() || deadline.is_some_and(|d| now >= d) {
                return Ok(None);
            }
            self.sleeping.store(true, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            match rx.try_recv() {
                Ok(m) => {
                    self.sleeping.store(false, Ordering::Relaxed);
                    return Ok(Some(m));
                }
                Err(TryRecvError::Disconnected) => return Err(RecvError),
                Err(TryRecvError::Empty) => {}
            }
            // A wake-up that came between the store and here leaves the park token set, so this
            // returns at once; the timeout only bounds how late a bare disconnection is seen.
            if stop() {
                self.sleeping.store(false, Ordering::Relaxed);
                return Ok(None);
            }
            let nap = Duration::from_millis(50);
            std::thread::park_timeout(deadline.map_or(nap, |d| d.saturating_duration_since(now).min(nap)));
            self.sleeping.store(false, Ordering::Relaxed);
        }
    }

    /// Returns once `rx` holds a message, or after a wake-up or 50 ms, whichever comes first
    /// (the caller looks at the queue itself, under its own lock).
    pub(super) fn wait_for<T>(&self, rx: &Receiver<T>) {
        let _ = self.thread.get_or_init(std::thread::current);
        if !rx.is_empty() {
            return;
        }
        self.sleeping.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if rx.is_empty() {
            std::thread::park_timeout(Duration::from_millis(50));
        }
        self.sleeping.store(false, Ordering::Relaxed);
    }
}

/// The sending end of a [`queue`]: each message rings the receiver's doorbell.
pub struct Ringing<T> {
    tx: Sender<T>,
    wake: Arc<Wake>,
}

impl<T> Ringing<T> {
    pub fn send(&self, m: T) -> Result<(), SendError<T>> {
        let sent = self.tx.send(m);
        self.wake.notify();
        sent
    }
}

/// The receiving end of a [`queue`] (one thread receives).
pub struct Waiting<T> {
    rx: Receiver<T>,
    wake: Arc<Wake>,
}

impl<T> Waiting<T> {
    /// The next message, parked until one comes; `Err` once the sender is gone and the queue empty.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.wake.recv(&self.rx)
    }
}

/// An unbounded queue whose receiver waits without spinning (see the module doc).
pub fn queue<T>() -> (Ringing<T>, Waiting<T>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let wake = Arc::new(Wake::default());
    (Ringing { tx, wake: wake.clone() }, Waiting { rx, wake })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_arrives_and_disconnection_ends_the_wait() {
        let (tx, rx) = crossbeam_channel::bounded::<u64>(4);
        let wake = Arc::new(Wake::default());
        let w2 = wake.clone();
        let receiver = std::thread::spawn(move || {
            let mut sum = 0;
            while let Ok(v) = w2.recv(&rx) {
                sum += v;
            }
            sum
        });
        for i in 1..=20_000u64 {
            tx.send(i).unwrap();
            wake.notify();
            if i % 1000 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        drop(tx);
        assert_eq!(receiver.join().unwrap(), 20_000 * 20_001 / 2);
    }
}

//! Counters of the WebSocket clients the bounds of [`super::limits`] turned away, for /metrics:
//! refused before or while connecting (per-address cap, attempt rate, a frame over
//! `max_message_bytes`) and dropped once connected (a full queue, a write past its deadline, a
//! request flood). An operator sees from them which bound bites, and whether a figure of `[ws]`
//! is too tight for the clients it serves.
//!
//! The counters are process-wide, like the panic counter: the bounds are checked in places that
//! share nothing but the process (the upgrade, each connection's task, each write), and one
//! process serves one exchange. `Telemetry::new` registers them.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use std::sync::LazyLock;

/// The `reason` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    pub reason: &'static str,
}

/// Why a client was refused: before the upgrade (HTTP 429) or for a frame too big.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    PerAddressCap,
    AttemptRate,
    FrameTooBig,
}

impl Refused {
    pub const ALL: [Refused; 3] = [Refused::PerAddressCap, Refused::AttemptRate, Refused::FrameTooBig];
    pub fn label(self) -> &'static str {
        match self {
            Refused::PerAddressCap => "per_address_cap",
            Refused::AttemptRate => "attempt_rate",
            Refused::FrameTooBig => "frame_too_big",
        }
    }
}

/// Why a connected client was disconnected by the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// Its queue was full (`client_queue`): it did not read fast enough.
    SlowClient,
    /// One write took longer than `write_timeout_ms`.
    WriteDeadline,
    /// It kept sending past its request rate (`close_after_refused`): closed with 1008.
    RequestRate,
}

impl Dropped {
    pub const ALL: [Dropped; 3] = [Dropped::SlowClient, Dropped::WriteDeadline, Dropped::RequestRate];
    pub fn label(self) -> &'static str {
        match self {
            Dropped::SlowClient => "slow_client",
            Dropped::WriteDeadline => "write_deadline",
            Dropped::RequestRate => "request_rate",
        }
    }
}

/// The two families (`calamari_ws_refused_total`, `calamari_ws_dropped_total`).
pub struct WsStats {
    pub refused: Family<Reason, Counter>,
    pub dropped: Family<Reason, Counter>,
}

pub static STATS: LazyLock<WsStats> = LazyLock::new(|| {
    let stats = WsStats { refused: Family::default(), dropped: Family::default() };
    // Every reason shown from the start, at 0.
    for r in Refused::ALL {
        drop(stats.refused.get_or_create(&Reason { reason: r.label() }));
    }
    for d in Dropped::ALL {
        drop(stats.dropped.get_or_create(&Reason { reason: d.label() }));
    }
    stats
});

pub fn refused(why: Refused) {
    STATS.refused.get_or_create(&Reason { reason: why.label() }).inc();
}

pub fn dropped(why: Dropped) {
    STATS.dropped.get_or_create(&Reason { reason: why.label() }).inc();
}

/// Counts a read error of a connection that is a frame or message over `max_message_bytes`
/// (tungstenite's capacity error, as axum passes it on).
pub fn note_read_error(e: &axum::Error) {
    let text = e.to_string();
    if text.contains("Message too long") || text.contains("Space limit exceeded") {
        refused(Refused::FrameTooBig);
    }
}

/// The value of one counter (tests).
pub fn count_refused(why: Refused) -> u64 {
    STATS.refused.get_or_create(&Reason { reason: why.label() }).get()
}

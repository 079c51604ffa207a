//! Bounds on the WebSocket API, so that no client can take more than its share of the server:
//! open connections per client address and connection attempts per client address (a draining
//! counter; both refused with HTTP 429 before the upgrade), the size of
//! one request frame, the rate of requests on one connection (a draining counter, as REST's
//! limits: over it a request gets Kraken's `EGeneral:Too many requests` ack, and a connection
//! that keeps flooding is closed with 1008), the outbound queue per client (a client that falls
//! behind is dropped by the publisher) and the time one write may take (a client that stops
//! reading is closed, so its task and socket never linger). Subscriptions per connection are
//! bounded in `conn.rs` (`MAX_SUBSCRIPTIONS`). Every refusal and drop is counted for /metrics
//! ([`super::refusals`]).
//!
//! Kraken documents none of these figures for its spot WebSocket v2 (its message rate is
//! "dynamic"); the defaults are generous fixed ones, set in the config's `[ws]` table.

use super::refusals::{self, Dropped, Refused};
use crate::limits::addresses::{AddressTable, Entry};
use crate::limits::counter::{Counter, Rule, UNIT};
use axum::extract::ws::{CloseFrame, Message};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{Sink, SinkExt};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `[ws]` table of the config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WsConfig {
    /// WebSocket connections one client address may hold open at once.
    pub max_connections_per_address: usize,
    /// Connection attempts (upgrades) one client address may make per second on average ...
    pub connection_attempts_per_second: u64,
    /// ... and at once after a quiet spell.
    pub connection_attempt_burst: u64,
    /// Largest request frame (and message) accepted, in bytes.
    pub max_message_bytes: usize,
    /// Requests per second one connection may send on average ...
    pub messages_per_second: u64,
    /// ... and at once after a quiet spell.
    pub message_burst: u64,
    /// Requests refused for rate (draining one a second) before the connection is closed (1008).
    pub close_after_refused: u64,
    /// Messages queued for one client before it counts as too slow and is disconnected.
    pub client_queue: usize,
    /// Milliseconds one write to a client may take before the connection is closed.
    pub write_timeout_ms: u64,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            max_connections_per_address: 1024,
            connection_attempts_per_second: 100,
            connection_attempt_burst: 2048,
            max_message_bytes: 64 * 1024,
            messages_per_second: 50,
            message_burst: 100,
            close_after_refused: 50,
            client_queue: super::publisher::CLIENT_QUEUE,
            write_timeout_ms: 10_000,
        }
    }
}

impl WsConfig {
    /// Refuses figures that would make the WebSocket API unusable or unbounded.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("max_connections_per_address", self.max_connections_per_address as u64),
            ("connection_attempts_per_second", self.connection_attempts_per_second),
            ("connection_attempt_burst", self.connection_attempt_burst),
            ("max_message_bytes", self.max_message_bytes as u64),
            ("messages_per_second", self.messages_per_second),
            ("message_burst", self.message_burst),
            ("close_after_refused", self.close_after_refused),
            ("client_queue", self.client_queue as u64),
            ("write_timeout_ms", self.write_timeout_ms),
        ];
        for (name, v) in positive {
            if v == 0 || v > 1_000_000_000 {
                return Err(format!("ws.{name}: must be between 1 and 1e9"));
            }
        }
        if self.max_message_bytes < 1024 {
            return Err("ws.max_message_bytes: at least 1024".into());
        }
        Ok(())
    }
}

/// Client addresses whose connection attempts are tracked at most (an address whose counter
/// has drained is displaced first: see `limits::addresses`).
const ATTEMPT_ADDRESSES: usize = 65_536;

/// One address's connection attempts: a draining counter under the `[ws]` rule.
#[derive(Debug, Clone, Copy)]
struct Attempts {
    counter: Counter,
    rule: Rule,
}

impl Default for Attempts {
    fn default() -> Self {
        Attempts { counter: Counter::default(), rule: Rule { max: 0, decay_per_sec: 0 } }
    }
}

impl Entry for Attempts {
    fn is_idle(&self, now_us: u64) -> bool {
        self.counter.level_at(self.rule, now_us) == 0
    }
    fn is_pinned(&self, _now_us: u64) -> bool {
        false
    }
    fn last_seen_us(&self) -> u64 {
        self.counter.at_us
    }
}

/// Why an upgrade was refused (HTTP 429 either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `max_connections_per_address` open already.
    Connections,
    /// Over `connection_attempt_burst`, draining `connection_attempts_per_second`.
    Attempts,
}

/// The server-wide part: the configuration, the open connections and the connection attempts
/// per client address.
pub struct WsLimits {
    pub cfg: WsConfig,
    trusted_proxies: Vec<IpNet>,
    open: Mutex<HashMap<IpAddr, usize>>,
    attempts: Mutex<AddressTable<Attempts>>,
}

impl WsLimits {
    pub fn new(cfg: WsConfig, trusted_proxies: Vec<IpNet>) -> Arc<WsLimits> {
        let attempts = Mutex::new(AddressTable::new(ATTEMPT_ADDRESSES));
        Arc::new(WsLimits { cfg, trusted_proxies, open: Mutex::new(HashMap::new()), attempts })
    }

    /// Counts one connection attempt from `addr`; false when it is over the attempt rate.
    fn attempt(&self, addr: IpAddr, now_us: u64) -> bool {
        let rule = Rule { max: self.cfg.connection_attempt_burst * UNIT, decay_per_sec: self.cfg.connection_attempts_per_second * UNIT };
        let mut table = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let entry = table.entry(addr, now_us);
        entry.rule = rule;
        entry.counter.try_add(rule, UNIT, now_us)
    }

    /// The client's address, found as REST finds it (trusted proxies' `X-Forwarded-For`).
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        crate::api::client_address_behind(&self.trusted_proxies, peer, headers)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections open from `addr`.
    pub fn open_from(&self, addr: IpAddr) -> usize {
        self.lock().get(&addr).copied().unwrap_or(0)
    }

    /// A slot for one more connection from `addr`, or the refusal (counted for /metrics): over
    /// the attempt rate (an attempt refused for it is not counted against it), or at the cap of
    /// open connections. The slot is given back when the session holding it is dropped (the
    /// connection ended, or the upgrade failed).
    pub fn admit(self: &Arc<Self>, addr: IpAddr, now_us: u64) -> Result<Session, Refusal> {
        if !self.attempt(addr, now_us) {
            refusals::refused(Refused::AttemptRate);
            return Err(Refusal::Attempts);
        }
        let mut open = self.lock();
        let n = open.entry(addr).or_insert(0);
        if *n >= self.cfg.max_connections_per_address {
            if *n == 0 {
                open.remove(&addr);
            }
            refusals::refused(Refused::PerAddressCap);
            return Err(Refusal::Connections);
        }
        *n += 1;
        drop(open);
        let rate = Rule { max: self.cfg.message_burst * UNIT, decay_per_sec: self.cfg.messages_per_second * UNIT };
        let strikes = Rule { max: self.cfg.close_after_refused * UNIT, decay_per_sec: UNIT };
        Ok(Session {
            limits: self.clone(),
            addr,
            gate: Gate { rate, strikes, sent: Counter { level: 0, at_us: now_us }, refused: Counter { level: 0, at_us: now_us } },
            missed_deadline: false,
        })
    }
}

/// The answer to a connection refused before any upgrade: over the per-address cap or the
/// attempt rate.
pub fn refused(why: Refusal) -> Response {
    let text = match why {
        Refusal::Connections => "Too many WebSocket connections from this address\n",
        Refusal::Attempts => "Too many WebSocket connection attempts from this address\n",
    };
    (StatusCode::TOO_MANY_REQUESTS, text).into_response()
}

/// What to do with one incoming request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Answer `EGeneral:Too many requests` and go on.
    Refuse,
    /// Close the connection with 1008.
    Close,
}

/// One connection's request rate: `sent` rises one a request and drains `messages_per_second`
/// a second up to `message_burst`; a request over it is refused and raises `refused`, which
/// drains one a second; past `close_after_refused` the connection is closed.
#[derive(Debug, Clone)]
pub struct Gate {
    rate: Rule,
    strikes: Rule,
    sent: Counter,
    refused: Counter,
}

impl Gate {
    pub fn check(&mut self, now_us: u64) -> Verdict {
        if self.sent.try_add(self.rate, UNIT, now_us) {
            return Verdict::Pass;
        }
        if self.refused.try_add(self.strikes, UNIT, now_us) {
            Verdict::Refuse
        } else {
            refusals::dropped(Dropped::RequestRate);
            Verdict::Close
        }
    }
}

/// One admitted connection: its slot in the per-address count and its request gate.
pub struct Session {
    limits: Arc<WsLimits>,
    addr: IpAddr,
    pub gate: Gate,
    /// A write to the client took longer than `write_timeout_ms`.
    missed_deadline: bool,
}

impl Session {
    pub fn client_queue(&self) -> usize {
        self.limits.cfg.client_queue
    }

    pub fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.limits.cfg.write_timeout_ms)
    }

    /// [`write`] within the connection's deadline; a write that misses it is remembered for
    /// [`Session::ended`].
    pub async fn write<S>(&mut self, sink: &mut S, msg: Message) -> bool
    where
        S: Sink<Message> + Unpin,
    {
        let ok = tokio::time::timeout(self.write_timeout(), sink.send(msg)).await;
        self.missed_deadline |= ok.is_err();
        matches!(ok, Ok(Ok(())))
    }

    /// The connection's end: counted as a drop for its write deadline if a write missed it,
    /// unless the publisher had dropped the client already (`dropped_slow`: counted there, the
    /// first cause, while this task was still blocked in the write).
    pub fn ended(&self, dropped_slow: bool) {
        if self.missed_deadline && !dropped_slow {
            refusals::dropped(Dropped::WriteDeadline);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let mut open = self.limits.lock();
        if let Some(n) = open.get_mut(&self.addr) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.addr);
            }
        }
    }
}

/// Writes one message within `timeout`; false when the write failed or timed out (the caller
/// then ends the connection, which drops the socket).
pub async fn write<S>(sink: &mut S, msg: Message, timeout: Duration) -> bool
where
    S: Sink<Message> + Unpin,
{
    matches!(tokio::time::timeout(timeout, sink.send(msg)).await, Ok(Ok(())))
}

/// Writes what is already queued for the client (its answers so far), then the close frame.
pub async fn flush_and_close<S>(
    sink: &mut S,
    rx: &mut tokio::sync::mpsc::Receiver<Arc<str>>,
    code: u16,
    reason: &'static str,
    timeout: Duration,
) where
    S: Sink<Message> + Unpin,
{
    while let Ok(m) = rx.try_recv() {
        if !write(sink, Message::Text(m.as_ref().into()), timeout).await {
            return;
        }
    }
    write(sink, close(code, reason), timeout).await;
}

/// After our close frame: reads (and ignores) what the client still sends until its close
/// frame, the end of the stream, or [`LINGER`]. Closing the socket with unread requests in its
/// receive buffer makes the kernel send a TCP reset, and a reset can discard what the client has
/// not read yet: the refusals and the close frame just written. RFC 6455 §7.1.1 has the server
/// wait for the client's close before closing TCP; this is that wait, bounded.
pub async fn linger<S>(stream: &mut S)
where
    S: futures_util::Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    use futures_util::StreamExt;
    let _ = tokio::time::timeout(LINGER, async {
        while let Some(Ok(m)) = stream.next().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// How long [`linger`] waits for the client's close.
pub const LINGER: Duration = Duration::from_secs(2);

/// A close frame with `code` and `reason`.
pub fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

/// The ack of a request refused for rate: Kraken's error, with the request's method and
/// `req_id` when it has them.
pub fn refused_ack(text: &str, time_in: u64) -> String {
    let req: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let method = req.get("method").and_then(|m| m.as_str()).unwrap_or("");
    let req_id = req.get("req_id").filter(|v| v.is_u64() || v.is_i64()).cloned();
    super::conn::ack(method, &req_id, time_in, Err(crate::error::ws::TOO_MANY_REQUESTS.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_address: usize) -> Arc<WsLimits> {
        let cfg = WsConfig {
            max_connections_per_address: per_address,
            messages_per_second: 10,
            message_burst: 20,
            close_after_refused: 5,
            ..WsConfig::default()
        };
        WsLimits::new(cfg, Vec::new())
    }

    #[test]
    fn connections_are_counted_per_address_and_given_back() {
        let l = limits(2);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let s1 = l.admit(a, 0).unwrap();
        let _s2 = l.admit(a, 0).unwrap();
        assert_eq!(l.admit(a, 0).err(), Some(Refusal::Connections));
        assert!(l.admit(b, 0).is_ok(), "another address has its own count");
        drop(s1);
        assert_eq!(l.open_from(a), 1);
        assert!(l.admit(a, 0).is_ok());
    }

    #[test]
    fn connection_attempts_drain_per_address() {
        let cfg = WsConfig { connection_attempt_burst: 5, connection_attempts_per_second: 2, ..WsConfig::default() };
        let l = WsLimits::new(cfg, Vec::new());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        // Attempts count whether or not the connection stays open.
        for _ in 0..5 {
            drop(l.admit(a, 1_000_000).expect("within the burst"));
        }
        assert_eq!(l.admit(a, 1_000_000).err(), Some(Refusal::Attempts));
        assert!(l.admit("10.0.0.2".parse().unwrap(), 1_000_000).is_ok(), "another address has its own counter");
        assert_eq!(l.admit(a, 1_400_000).err(), Some(Refusal::Attempts), "0.4 s drains less than one attempt");
        assert!(l.admit(a, 1_500_000).is_ok(), "0.5 s drains one at 2 a second");
        assert_eq!(l.admit(a, 1_500_000).err(), Some(Refusal::Attempts));
        assert_eq!(l.open_from(a), 0, "refused attempts hold no slot");
    }

    #[test]
    fn a_flood_is_refused_then_closed_and_a_pause_restores_it() {
        let l = limits(1);
        let mut s = l.admit("::1".parse().unwrap(), 0).unwrap();
        let verdicts: Vec<Verdict> = (0..30).map(|_| s.gate.check(1_000)).collect();
        assert!(verdicts[..20].iter().all(|v| *v == Verdict::Pass), "the burst passes");
        assert!(verdicts[20..25].iter().all(|v| *v == Verdict::Refuse), "then refused");
        assert_eq!(verdicts[25], Verdict::Close, "then closed");
        // At the rate it passes again: 10 a second.
        let mut t = 10_000_000;
        let mut s = l.admit("::2".parse().unwrap(), 0).unwrap();
        for _ in 0..200 {
            t += 100_000;
            assert_eq!(s.gate.check(t), Verdict::Pass);
        }
    }

    #[test]
    fn config_bounds() {
        assert!(WsConfig::default().validate().is_ok());
        assert!(WsConfig { messages_per_second: 0, ..WsConfig::default() }.validate().is_err());
        assert!(WsConfig { max_message_bytes: 10, ..WsConfig::default() }.validate().is_err());
    }
}

//! Call restrictions, as Kraken applies them: the per-key REST call counter, the matching
//! engine's per-account, per-pair trading counter and open-order cap, public limits per client
//! address, lockouts after repeated authentication failures, and the per-key in-flight cap
//! (`EService:Throttled`). [`Limits`] is the one object the request path asks; every method takes
//! the time as an input, so each rule is tested on a virtual clock.
//!
//! None of this is in the engine's command log: counters are policy in front of the engine, and
//! a restart starts them from zero (as a fresh Kraken session would see them).

pub mod addresses;
pub mod counter;
pub mod policy;
mod ratecount;
pub mod second_factor;
mod trading;

use crate::error::KrakenError;
use addresses::{AddressTable, Entry};
use counter::{Counter, Rule, UNIT};
pub use policy::{LimitsConfig, Policy, Profile, Tier};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
pub use trading::{amend_penalty, batch_cost, cancel_penalty, edit_penalty, TradingCharge};

/// Kraken's private methods that cost two on the REST counter.
pub fn is_history_method(method: &str) -> bool {
    matches!(method, "Ledgers" | "QueryLedgers" | "TradesHistory" | "QueryTrades")
}

/// Methods that go to the matching engine's limiter instead of the REST counter.
pub fn is_trading_method(method: &str) -> bool {
    matches!(
        method,
        "AddOrder"
            | "AddOrderBatch"
            | "AmendOrder"
            | "EditOrder"
            | "CancelOrder"
            | "CancelAll"
            | "CancelAllOrdersAfter"
            | "CancelOrderBatch"
    )
}

/// Refusals and events, for the operator's metrics.
#[derive(Default, Debug)]
pub struct LimitStats {
    pub rest_refused: AtomicU64,
    pub trading_refused: AtomicU64,
    pub orders_cap_refused: AtomicU64,
    pub public_refused: AtomicU64,
    pub lockouts_started: AtomicU64,
    pub locked_refused: AtomicU64,
    pub throttled: AtomicU64,
    pub auth_failures: AtomicU64,
}

/// What one address has done: its public counter and its run of authentication failures.
#[derive(Default, Debug, Clone, Copy)]
pub struct AddressState {
    pub public: Counter,
    /// When the public counter will have drained.
    pub public_idle_at_us: u64,
    /// Calls in the current fixed window, and when it started.
    pub window_calls: u64,
    pub window_start_us: u64,
    /// Invalid key/signature/nonce answers since the last accepted request.
    pub failures: u32,
    /// Locked out until then (0: not locked).
    pub locked_until_us: u64,
    pub last_seen_us: u64,
}

/// The unit an address is tracked by: IPv4 addresses one by one (IPv4-mapped IPv6 as IPv4), IPv6
/// by /64, the block one client is normally given, so that a client cannot walk its own /64 to
/// escape a lockout or fill the table.
pub fn tracked_unit(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it is; others unchanged.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// How long an address with failures but no lockout is remembered.
const FAILURE_MEMORY_US: u64 = 15 * 60 * 1_000_000;

impl Entry for AddressState {
    fn is_idle(&self, now_us: u64) -> bool {
        self.locked_until_us <= now_us
            && self.public_idle_at_us <= now_us
            && (self.failures == 0 || now_us > self.last_seen_us + FAILURE_MEMORY_US)
            && now_us > self.last_seen_us + 60 * 1_000_000
    }
    fn is_pinned(&self, now_us: u64) -> bool {
        self.locked_until_us > now_us
    }
    fn last_seen_us(&self) -> u64 {
        self.last_seen_us
    }
}

/// A lockout in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockout {
    pub address: IpAddr,
    pub until_us: u64,
    pub failures: u32,
}

/// One counter as `calamari limits` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CounterView {
    pub name: String,
    /// Current level and ceiling, in calls.
    pub level: f64,
    pub max: f64,
    pub decay_per_sec: f64,
    /// Seconds until the level is zero.
    pub drains_in_secs: f64,
}

fn view(name: String, c: &Counter, rule: Rule, now_us: u64) -> CounterView {
    let calls = |u: u64| u as f64 / UNIT as f64;
    CounterView {
        name,
        level: calls(c.level_at(rule, now_us)),
        max: calls(rule.max),
        decay_per_sec: calls(rule.decay_per_sec),
        drains_in_secs: c.drains_in_us(rule, now_us) as f64 / 1e6,
    }
}

/// The gate every request passes.
pub struct Limits {
    pub policy: Policy,
    tiers: RwLock<HashMap<u32, Tier>>,
    rest: Mutex<HashMap<i64, Counter>>,
    in_flight: Mutex<HashMap<i64, u32>>,
    addresses: Mutex<AddressTable<AddressState>>,
    trading: Mutex<HashMap<(u32, u16), Counter>>,
    pub stats: LimitStats,
}

// A panic elsewhere cannot leave these maps half-updated (every update is one assignment).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Limits {
    pub fn new(policy: Policy) -> Limits {
        let cap = policy.max_tracked_addresses;
        Limits {
            policy,
            tiers: RwLock::new(HashMap::new()),
            rest: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            addresses: Mutex::new(AddressTable::new(cap)),
            trading: Mutex::new(HashMap::new()),
            stats: LimitStats::default(),
        }
    }

    // ---- tiers ----

    pub fn tier(&self, account: u32) -> Tier {
        self.tiers.read().unwrap_or_else(|p| p.into_inner()).get(&account).copied().unwrap_or_default()
    }

    pub fn set_tier(&self, account: u32, tier: Tier) {
        self.tiers.write().unwrap_or_else(|p| p.into_inner()).insert(account, tier);
    }

    pub fn tiers(&self) -> HashMap<u32, Tier> {
        self.tiers.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    // ---- client addresses: public limits and lockouts ----

    /// A public call from `ip`: `EGeneral:Too many requests` over the limit (nothing counted).
    pub fn check_public(&self, ip: IpAddr, now_us: u64) -> Result<(), KrakenError> {
        let Some(rule) = self.policy.public else { return Ok(()) };
        let ip = tracked_unit(ip);
        let mut table = lock(&self.addresses);
        let e = table.entry(ip, now_us);
        e.last_seen_us = now_us;
        let window_ok = match rule.window {
            None => true,
            Some((calls, secs)) => {
                if now_us >= e.window_start_us + secs * 1_000_000 || e.window_calls == 0 {
                    e.window_start_us = now_us;
                    e.window_calls = 0;
                }
                e.window_calls < calls
            }
        };
        if window_ok && e.public.try_add(rule.rate, UNIT, now_us) {
            if let Some((_, secs)) = rule.window {
                e.window_calls += 1;
                e.public_idle_at_us = e.window_start_us + secs * 1_000_000;
            }
            e.public_idle_at_us = e.public_idle_at_us.max(now_us.saturating_add(e.public.drains_in_us(rule.rate, now_us)));
            Ok(())
        } else {
            self.stats.public_refused.fetch_add(1, Ordering::Relaxed);
            Err(KrakenError::TooManyRequests)
        }
    }

    /// Refuses a private call from a locked-out address before any key lookup or HMAC.
    pub fn check_lockout(&self, ip: IpAddr, now_us: u64) -> Result<(), KrakenError> {
        if self.policy.lockout_after == 0 {
            return Ok(());
        }
        let table = lock(&self.addresses);
        match table.get(&tracked_unit(ip)) {
            Some(e) if e.locked_until_us > now_us => {
                self.stats.locked_refused.fetch_add(1, Ordering::Relaxed);
                Err(KrakenError::TemporaryLockout)
            }
            _ => Ok(()),
        }
    }

    /// An invalid key, signature or nonce from `ip`; the `lockout_after`-th in a row locks it.
    pub fn auth_failed(&self, ip: IpAddr, now_us: u64) {
        self.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
        let after = self.policy.lockout_after;
        if after == 0 {
            return;
        }
        let mut table = lock(&self.addresses);
        let e = table.entry(tracked_unit(ip), now_us);
        if e.failures > 0 && now_us > e.last_seen_us + FAILURE_MEMORY_US {
            e.failures = 0;
        }
        e.last_seen_us = now_us;
        e.failures = e.failures.saturating_add(1);
        if e.failures >= after && e.locked_until_us <= now_us {
            e.locked_until_us = now_us + self.policy.lockout_secs * 1_000_000;
            e.failures = 0;
            drop(table);
            self.stats.lockouts_started.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(address = %ip, seconds = self.policy.lockout_secs, "temporary lockout after repeated authentication failures");
        }
    }

    /// An accepted request from `ip` ends its run of failures.
    pub fn auth_succeeded(&self, ip: IpAddr) {
        if self.policy.lockout_after == 0 {
            return;
        }
        if let Some(e) = lock(&self.addresses).get_mut(&tracked_unit(ip)) {
            e.failures = 0;
        }
    }

    pub fn lockouts(&self, now_us: u64) -> Vec<Lockout> {
        let table = lock(&self.addresses);
        let mut v: Vec<Lockout> = table
            .iter()
            .filter(|(_, e)| e.locked_until_us > now_us)
            .map(|(ip, e)| Lockout { address: *ip, until_us: e.locked_until_us, failures: e.failures })
            .collect();
        v.sort_by_key(|l| l.address);
        v
    }

    /// Lifts a lockout (and forgets the address's failures); `true` if one was in force.
    pub fn lift_lockout(&self, ip: IpAddr, now_us: u64) -> bool {
        match lock(&self.addresses).get_mut(&tracked_unit(ip)) {
            Some(e) => {
                let was = e.locked_until_us > now_us;
                e.locked_until_us = 0;
                e.failures = 0;
                was
            }
            None => false,
        }
    }

    pub fn tracked_addresses(&self) -> usize {
        lock(&self.addresses).len()
    }

    /// Forgets addresses that hold nothing (called now and then).
    pub fn sweep(&self, now_us: u64) {
        lock(&self.addresses).sweep(now_us);
        // A counter at zero is the same as no counter.
        let (rest, trading) = (self.policy.rest, self.policy.trading);
        let tiers = self.tiers();
        let tier = |a: &u32| tiers.get(a).copied().unwrap_or_default();
        if let Some(rules) = trading {
            lock(&self.trading).retain(|(a, _), c| !c.is_idle(rules.get(tier(a)), now_us));
        }
        if let Some(rules) = rest {
            // The slowest tier's drain is the safe one to judge by without knowing the key's account.
            let slowest = Tier::ALL.iter().map(|t| rules.get(*t)).min_by_key(|r| r.decay_per_sec).unwrap_or(rules.get(Tier::Pro));
            lock(&self.rest).retain(|_, c| !c.is_idle(slowest, now_us));
        }
    }

    // ---- the per-key REST counter ----

    /// Charges a private call to its key's counter: `EAPI:Rate limit exceeded` (and nothing
    /// counted) if it would pass the tier's ceiling.
    pub fn charge_rest(&self, key_id: i64, account: u32, method: &str, now_us: u64) -> Result<(), KrakenError> {
        let Some(rules) = self.policy.rest else { return Ok(()) };
        let cost = if is_trading_method(method) {
            self.policy.trading_call_cost
        } else if is_history_method(method) {
            self.policy.history_cost
        } else {
            UNIT
        };
        if cost == 0 {
            return Ok(());
        }
        let rule = rules.get(self.tier(account));
        if lock(&self.rest).entry(key_id).or_default().try_add(rule, cost, now_us) {
            Ok(())
        } else {
            self.stats.rest_refused.fetch_add(1, Ordering::Relaxed);
            Err(KrakenError::RateLimitExceeded)
        }
    }

    // ---- requests in flight per key ----

    /// Admits one more concurrent request of a key, or `EService:Throttled: <now + 1 s>`.
    pub fn enter(self: &Arc<Self>, key_id: i64, now_secs: u64) -> Result<InFlight, KrakenError> {
        let max = self.policy.max_in_flight_per_key;
        let mut map = lock(&self.in_flight);
        let n = map.entry(key_id).or_default();
        if *n >= max {
            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
            return Err(KrakenError::Throttled(now_secs + 1));
        }
        *n += 1;
        Ok(InFlight { limits: self.clone(), key_id })
    }

    fn leave(&self, key_id: i64) {
        let mut map = lock(&self.in_flight);
        if let Some(n) = map.get_mut(&key_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&key_id);
            }
        }
    }

    // ---- the matching engine's limits ----

    /// Whether an open-order cap applies (the profile has one): the caller counts the account's
    /// open orders on the pair only then (a walk of its open orders, on the engine thread).
    pub fn caps_open_orders(&self) -> bool {
        self.policy.open_orders.is_some()
    }

    /// An order arriving for `(account, pair)` that already has `open_in_pair` open orders:
    /// +1 on the pair's counter on receipt, then the open-order cap.
    pub fn admit_order(&self, account: u32, pair: u16, open_in_pair: usize, now_us: u64) -> Result<(), KrakenError> {
        let tier = self.tier(account);
        if let Some(rules) = self.policy.trading {
            let rule = rules.get(tier);
            if !lock(&self.trading).entry((account, pair)).or_default().try_add(rule, UNIT, now_us) {
                self.stats.trading_refused.fetch_add(1, Ordering::Relaxed);
                return Err(KrakenError::OrderRateLimitExceeded);
            }
        }
        if let Some(caps) = self.policy.open_orders {
            if open_in_pair >= caps.get(tier) as usize {
                self.stats.orders_cap_refused.fetch_add(1, Ordering::Relaxed);
                return Err(KrakenError::OrdersLimitExceeded);
            }
        }
        Ok(())
    }

    /// `n` new orders with a future `starttm` for `(account, pair)`, which already has
    /// `scheduled_in_pair` orders waiting for their start: the scheduled-order cap.
    pub fn admit_scheduled(&self, account: u32, scheduled_in_pair: usize, n: usize) -> Result<(), KrakenError> {
        match self.policy.scheduled_orders {
            Some(caps) if n > 0 && scheduled_in_pair + n > caps.get(self.tier(account)) as usize => {
                self.stats.orders_cap_refused.fetch_add(1, Ordering::Relaxed);
                Err(KrakenError::ScheduledOrdersLimitExceeded)
            }
            _ => Ok(()),
        }
    }

    /// A cancel of orders: each order's penalty by its age goes on its pair's counter. If
    /// `enforce`, the cancel is refused (nothing charged) when any pair would pass its threshold;
    /// otherwise (CancelAll) the penalties are charged regardless.
    pub fn admit_cancel(&self, account: u32, charges: &[TradingCharge], enforce: bool, now_us: u64) -> Result<(), KrakenError> {
        let Some(rules) = self.policy.trading else { return Ok(()) };
        let rule = rules.get(self.tier(account));
        let mut per_pair: Vec<(u16, u64)> = Vec::new();
        for c in charges {
            match per_pair.iter_mut().find(|(p, _)| *p == c.pair) {
                Some((_, cost)) => *cost += c.cost,
                None => per_pair.push((c.pair, c.cost)),
            }
        }
        let mut counters = lock(&self.trading);
        if enforce {
            for (pair, cost) in &per_pair {
                let c = counters.get(&(account, *pair)).copied().unwrap_or_default();
                if *cost > 0 && c.level_at(rule, now_us).saturating_add(*cost) > rule.max {
                    self.stats.trading_refused.fetch_add(1, Ordering::Relaxed);
                    return Err(KrakenError::OrderRateLimitExceeded);
                }
            }
        }
        for (pair, cost) in per_pair {
            if cost > 0 {
                counters.entry((account, pair)).or_default().add(rule, cost, now_us);
            }
        }
        Ok(())
    }

    /// An AmendOrder or EditOrder: its penalty goes on the pair's counter, or the call is
    /// refused (nothing charged) when it would pass the threshold.
    pub fn admit_charges(&self, account: u32, charges: &[TradingCharge], now_us: u64) -> Result<(), KrakenError> {
        self.admit_cancel(account, charges, true, now_us)
    }

    /// An AddOrderBatch of `n` orders on one pair: +n/2 on the pair's counter, then the open-order
    /// cap for all `n` (the batch is placed whole or refused whole).
    pub fn admit_batch(&self, account: u32, pair: u16, n: usize, open_in_pair: usize, now_us: u64) -> Result<(), KrakenError> {
        self.admit_charges(account, &[TradingCharge { pair, cost: batch_cost(n) }], now_us)?;
        if let Some(caps) = self.policy.open_orders {
            if open_in_pair + n > caps.get(self.tier(account)) as usize {
                self.stats.orders_cap_refused.fetch_add(1, Ordering::Relaxed);
                return Err(KrakenError::OrdersLimitExceeded);
            }
        }
        Ok(())
    }

    // ---- visibility ----

    /// The REST counter of each given key and the trading counters of the account.
    pub fn counters(&self, account: u32, keys: &[(i64, String)], pair_name: impl Fn(u16) -> String, now_us: u64) -> Vec<CounterView> {
        let tier = self.tier(account);
        let mut out = Vec::new();
        if let Some(rules) = self.policy.rest {
            let rest = lock(&self.rest);
            for (id, name) in keys {
                let c = rest.get(id).copied().unwrap_or_default();
                out.push(view(format!("rest counter of key {name:?}"), &c, rules.get(tier), now_us));
            }
        }
        if let Some(rules) = self.policy.trading {
            let trading = lock(&self.trading);
            let mut mine: Vec<(&(u32, u16), &Counter)> = trading.iter().filter(|((a, _), _)| *a == account).collect();
            mine.sort_by_key(|(k, _)| **k);
            for ((_, pair), c) in mine {
                out.push(view(format!("trading counter of {}", pair_name(*pair)), c, rules.get(tier), now_us));
            }
        }
        out
    }
}

/// A request counted as in flight until dropped.
pub struct InFlight {
    limits: Arc<Limits>,
    key_id: i64,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.limits.leave(self.key_id);
    }
}

#[cfg(test)]
mod tests;

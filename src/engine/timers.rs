//! The engine's timers: everything that happens because time passed rather than because a
//! client asked. GTD orders expire at their `expiretm`, scheduled orders (`starttm`) enter the
//! book at their start, and an account's dead man's switch (CancelAllOrdersAfter) cancels its
//! orders at its trigger time. Funding transitions keep their own queue (`funding.due`).
//!
//! One `Command::Tick` applies everything due at its envelope time, in (due time, kind) order:
//! funding transitions first, then expiries, starts and dead man's switches of the same
//! instant (the `Timer` variants' order), each stamped with its own due time. The sequencer
//! logs a Tick before the first job at or after the earliest due time (`Exchange::due`, O(1)), so
//! a replay repeats exactly what the server did. Entries are removed when their order ends
//! (`Exchange::finish`) or their switch is reset, so every entry is live (checked by
//! `check_invariants`).

use super::account::FIRST_USER;
use super::order::{AccountId, CancelReason, Order, OrderKind, OrderSeq, Side, Status};
use super::{Applied, Exchange};
use crate::error::KrakenError;
use std::collections::{BTreeMap, BTreeSet};

/// Kraken's longest CancelAllOrdersAfter timeout we accept, in seconds (one day; a choice:
/// Kraken's docs name no maximum, a longer switch protects nothing).
pub const MAX_DEAD_MAN_S: u64 = 86_400;

/// What a timer does when it fires. The variant order is the order at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Timer {
    Expire(OrderSeq),
    Start(OrderSeq),
    DeadMan(AccountId),
}

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Timers {
    /// (due time, what) for every live timer.
    pub queue: BTreeSet<(u64, Timer)>,
    /// Per account, the trigger time of its armed dead man's switch.
    pub dead_man: BTreeMap<AccountId, u64>,
}

impl Timers {
    pub fn first_due(&self) -> Option<u64> {
        self.queue.first().map(|(t, _)| *t)
    }

    /// Registers the timers of an order just accepted (its start, its expiry). Every order
    /// placed comes here and few have timers, so it reads the record the caller has at hand, as
    /// `Orders::push` returns it (a lookup by sequence cost 1% of the engine benchmark's
    /// instructions; lending the record out before it went into the arena cost a copy of it,
    /// 0.9%), and tests its rare parts once.
    pub(super) fn arm_order(&mut self, o: &Order) {
        let rare = o.rare();
        if let Some(at) = rare.expire_ns {
            self.queue.insert((at, Timer::Expire(o.seq)));
        }
        if o.status == Status::Pending {
            let at = rare.start_ns.expect("a pending order has a start");
            self.queue.insert((at, Timer::Start(o.seq)));
        }
    }

    /// Drops the timers of an order that ended (the record at hand, as `arm_order`).
    pub(super) fn disarm_order(&mut self, o: &Order) {
        let rare = o.rare();
        if let Some(at) = rare.expire_ns {
            self.queue.remove(&(at, Timer::Expire(o.seq)));
        }
        if let Some(at) = rare.start_ns {
            self.queue.remove(&(at, Timer::Start(o.seq)));
        }
    }
}

impl Exchange {
    /// Whether a `Tick` at `now_ns` would change anything: a funding transition or a timer is
    /// due (O(1): the earliest entry of each queue).
    pub fn due(&self, now_ns: u64) -> bool {
        self.next_due_ns() <= now_ns.max(self.now_ns)
    }

    /// The earliest time at which a `Tick` would change anything (`u64::MAX`: nothing waits).
    pub fn next_due_ns(&self) -> u64 {
        let funding = self.funding.due.first().map_or(u64::MAX, |(t, _)| *t);
        funding.min(self.timers.first_due().unwrap_or(u64::MAX))
    }

    /// The trigger time of an account's dead man's switch, if armed.
    pub fn dead_man(&self, account: AccountId) -> Option<u64> {
        self.timers.dead_man.get(&account).copied()
    }

    /// CancelAllOrdersAfter: arms (or re-arms) the account's switch `timeout_s` from `t`; 0
    /// disables it.
    pub(super) fn cancel_all_after(&mut self, account: AccountId, timeout_s: u64, t: u64) -> Result<Applied, KrakenError> {
        self.user_account(account)?;
        if timeout_s > MAX_DEAD_MAN_S {
            return Err(KrakenError::invalid("timeout"));
        }
        if let Some(old) = self.timers.dead_man.remove(&account) {
            self.timers.queue.remove(&(old, Timer::DeadMan(account)));
        }
        if timeout_s > 0 {
            let at = t + timeout_s * 1_000_000_000;
            self.timers.dead_man.insert(account, at);
            self.timers.queue.insert((at, Timer::DeadMan(account)));
        }
        Ok(Applied::Done)
    }

    /// Applies every funding transition and timer due at `t`, earliest first.
    pub(super) fn tick(&mut self, t: u64) -> Result<Applied, KrakenError> {
        let mut n = 0;
        loop {
            let funding = self.funding.due.first().map(|(d, _)| *d).filter(|d| *d <= t);
            let timer = self.timers.first_due().filter(|d| *d <= t);
            match (funding, timer) {
                (None, None) => break,
                (Some(f), Some(d)) if f <= d => self.funding_step(),
                (Some(_), None) => self.funding_step(),
                _ => self.timer_step(),
            }
            n += 1;
        }
        if n == 0 {
            return Err(KrakenError::invalid("tick"));
        }
        Ok(Applied::Ticked(n))
    }

    fn timer_step(&mut self) {
        let (due, timer) = self.timers.queue.pop_first().expect("a timer is due");
        match timer {
            Timer::Expire(seq) => {
                // Live by construction: finishing an order removes its timers.
                self.end_order(seq, Status::Expired, None, due);
            }
            Timer::Start(seq) => self.start_order(seq, due),
            Timer::DeadMan(account) => {
                self.timers.dead_man.remove(&account);
                let victims: Vec<OrderSeq> = self.accounts[account as usize].open_orders.iter().copied().collect();
                for seq in victims {
                    self.end_order(seq, Status::Canceled, Some(CancelReason::UserRequested), due);
                }
            }
        }
    }

    /// A scheduled order's start: it enters the book as if placed now (a triggered one is armed). A market buy is limited
    /// to the worst ask its hold was reserved for at placement.
    fn start_order(&mut self, seq: OrderSeq, t: u64) {
        if let Some(state) = self.refusing_state(&self.orders[seq as usize].new_order(), false) {
            self.finish(seq, Status::Canceled, Some(CancelReason::Market(state)), t);
            return;
        }
        if self.orders[seq as usize].is_armed() {
            self.start_armed(seq, t);
            return;
        }
        let o = &mut self.orders[seq as usize];
        debug_assert_eq!(o.status, Status::Pending);
        o.status = Status::Open;
        let limit = match (o.req.kind, o.req.side) {
            (OrderKind::Market, Side::Sell) => 0,
            (OrderKind::Market, Side::Buy) if o.req.quote_volume => u64::MAX,
            _ => o.held_limit,
        };
        self.execute(seq, limit, t);
    }

    /// Checks the timers against the orders and switches (part of `check_invariants`).
    pub(super) fn check_timers(&self) -> Result<(), String> {
        let mut expected = BTreeSet::new();
        for o in self.orders.iter().filter(|o| o.is_open()) {
            if let Some(at) = o.expire_ns() {
                expected.insert((at, Timer::Expire(o.seq)));
            }
            if o.status == Status::Pending {
                expected.insert((o.start_ns().unwrap_or(0), Timer::Start(o.seq)));
            }
        }
        for (account, at) in &self.timers.dead_man {
            if *account < FIRST_USER {
                return Err(format!("dead man's switch on system account {account}"));
            }
            expected.insert((*at, Timer::DeadMan(*account)));
        }
        if expected != self.timers.queue {
            return Err(format!("timers {:?} != orders' and switches' {:?}", self.timers.queue, expected));
        }
        Ok(())
    }
}

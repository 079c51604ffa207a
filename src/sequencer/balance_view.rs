//! The durable balances of every user account, kept outside the engine so that a signed Balance
//! is answered on the HTTP worker without a trip through the engine thread (two thread wake-ups,
//! the most expensive part of a read on a small VM).
//!
//! It is filled from the exchange when the sequencer starts (the replayed state, all durable),
//! and then only by the storage thread, after a batch's commit and before its replies go out: each
//! ledger entry of the batch carries its account's resulting balance of the asset (every balance
//! change is a ledger entry), and a batch that replaced the whole state (reset, snapshot restore)
//! carries a full copy made by the engine thread instead. So the view never shows a balance that
//! is not durable, and a client sees its own acknowledged writes. An account the view has no row
//! for (created after the last full copy and never credited) is answered by the engine as before.
//!
//! The view also keeps when the durable state next has a `Tick` due (a deposit's confirmation, a
//! funding transition, a timer). Once the clock reaches it, a Balance goes through the engine,
//! which logs the due `Tick` before the read (as every queued read does), so a credit that fell
//! due is shown at once rather than at the server's next nudge.

use crate::engine::account::LedgerEntry;
use crate::engine::order::AccountId;
use crate::engine::Exchange;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

/// Every account's balances by asset index, indexed by account id.
#[derive(Default)]
pub struct BalanceView {
    rows: RwLock<Vec<Box<[i128]>>>,
    /// Assets per row (the markets' asset count).
    assets: usize,
    /// When the durable state next has a `Tick` due (`Exchange::next_due_ns`).
    next_due_ns: AtomicU64,
}

impl BalanceView {
    /// The balances of every account of `ex` (the state at the sequencer's start).
    pub(super) fn new(ex: &Exchange) -> BalanceView {
        let view = BalanceView { rows: RwLock::default(), assets: ex.markets.assets.len(), next_due_ns: AtomicU64::new(ex.next_due_ns()) };
        view.replace(Self::copy(ex));
        view
    }

    /// A full copy of `ex`'s balances (made on the engine thread when the state was replaced).
    pub(super) fn copy(ex: &Exchange) -> Vec<Box<[i128]>> {
        ex.accounts.iter().map(|a| a.funds.iter().map(|f| f.balance).collect()).collect()
    }

    /// Replaces every row (after the batch that replaced the state is durable).
    pub(super) fn replace(&self, rows: Vec<Box<[i128]>>) {
        *self.rows.write().unwrap_or_else(|e| e.into_inner()) = rows;
    }

    /// Applies a durable batch's ledger entries in order (each sets its account's balance of its
    /// asset). An account beyond the rows is new since the last full copy, so it and any account
    /// between held nothing before its first entry.
    pub(super) fn apply(&self, entries: &[LedgerEntry]) {
        if entries.is_empty() {
            return;
        }
        let mut rows = self.rows.write().unwrap_or_else(|e| e.into_inner());
        for e in entries {
            let id = e.account as usize;
            if id >= rows.len() {
                rows.resize_with(id + 1, || vec![0; self.assets].into_boxed_slice());
            }
            if let Some(b) = rows[id].get_mut(e.asset as usize) {
                *b = e.balance;
            }
        }
    }

    /// Sets when the durable state next has a `Tick` due (after a batch is durable).
    pub(super) fn set_next_due(&self, ns: u64) {
        self.next_due_ns.store(ns, Ordering::Release);
    }

    /// Whether the view is the state a read at `now_ns` must see: nothing falls due by then.
    pub fn current_at(&self, now_ns: u64) -> bool {
        now_ns < self.next_due_ns.load(Ordering::Acquire)
    }

    /// `f` over the account's durable balances, or `None` when the view has no row for it.
    pub fn with<T>(&self, account: AccountId, f: impl FnOnce(&[i128]) -> T) -> Option<T> {
        let rows = self.rows.read().unwrap_or_else(|e| e.into_inner());
        rows.get(account as usize).map(|r| f(r))
    }
}

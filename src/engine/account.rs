//! Accounts and their books of record: balances, holds, and the shapes of the double-entry
//! ledger's entries and the per-account trade records (which leave the engine as they are made:
//! `outbox`). Two system accounts close the double entry: `@external` is the
//! world outside the exchange (its balance is minus everything deposited, net of withdrawals)
//! and `@fees` collects fees, so every asset's balances over all accounts sum to zero.

use super::markets::{AssetIdx, PairIdx};
use super::open_orders::OpenOrders;
use super::order::{AccountId, OrderKind, OrderSeq, Side};
use std::collections::VecDeque;

pub const EXTERNAL: AccountId = 0;
pub const FEES: AccountId = 1;
pub const FIRST_USER: AccountId = 2;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Account {
    pub name: String,
    pub balances: Vec<i128>,
    pub holds: Vec<i128>,
    pub open_orders: OpenOrders,
    /// Traded volume per UTC day, in the fee-volume asset's minimal units (for fee tiers).
    pub volume_by_day: VecDeque<(u64, i128)>,
}

impl Account {
    pub fn new(name: String, assets: usize) -> Account {
        Account {
            name,
            balances: vec![0; assets],
            holds: vec![0; assets],
            open_orders: OpenOrders::default(),
            volume_by_day: VecDeque::new(),
        }
    }

    #[inline(always)]
    pub fn available(&self, asset: AssetIdx) -> i128 {
        self.balances[asset as usize] - self.holds[asset as usize]
    }

    /// Volume over the 30 days ending with `day` (inclusive).
    pub fn volume_30d(&self, day: u64) -> i128 {
        self.volume_by_day.iter().filter(|(d, _)| d + 30 > day).map(|(_, v)| v).sum()
    }

    pub fn add_volume(&mut self, day: u64, units: i128) {
        match self.volume_by_day.back_mut() {
            Some((d, v)) if *d == day => *v += units,
            _ => self.volume_by_day.push_back((day, units)),
        }
        while self.volume_by_day.front().is_some_and(|(d, _)| d + 31 < day) {
            self.volume_by_day.pop_front();
        }
    }
}

/// Kraken's ledger entry types used here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LedgerKind {
    Trade,
    Deposit,
    Withdrawal,
    Adjustment,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Trade => "trade",
            LedgerKind::Deposit => "deposit",
            LedgerKind::Withdrawal => "withdrawal",
            LedgerKind::Adjustment => "adjustment",
        }
    }
}

/// What a ledger entry's `refid` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RefId {
    Trade(u64),
    Funding(u64),
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct LedgerEntry {
    pub seq: u64,
    pub account: AccountId,
    pub refid: RefId,
    pub time_ns: u64,
    pub kind: LedgerKind,
    pub asset: AssetIdx,
    /// Signed change excluding the fee; the balance moves by `amount - fee`.
    pub amount: i128,
    pub fee: i128,
    /// Balance after this entry.
    pub balance: i128,
}

/// One account's side of a fill (Kraken's TradesHistory entry).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TradeRecord {
    pub seq: u64,
    pub account: AccountId,
    pub order: OrderSeq,
    pub pair: PairIdx,
    pub side: Side,
    pub order_kind: OrderKind,
    pub price: u64,
    pub volume: i128,
    /// Quote moved and fee charged, in the assets' minimal units (what the ledger entries say).
    pub cost: i128,
    pub fee: i128,
    /// The same at the pair's `cost_decimals` (Kraken's trade `cost` and `fee`); a base fee
    /// (`fcib`) is in base minimal units here too.
    pub cost_cd: i128,
    pub fee_cd: i128,
    pub fee_in_base: bool,
    pub maker: bool,
    pub time_ns: u64,
    /// The pair's public trade id.
    pub public_id: u64,
    pub ledgers: [u64; 2],
}

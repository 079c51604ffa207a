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
    pub volume_by_day: VolumeDays,
}

impl Account {
    pub fn new(name: String, assets: usize) -> Account {
        Account {
            name,
            balances: vec![0; assets],
            holds: vec![0; assets],
            open_orders: OpenOrders::default(),
            volume_by_day: VolumeDays::default(),
        }
    }

    #[inline(always)]
    pub fn available(&self, asset: AssetIdx) -> i128 {
        self.balances[asset as usize] - self.holds[asset as usize]
    }

    /// Volume over the 30 days ending with `day` (inclusive).
    /// The volume of the 30 days up to `day` (the fee tier's): the running total of the days
    /// held less the few at the front already out of the window (none on most days).
    #[inline]
    pub fn volume_30d(&self, day: u64) -> i128 {
        let v = &self.volume_by_day;
        if v.days.front().is_none_or(|(d, _)| d + 30 > day) {
            return v.total;
        }
        v.total - v.days.iter().take_while(|(d, _)| d + 30 <= day).map(|(_, v)| v).sum::<i128>()
    }

    pub fn add_volume(&mut self, day: u64, units: i128) {
        let v = &mut self.volume_by_day;
        match v.days.back_mut() {
            Some((d, u)) if *d == day => *u += units,
            _ => v.days.push_back((day, units)),
        }
        v.total += units;
        while let Some(&(_, u)) = v.days.front().filter(|(d, _)| d + 31 < day) {
            v.total -= u;
            v.days.pop_front();
        }
    }
}

/// An account's traded volume per UTC day, in ascending days (the commands' time only moves
/// on), with the running total of the days held, so that a fill's fee tier does not sum them
/// (`Account::volume_30d`). Serialized as the days alone, as the `VecDeque` it was (checkpoints
/// unchanged); the total is derived, recomputed when read back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeDays {
    days: VecDeque<(u64, i128)>,
    total: i128,
}

impl VolumeDays {
    /// (day, volume), oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &(u64, i128)> {
        self.days.iter()
    }

    pub fn len(&self) -> usize {
        self.days.len()
    }

    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }
}

impl From<VecDeque<(u64, i128)>> for VolumeDays {
    fn from(days: VecDeque<(u64, i128)>) -> VolumeDays {
        let total = days.iter().map(|(_, v)| v).sum();
        VolumeDays { days, total }
    }
}

impl serde::Serialize for VolumeDays {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&self.days, s)
    }
}

impl<'de> serde::Deserialize<'de> for VolumeDays {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<VolumeDays, D::Error> {
        <VecDeque<(u64, i128)> as serde::Deserialize>::deserialize(d).map(VolumeDays::from)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The 30-day volume as it was computed before the running total: the held days summed.
    fn summed(a: &Account, day: u64) -> i128 {
        a.volume_by_day.iter().filter(|(d, _)| d + 30 > day).map(|(_, v)| v).sum()
    }

    proptest! {
        /// The running total answers what summing the held days answered, on the day of each
        /// fill and on later days (days leaving the window without a fill), and a copy read back
        /// from its serialized form (the days alone) answers the same.
        #[test]
        fn volume_30d_is_the_held_days_summed(fills in prop::collection::vec((0u64..12, 1i128..1_000_000_000), 1..60)) {
            let mut a = Account::new("a".into(), 2);
            let mut day = 19_000;
            for (gap, units) in fills {
                day += gap;
                a.add_volume(day, units);
                for later in [day, day + 1, day + 29, day + 30, day + 31, day + 45] {
                    prop_assert_eq!(a.volume_30d(later), summed(&a, later));
                }
                let back: Account = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
                prop_assert_eq!(&back.volume_by_day, &a.volume_by_day);
            }
        }
    }

    /// Serialized as the `VecDeque` of days it was (checkpoints keep their form).
    #[test]
    fn volume_days_serialize_as_the_days() {
        let mut a = Account::new("a".into(), 1);
        a.add_volume(5, 7);
        a.add_volume(6, 8);
        let days: VecDeque<(u64, i128)> = VecDeque::from([(5, 7), (6, 8)]);
        assert_eq!(serde_json::to_string(&a.volume_by_day).unwrap(), serde_json::to_string(&days).unwrap());
        assert_eq!(a.volume_30d(6), 15);
        assert_eq!(a.volume_30d(35), 8, "day 5 left the window");
    }
}

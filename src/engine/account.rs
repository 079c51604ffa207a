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

#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    /// Balance and hold by asset index, side by side: a funds check, a fill's settlement and a
    /// cancel's release read both of an asset, and one cache line holds them (two vectors made
    /// it two lines, in two allocations, for every order an account placed).
    pub funds: Vec<Funds>,
    pub open_orders: OpenOrders,
    /// Traded volume per UTC day, in the fee-volume asset's minimal units (for fee tiers).
    pub volume_by_day: VolumeDays,
}

/// One asset of an account: its balance and the part of it held for open orders and pending
/// withdrawals (minimal units; the hold never exceeds the balance, `check_invariants`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(align(32))]
pub struct Funds {
    pub balance: i128,
    pub hold: i128,
}

impl Account {
    pub fn new(name: String, assets: usize) -> Account {
        Account { name, funds: vec![Funds::default(); assets], open_orders: OpenOrders::default(), volume_by_day: VolumeDays::default() }
    }

    /// The balances by asset index.
    pub fn balances(&self) -> Vec<i128> {
        self.funds.iter().map(|f| f.balance).collect()
    }

    /// The holds by asset index.
    pub fn holds(&self) -> Vec<i128> {
        self.funds.iter().map(|f| f.hold).collect()
    }

    #[inline(always)]
    pub fn available(&self, asset: AssetIdx) -> i128 {
        let f = &self.funds[asset as usize];
        f.balance - f.hold
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

/// An account as checkpoints hold it: its balances and holds as two vectors, as the fields they
/// were (the checkpoint format did not change with `funds`).
#[derive(serde::Serialize)]
struct AccountForm<'a> {
    name: &'a str,
    balances: FundsColumn<'a>,
    holds: FundsColumn<'a>,
    open_orders: &'a OpenOrders,
    volume_by_day: &'a VolumeDays,
}

#[derive(serde::Deserialize)]
struct AccountRead {
    name: String,
    balances: Vec<i128>,
    holds: Vec<i128>,
    open_orders: OpenOrders,
    volume_by_day: VolumeDays,
}

/// One column of an account's funds (balances or holds), serialized as a sequence.
struct FundsColumn<'a>(&'a [Funds], fn(&Funds) -> i128);

impl serde::Serialize for FundsColumn<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(self.1))
    }
}

impl serde::Serialize for Account {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        AccountForm {
            name: &self.name,
            balances: FundsColumn(&self.funds, |f| f.balance),
            holds: FundsColumn(&self.funds, |f| f.hold),
            open_orders: &self.open_orders,
            volume_by_day: &self.volume_by_day,
        }
        .serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Account {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Account, D::Error> {
        let a = AccountRead::deserialize(d)?;
        if a.balances.len() != a.holds.len() {
            return Err(serde::de::Error::custom(format!("account {}: {} balances, {} holds", a.name, a.balances.len(), a.holds.len())));
        }
        let funds = a.balances.into_iter().zip(a.holds).map(|(balance, hold)| Funds { balance, hold }).collect();
        Ok(Account { name: a.name, funds, open_orders: a.open_orders, volume_by_day: a.volume_by_day })
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

    /// An account is written as it was before its funds were one vector: name, balances,
    /// holds, open orders, days of volume, in that order (checkpoints kept their format), and
    /// reads back the same.
    #[test]
    fn an_account_keeps_its_serialized_form() {
        let mut a = Account::new("alice".into(), 3);
        a.funds[0] = Funds { balance: 500, hold: 120 };
        a.funds[2] = Funds { balance: 7, hold: 0 };
        a.open_orders.insert(41);
        a.add_volume(19_000, 33);
        let v = serde_json::to_value(&a).unwrap();
        let want = serde_json::json!({"name": "alice", "balances": [500, 0, 7], "holds": [120, 0, 0], "open_orders": [41], "volume_by_day": [[19_000, 33]]});
        assert_eq!(v, want);
        let text = r#"{"name":"alice","balances":[500,0,7],"holds":[120,0,0],"open_orders":[41],"volume_by_day":[[19000,33]]}"#;
        assert_eq!(serde_json::to_string(&a).unwrap(), text, "the fields in their old order");
        let back: Account = serde_json::from_value(v).unwrap();
        let orders: Vec<_> = back.open_orders.iter().copied().collect();
        assert_eq!((back.volume_30d(19_000), orders, back.funds), (33, vec![41], a.funds));
        let uneven = serde_json::json!({"name": "bob", "balances": [1, 2], "holds": [0], "open_orders": [], "volume_by_day": []});
        assert!(serde_json::from_value::<Account>(uneven).unwrap_err().to_string().contains("2 balances, 1 holds"));
    }

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

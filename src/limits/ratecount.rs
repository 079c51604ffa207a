//! The trading counter as the `executions` channel shows it with `ratecounter: true`: the
//! subscribe ack's `maxratecount` (the account's tier's threshold) and each update's
//! `ratecount` (the level of the order's account+pair counter), both in whole calls, read from
//! the same counters `admit_order`, `admit_cancel` and `admit_charges` charge.

use super::counter::UNIT;
use super::{lock, Limits};

impl Limits {
    /// The threshold of `account`'s trading counters in calls; None when the profile has no
    /// trading limit.
    pub fn trading_max(&self, account: u32) -> Option<u64> {
        self.policy.trading.map(|rules| rules.get(self.tier(account)).max / UNIT)
    }

    /// The level of `account`'s counter on `pair` at `now_us`, in whole calls (rounded up: a call
    /// not yet drained still counts); None when the profile has no trading limit.
    pub fn trading_level(&self, account: u32, pair: u16, now_us: u64) -> Option<u64> {
        let rules = self.policy.trading?;
        let rule = rules.get(self.tier(account));
        let level = lock(&self.trading).get(&(account, pair)).map_or(0, |c| c.level_at(rule, now_us));
        Some(level.div_ceil(UNIT))
    }
}

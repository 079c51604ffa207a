//! The one arithmetic every Kraken limit shares: a counter that calls raise and time drains.
//! Kraken describes its REST call counter, its per-pair trading counter and (in our `simple`
//! profile) request rates all this way: a level that rises by a cost per call, falls by a fixed
//! rate per second, and refuses a call that would take it above a ceiling.
//!
//! Levels are integers of micro-units (one call = [`UNIT`]) and time is an input in
//! microseconds, so the same calls at the same times always give the same answers.

/// One call's worth of level.
pub const UNIT: u64 = 1_000_000;

/// A ceiling and a drain rate, both in micro-units (per second for the rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rule {
    /// A call is refused if it would take the level above this.
    pub max: u64,
    /// Micro-units drained per second.
    pub decay_per_sec: u64,
}

impl Rule {
    /// `max` calls, draining `decay` calls per second (decay in thousandths: 330 = 0.33/s).
    pub const fn calls(max: u64, decay_milli: u64) -> Rule {
        Rule { max: max * UNIT, decay_per_sec: decay_milli * (UNIT / 1000) }
    }
}

/// A draining level. `at_us` is when `level` was last brought up to date.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counter {
    pub level: u64,
    pub at_us: u64,
}

impl Counter {
    /// The level at `now_us` (never below zero; time never runs backwards for a counter).
    pub fn level_at(&self, rule: Rule, now_us: u64) -> u64 {
        let elapsed = now_us.saturating_sub(self.at_us) as u128;
        let drained = elapsed * rule.decay_per_sec as u128 / 1_000_000;
        self.level.saturating_sub(drained.min(u64::MAX as u128) as u64)
    }

    fn settle(&mut self, rule: Rule, now_us: u64) {
        if now_us > self.at_us {
            self.level = self.level_at(rule, now_us);
            self.at_us = now_us;
        }
    }

    /// Adds `cost` if the level stays within `rule.max`; otherwise changes nothing (not even
    /// the time of the last update, so polling never slows the drain) and says no.
    pub fn try_add(&mut self, rule: Rule, cost: u64, now_us: u64) -> bool {
        match self.level_at(rule, now_us).checked_add(cost) {
            Some(next) if next <= rule.max => {
                self.level = next;
                self.at_us = self.at_us.max(now_us);
                true
            }
            _ => false,
        }
    }

    /// Adds `cost` unconditionally (a penalty that must be paid even past the ceiling).
    pub fn add(&mut self, rule: Rule, cost: u64, now_us: u64) {
        self.settle(rule, now_us);
        self.level = self.level.saturating_add(cost);
    }

    /// Microseconds from `now_us` until the level is back to zero.
    pub fn drains_in_us(&self, rule: Rule, now_us: u64) -> u64 {
        let level = self.level_at(rule, now_us) as u128;
        if level == 0 || rule.decay_per_sec == 0 {
            return if level == 0 { 0 } else { u64::MAX };
        }
        (level * 1_000_000).div_ceil(rule.decay_per_sec as u128).min(u64::MAX as u128) as u64
    }

    /// Whether the counter holds nothing at `now_us` (and can be forgotten).
    pub fn is_idle(&self, rule: Rule, now_us: u64) -> bool {
        self.level_at(rule, now_us) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000;

    #[test]
    fn starter_allows_fifteen_then_one_per_three_seconds() {
        let rule = Rule::calls(15, 330);
        let mut c = Counter::default();
        let t0 = 1_000 * SEC;
        let allowed = (0..40).filter(|_| c.try_add(rule, UNIT, t0)).count();
        assert_eq!(allowed, 15);
        assert_eq!(c.level, 15 * UNIT);
        // 0.33 per second: one call's worth drains after 1/0.33 = 3.0303 s.
        assert!(!c.try_add(rule, UNIT, t0 + 3_030_303));
        assert!(c.try_add(rule, UNIT, t0 + 3_030_304));
        assert!(!c.try_add(rule, UNIT, t0 + 3_030_305));
    }

    #[test]
    fn a_history_call_needs_two_units_of_room() {
        let rule = Rule::calls(20, 500);
        let mut c = Counter::default();
        for _ in 0..19 {
            assert!(c.try_add(rule, UNIT, 0));
        }
        assert!(!c.try_add(rule, 2 * UNIT, 0), "19 + 2 > 20");
        assert_eq!(c.level, 19 * UNIT, "a refusal changes nothing");
        assert!(!c.try_add(rule, 2 * UNIT, 1_999_999));
        assert!(c.try_add(rule, 2 * UNIT, 2 * SEC), "one unit drained at 0.5/s in 2 s");
    }

    #[test]
    fn drains_to_zero_and_reports_when() {
        let rule = Rule::calls(20, 1000);
        let mut c = Counter::default();
        c.add(rule, 25 * UNIT, 10 * SEC); // a penalty may pass the ceiling
        assert_eq!(c.level_at(rule, 10 * SEC), 25 * UNIT);
        assert_eq!(c.drains_in_us(rule, 10 * SEC), 25 * SEC);
        assert_eq!(c.level_at(rule, 20 * SEC), 15 * UNIT);
        assert!(!c.is_idle(rule, 35 * SEC - 1) && c.is_idle(rule, 35 * SEC));
        assert_eq!(c.level_at(rule, 5 * SEC), 25 * UNIT, "a time before the last update drains nothing");
    }

    #[test]
    fn rates_from_the_tables_are_exact_in_micro_units() {
        assert_eq!(Rule::calls(15, 330), Rule { max: 15_000_000, decay_per_sec: 330_000 });
        assert_eq!(Rule::calls(125, 2340).decay_per_sec, 2_340_000);
        assert_eq!(Rule::calls(180, 3750).decay_per_sec, 3_750_000);
    }
}

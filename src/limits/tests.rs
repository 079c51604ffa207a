//! Every rule of [`Limits`] on a virtual clock: the exact number of calls each tier allows, the
//! decay, the penalty table, lockout start and end, bounded address tracking, and 64 threads
//! racing for one counter.

use super::*;
use std::net::Ipv4Addr;

const SEC: u64 = 1_000_000;
const T0: u64 = 1_800_000_000 * SEC;

fn kraken() -> Arc<Limits> {
    Arc::new(Limits::new(Policy::preset(Profile::Kraken)))
}

fn ip(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
}

/// How many of `n` calls at one instant pass.
fn burst(l: &Limits, key: i64, account: u32, method: &str, n: usize, now: u64) -> usize {
    (0..n).filter(|_| l.charge_rest(key, account, method, now).is_ok()).count()
}

#[test]
fn rest_counter_allows_each_tiers_ceiling_at_once() {
    for (tier, allowed, history_allowed) in
        [(Tier::Unverified, 15, 7), (Tier::Starter, 15, 7), (Tier::Intermediate, 20, 10), (Tier::Pro, 20, 10)]
    {
        let l = kraken();
        l.set_tier(7, tier);
        assert_eq!(burst(&l, 1, 7, "Balance", 100, T0), allowed, "{tier}");
        assert_eq!(l.charge_rest(1, 7, "Balance", T0), Err(KrakenError::RateLimitExceeded));
        assert_eq!(burst(&l, 2, 7, "Ledgers", 100, T0), history_allowed, "{tier}: history calls cost 2");
        assert_eq!(burst(&l, 3, 7, "AddOrder", 1000, T0), 1000, "trading calls are not on the REST counter");
        assert_eq!(burst(&l, 3, 7, "CancelOrder", 1000, T0), 1000);
    }
}

#[test]
fn rest_counter_decays_at_each_tiers_rate() {
    // (tier, microseconds one call takes to drain)
    for (tier, per_call) in [(Tier::Starter, 3_030_304), (Tier::Intermediate, 2 * SEC), (Tier::Pro, SEC)] {
        let l = kraken();
        l.set_tier(7, tier);
        let full = burst(&l, 1, 7, "Balance", 100, T0);
        assert!(l.charge_rest(1, 7, "Balance", T0 + per_call - 2).is_err(), "{tier}: not yet");
        assert!(l.charge_rest(1, 7, "Balance", T0 + per_call).is_ok(), "{tier}: one call drained");
        assert!(l.charge_rest(1, 7, "Balance", T0 + per_call).is_err());
        // A minute of silence drains everything.
        assert_eq!(burst(&l, 1, 7, "Balance", 100, T0 + 60 * SEC), full, "{tier}");
    }
}

#[test]
fn keys_have_separate_counters_and_the_tier_is_the_accounts() {
    let l = kraken();
    assert_eq!(burst(&l, 1, 7, "Balance", 100, T0), 15);
    assert_eq!(burst(&l, 2, 7, "Balance", 100, T0), 15, "another key of the same account");
    l.set_tier(7, Tier::Pro);
    assert_eq!(burst(&l, 1, 7, "Balance", 100, T0), 5, "the pro ceiling applies to the existing level");
}

#[test]
fn sixty_four_threads_cannot_pass_a_counter() {
    for round in 0..20 {
        let l = kraken();
        let barrier = Arc::new(std::sync::Barrier::new(64));
        let threads: Vec<_> = (0..64)
            .map(|_| {
                let (l, b) = (l.clone(), barrier.clone());
                std::thread::spawn(move || {
                    b.wait();
                    l.charge_rest(1, 7, "Balance", T0).is_ok() as usize
                })
            })
            .collect();
        let passed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(passed, 15, "round {round}");
    }
}

#[test]
fn trading_counter_per_pair_with_thresholds_by_tier() {
    for (tier, threshold) in [(Tier::Starter, 60), (Tier::Intermediate, 125), (Tier::Pro, 180)] {
        let l = Limits::new(Policy { open_orders: None, ..Policy::preset(Profile::Kraken) });
        l.set_tier(7, tier);
        let placed = (0..500).filter(|_| l.admit_order(7, 0, 0, T0).is_ok()).count();
        assert_eq!(placed, threshold, "{tier}");
        assert_eq!(l.admit_order(7, 0, 0, T0), Err(KrakenError::OrderRateLimitExceeded));
        assert!(l.admit_order(7, 1, 0, T0).is_ok(), "{tier}: another pair has its own counter");
        assert!(l.admit_order(8, 0, 0, T0).is_ok(), "{tier}: another account too");
    }
}

#[test]
fn trading_counter_decays_by_tier() {
    for (tier, per_order_us) in [(Tier::Starter, SEC), (Tier::Intermediate, 427_351), (Tier::Pro, 266_667)] {
        let l = Limits::new(Policy::preset(Profile::Kraken));
        l.set_tier(7, tier);
        while l.admit_order(7, 0, 0, T0).is_ok() {}
        assert!(l.admit_order(7, 0, 0, T0 + per_order_us - 2).is_err(), "{tier}");
        assert!(l.admit_order(7, 0, 0, T0 + per_order_us).is_ok(), "{tier}");
    }
}

#[test]
fn cancel_penalties_follow_krakens_table() {
    let table =
        [(0, 8), (4_999_999, 8), (5 * SEC, 6), (10 * SEC, 5), (15 * SEC, 4), (45 * SEC, 2), (90 * SEC, 1), (299 * SEC, 1), (300 * SEC, 0)];
    for (age, calls) in table {
        assert_eq!(cancel_penalty(age), calls * UNIT, "age {age} us");
    }
    // Starter: 60. Seven young cancels (8 each = 56) then one more would pass 60.
    let l = kraken();
    let young = [TradingCharge { pair: 0, cost: cancel_penalty(SEC) }];
    for _ in 0..7 {
        l.admit_cancel(7, &young, true, T0).unwrap();
    }
    assert_eq!(l.admit_cancel(7, &young, true, T0), Err(KrakenError::OrderRateLimitExceeded));
    let old = [TradingCharge { pair: 0, cost: cancel_penalty(400 * SEC) }];
    assert!(l.admit_cancel(7, &old, true, T0).is_ok(), "an old order's cancel costs nothing");
    assert!(l.admit_cancel(7, &[TradingCharge { pair: 0, cost: cancel_penalty(100 * SEC) }], true, T0).is_ok(), "+1 fits: 57");
    // CancelAll is charged but never refused.
    l.admit_cancel(7, &[young[0], young[0]], false, T0).unwrap();
    let views = l.counters(7, &[], |p| format!("pair{p}"), T0);
    assert_eq!((views[0].level, views[0].max), (73.0, 60.0));
    assert_eq!(views[0].drains_in_secs, 73.0);
    assert_eq!(l.admit_order(7, 0, 0, T0 + 13 * SEC), Err(KrakenError::OrderRateLimitExceeded), "60 after 13 s: still no room");
    assert!(l.admit_order(7, 0, 0, T0 + 14 * SEC).is_ok());
}

#[test]
fn open_order_cap_by_tier_after_the_receipt_charge() {
    for (tier, cap) in [(Tier::Unverified, 60), (Tier::Starter, 60), (Tier::Intermediate, 80), (Tier::Pro, 225)] {
        let l = kraken();
        l.set_tier(7, tier);
        assert!(l.admit_order(7, 0, cap - 1, T0).is_ok(), "{tier}");
        assert_eq!(l.admit_order(7, 0, cap, T0), Err(KrakenError::OrdersLimitExceeded), "{tier}");
        let v = l.counters(7, &[], |_| "XBTUSD".into(), T0);
        assert_eq!(v[0].level, 2.0, "{tier}: the refused order still cost its +1 on receipt");
    }
}

#[test]
fn public_limit_per_address() {
    let l = kraken();
    let passed = (0..100).filter(|_| l.check_public(ip(1), T0).is_ok()).count();
    assert_eq!(passed, 15);
    assert_eq!(l.check_public(ip(1), T0), Err(KrakenError::TooManyRequests));
    assert!(l.check_public(ip(2), T0).is_ok(), "another address");
    assert!(l.check_public(ip(1), T0 + SEC).is_ok(), "one a second drains");
    assert!(l.check_public(ip(1), T0 + SEC).is_err());
}

#[test]
fn simple_profile_public_window_and_private_rates() {
    let l = Limits::new(Policy::preset(Profile::Simple));
    let mut passed = 0;
    // 15 a second for 20 seconds would be 300: the window stops it at 200.
    for s in 0..20 {
        passed += (0..15).filter(|_| l.check_public(ip(1), T0 + s * SEC).is_ok()).count();
    }
    assert_eq!(passed, 200);
    assert!(l.check_public(ip(1), T0 + 599 * SEC).is_err(), "the 10-minute window has not ended");
    assert!(l.check_public(ip(1), T0 + 600 * SEC).is_ok(), "a new window");
    assert_eq!(burst(&l, 1, 7, "Balance", 10, T0), 1, "unverified: 1 a second");
    assert_eq!(burst(&l, 1, 7, "AddOrder", 10, T0 + SEC), 1, "every private call counts");
    l.set_tier(8, Tier::Intermediate);
    assert_eq!(burst(&l, 2, 8, "Ledgers", 100, T0), 20, "verified: 20 a second, history costs 1");
    assert!(l.admit_order(8, 0, 10_000, T0).is_ok(), "no engine limits in the simple profile");
}

#[test]
fn lockout_starts_after_the_tenth_failure_and_ends_after_fifteen_minutes() {
    let l = kraken();
    let a = ip(9);
    for i in 0..9 {
        l.auth_failed(a, T0 + i);
        assert!(l.check_lockout(a, T0 + i).is_ok(), "failure {}", i + 1);
    }
    l.auth_failed(a, T0 + 9);
    assert_eq!(l.check_lockout(a, T0 + 9), Err(KrakenError::TemporaryLockout));
    assert!(l.check_lockout(ip(10), T0 + 9).is_ok(), "other addresses are not affected");
    assert_eq!(l.lockouts(T0 + 10).len(), 1);
    assert!(l.check_lockout(a, T0 + 9 + 900 * SEC - 1).is_err());
    assert!(l.check_lockout(a, T0 + 9 + 900 * SEC).is_ok(), "over after 900 s");
    assert!(l.lockouts(T0 + 9 + 900 * SEC).is_empty());
    assert_eq!(l.stats.lockouts_started.load(Ordering::Relaxed), 1);
}

#[test]
fn a_success_breaks_the_run_and_the_operator_can_lift() {
    let l = kraken();
    let a = ip(3);
    for _ in 0..9 {
        l.auth_failed(a, T0);
    }
    l.auth_succeeded(a);
    for _ in 0..9 {
        l.auth_failed(a, T0);
    }
    assert!(l.check_lockout(a, T0).is_ok(), "nine, a success, nine: no lockout");
    l.auth_failed(a, T0);
    assert!(l.check_lockout(a, T0).is_err());
    assert!(l.lift_lockout(a, T0));
    assert!(l.check_lockout(a, T0).is_ok());
    assert!(!l.lift_lockout(a, T0), "nothing left to lift");
}

#[test]
fn failures_far_apart_are_forgotten() {
    let l = kraken();
    let a = ip(4);
    for i in 0..20 {
        l.auth_failed(a, T0 + i * 16 * 60 * SEC);
    }
    assert!(l.check_lockout(a, T0 + 20 * 16 * 60 * SEC).is_ok(), "one failure every 16 minutes never locks");
}

#[test]
fn a_flood_from_a_million_addresses_is_bounded_and_keeps_lockouts() {
    let l = Limits::new(Policy { max_tracked_addresses: 10_000, ..Policy::preset(Profile::Kraken) });
    let victim = ip(0);
    for _ in 0..10 {
        l.auth_failed(victim, T0);
    }
    for n in 1..1_000_000u32 {
        let a = IpAddr::V4(Ipv4Addr::from(0x6400_0000 + n));
        l.auth_failed(a, T0 + n as u64);
        let _ = l.check_public(a, T0 + n as u64);
    }
    assert!(l.tracked_addresses() <= 10_000);
    assert!(l.check_lockout(victim, T0 + 1_000_000).is_err(), "the lockout survived the flood");
}

#[test]
fn in_flight_cap_throttles_until_a_request_ends() {
    let l = Arc::new(Limits::new(Policy { max_in_flight_per_key: 2, ..Policy::preset(Profile::Kraken) }));
    let a = l.enter(1, 1_800_000_000).unwrap();
    let _b = l.enter(1, 1_800_000_000).unwrap();
    assert_eq!(l.enter(1, 1_800_000_000).err(), Some(KrakenError::Throttled(1_800_000_001)));
    assert_eq!(KrakenError::Throttled(1_800_000_001).as_kraken(), "EService:Throttled: 1800000001");
    assert!(l.enter(2, 1_800_000_000).is_ok(), "another key");
    drop(a);
    assert!(l.enter(1, 1_800_000_000).is_ok());
}

#[test]
fn off_profile_limits_nothing() {
    let l = Arc::new(Limits::new(Policy::preset(Profile::Off)));
    assert_eq!(burst(&l, 1, 7, "Ledgers", 10_000, T0), 10_000);
    assert!((0..10_000).all(|_| l.check_public(ip(1), T0).is_ok()));
    assert!((0..10_000).all(|_| l.admit_order(7, 0, 100_000, T0).is_ok()));
    for _ in 0..100 {
        l.auth_failed(ip(1), T0);
    }
    assert!(l.check_lockout(ip(1), T0).is_ok());
    let guards: Vec<_> = (0..1000).map(|_| l.enter(1, 0).unwrap()).collect();
    assert_eq!(guards.len(), 1000);
}

#[test]
fn sweep_forgets_idle_state() {
    let l = kraken();
    l.charge_rest(1, 7, "Balance", T0).unwrap();
    l.admit_order(7, 0, 0, T0).unwrap();
    let _ = l.check_public(ip(1), T0);
    l.sweep(T0 + 3600 * SEC);
    assert_eq!(l.tracked_addresses(), 0);
    assert!(l.counters(7, &[], |_| String::new(), T0 + 3600 * SEC).is_empty());
}

#[test]
fn ipv6_clients_are_tracked_by_their_64() {
    let l = kraken();
    for n in 0..10u16 {
        let a: IpAddr = format!("2001:db8:1:2::{n:x}").parse().unwrap();
        l.auth_failed(a, T0);
    }
    let other_host: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
    assert_eq!(l.check_lockout(other_host, T0), Err(KrakenError::TemporaryLockout), "the whole /64 is locked");
    assert!(l.check_lockout("2001:db8:1:3::1".parse().unwrap(), T0).is_ok(), "the next /64 is not");
    assert!(l.check_lockout("::ffff:10.0.0.9".parse().unwrap(), T0).is_ok());
    assert_eq!(l.lockouts(T0)[0].address.to_string(), "2001:db8:1:2::");
    assert!(l.lift_lockout(other_host, T0));
    assert_eq!(tracked_unit("::ffff:10.0.0.9".parse().unwrap()), ip(9));
}

#[test]
fn amend_edit_and_batch_costs_follow_krakens_table() {
    use super::{amend_penalty, batch_cost, edit_penalty};
    // Fixed +1 on receipt, plus the decaying part by the order's age.
    for (age, calls) in [(0, 4), (4_999_999, 4), (5 * SEC, 3), (10 * SEC, 2), (15 * SEC, 1), (400 * SEC, 1)] {
        assert_eq!(amend_penalty(age), calls * UNIT, "amend at age {age} us");
    }
    for (age, calls) in [(0, 7), (5 * SEC, 6), (10 * SEC, 5), (15 * SEC, 3), (45 * SEC, 2), (90 * SEC, 1), (400 * SEC, 1)] {
        assert_eq!(edit_penalty(age), calls * UNIT, "edit at age {age} us");
    }
    assert_eq!((batch_cost(2), batch_cost(15)), (UNIT, 15 * UNIT / 2));
    // Starter: 60. A batch of 15 (7.5) eight times is 60; the ninth passes it, and the open-order
    // cap (Starter: 60) refuses a batch that would pass it.
    let l = kraken();
    for _ in 0..8 {
        l.admit_batch(7, 0, 15, 0, T0).unwrap();
    }
    assert_eq!(l.admit_batch(7, 0, 15, 0, T0), Err(KrakenError::OrderRateLimitExceeded));
    assert_eq!(l.admit_batch(7, 1, 15, 50, T0), Err(KrakenError::OrdersLimitExceeded));
    assert!(l.admit_batch(7, 1, 10, 50, T0).is_ok());
    // Fifteen young amends are 60: the sixteenth is refused, nothing charged.
    for _ in 0..15 {
        l.admit_charges(7, &[TradingCharge { pair: 2, cost: amend_penalty(0) }], T0).unwrap();
    }
    assert_eq!(l.admit_charges(7, &[TradingCharge { pair: 2, cost: amend_penalty(0) }], T0), Err(KrakenError::OrderRateLimitExceeded));
}

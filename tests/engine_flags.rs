//! The engine's order flags and timers as a state machine, with no server in the way: an
//! iceberg's refill goes to the back of its level and the level shows only display parts, a GTD
//! order expires at its time releasing exactly its hold, a scheduled order waits outside the
//! book, a dead man's switch fires once at its time, and the random streams of
//! tests/engine_properties.rs really reach each of these (the properties there would be vacuous
//! otherwise). Invariants are checked after every command by the shared driver (`Sim::apply`).

mod engine_model;
use calamari::engine::order::{NewOrder, OrderKind, OrderSeq, Side, Status, TimeInForce};
use calamari::engine::{Applied, Command};
use engine_model::*;
use engine_model::{money::*, ops::*, sim::*};
use proptest::prelude::*;

const BTC: i128 = 10_000_000_000;
const DOLLAR: i128 = 10_000;

fn place(sim: &mut Sim, req: NewOrder) -> OrderSeq {
    match sim.apply(Command::PlaceOrder(req)) {
        Ok(Applied::OrderPlaced(seq)) => seq,
        other => panic!("place: {other:?}"),
    }
}

fn level(sim: &Sim, side: Side, price: u64) -> (i128, Vec<OrderSeq>) {
    sim.ex.books[0]
        .levels(side)
        .find(|(p, _)| **p == price)
        .map(|(_, l)| (l.volume, sim.ex.books[0].queue(l, &sim.ex.orders).filter(|s| order(&sim.ex, *s).is_open()).collect()))
        .unwrap_or_default()
}

#[test]
fn iceberg_refill_loses_priority_and_the_level_shows_display_parts() {
    let mut sim = Sim::new(1, 3, [1_000_000 * DOLLAR, 10 * BTC, 10 * BTC]);
    let (a, b, c) = (sim.users[0], sim.users[1], sim.users[2]);
    let ice = NewOrder {
        kind: OrderKind::Iceberg,
        ..NewOrder::limit(a, 0, Side::Sell, 600_000, BTC).with_rare(|r| r.display_volume = Some(BTC / 10))
    };
    let ice = place(&mut sim, ice);
    let plain = place(&mut sim, NewOrder::limit(b, 0, Side::Sell, 600_000, BTC / 5));
    assert_eq!(level(&sim, Side::Sell, 600_000), (BTC / 10 + BTC / 5, vec![ice, plain]));
    // Too small a display (below 1/15) or none at all is refused and changes nothing.
    let small = NewOrder {
        kind: OrderKind::Iceberg,
        ..NewOrder::limit(a, 0, Side::Sell, 600_000, BTC).with_rare(|r| r.display_volume = Some(BTC / 16))
    };
    assert!(sim.apply(Command::PlaceOrder(small)).is_err());
    assert!(sim
        .apply(Command::PlaceOrder(NewOrder { kind: OrderKind::Iceberg, ..NewOrder::limit(a, 0, Side::Sell, 600_000, BTC) }))
        .is_err());

    place(&mut sim, NewOrder::limit(c, 0, Side::Buy, 600_000, BTC / 10));
    assert_eq!(order(&sim.ex, ice).filled(), BTC / 10);
    assert_eq!(level(&sim, Side::Sell, 600_000), (BTC / 10 + BTC / 5, vec![plain, ice]), "refilled at the back");
    place(&mut sim, NewOrder::limit(c, 0, Side::Buy, 600_000, BTC / 4));
    assert_eq!(order(&sim.ex, plain).status, Status::Closed);
    assert_eq!(order(&sim.ex, ice).filled(), BTC / 10 + BTC / 20);
    assert_eq!(level(&sim, Side::Sell, 600_000), (BTC / 20, vec![ice]));
    // An incoming iceberg takes like a limit order, then rests showing its display part.
    let taker = NewOrder {
        kind: OrderKind::Iceberg,
        ..NewOrder::limit(c, 0, Side::Buy, 600_000, BTC).with_rare(|r| r.display_volume = Some(BTC / 10))
    };
    let taker = place(&mut sim, taker);
    let rest = BTC - (BTC - BTC / 10 - BTC / 20);
    assert_eq!(order(&sim.ex, taker).filled(), BTC - BTC / 10 - BTC / 20);
    assert_eq!(level(&sim, Side::Buy, 600_000), (rest.min(BTC / 10), vec![taker]));
    check_money(&sim.ex);
}

#[test]
fn expiry_start_and_dead_mans_switch_fire_once_at_their_time() {
    let mut sim = Sim::new(2, 2, [100_000 * DOLLAR, 10 * BTC, 10 * BTC]);
    let (a, b) = (sim.users[0], sim.users[1]);
    let t0 = sim.t;
    let gtd = NewOrder {
        time_in_force: TimeInForce::Gtd,
        ..NewOrder::limit(a, 0, Side::Buy, 590_000, BTC).with_rare(|r| r.expire_ns = Some(t0 + 60 * NS))
    };
    let gtd = place(&mut sim, gtd);
    let held = sim.ex.accounts[a as usize].funds[USD as usize].hold;
    assert!(held > 0);
    let later = NewOrder::limit(b, 0, Side::Sell, 590_000, BTC / 2).with_rare(|r| r.start_ns = Some(t0 + 30 * NS));
    let later = place(&mut sim, later);
    assert_eq!((order(&sim.ex, later).status, level(&sim, Side::Sell, 590_000).0), (Status::Pending, 0));
    assert_eq!(sim.ex.accounts[b as usize].funds[XBT as usize].hold, BTC / 2, "a pending order holds");
    sim.apply(Command::CancelAllAfter { account: b, timeout_s: 45 }).unwrap();
    // A past expiry, or one not after the start, is refused.
    let past = NewOrder {
        time_in_force: TimeInForce::Gtd,
        ..NewOrder::limit(a, 0, Side::Buy, 590_000, BTC).with_rare(|r| r.expire_ns = Some(t0))
    };
    assert!(sim.apply(Command::PlaceOrder(past)).is_err());

    sim.advance(30 * NS);
    assert!(sim.ex.due(sim.t));
    sim.tick_if_due();
    // The start: the pending sell matches the resting GTD buy, as if placed now.
    assert_eq!(order(&sim.ex, later).status, Status::Closed);
    assert_eq!(order(&sim.ex, gtd).filled(), BTC / 2);
    let left = sim.ex.accounts[a as usize].funds[USD as usize].hold;
    sim.advance(15 * NS);
    sim.tick_if_due();
    assert_eq!(sim.ex.dead_man(b), None, "fired and disarmed");
    sim.advance(15 * NS);
    sim.tick_if_due();
    let o = &order(&sim.ex, gtd);
    assert_eq!((o.status, o.reason, o.close_ns), (Status::Expired, None, t0 + 60 * NS));
    assert!(left > 0 && sim.ex.accounts[a as usize].funds[USD as usize].hold == 0, "the expiry released what was left: {left}");
    assert!(!sim.ex.due(sim.t + 1_000 * NS), "nothing left to fire");
    check_money(&sim.ex);
}

/// The random streams reach expiries, starts, iceberg refills, viqc fills and fired switches.
#[test]
fn random_streams_reach_every_flag_state() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let ops = prop::collection::vec((mixed_op(), dt()), 300).new_tree(&mut runner).unwrap().current();
        let mut sim = Sim::new(5, 4, [200_000 * 10_000, 5 * 10_000_000_000, 60 * 10_000_000_000]);
        for (op, dt) in &ops {
            sim.advance(*dt);
            let armed = sim.ex.timers.dead_man.len();
            sim.tick_if_due();
            if sim.ex.timers.dead_man.len() < armed {
                seen.insert("dead man's switch fired".to_string());
            }
            let cmd = command(&sim.ex, &sim.users, op);
            let _ = sim.apply(cmd);
        }
        check_money(&sim.ex);
        for o in &all_orders(&sim.ex) {
            if o.status == Status::Expired {
                seen.insert("expired".into());
            }
            if o.start_ns().is_some() && o.filled() > 0 {
                seen.insert("scheduled order traded".into());
            }
            if o.display_volume().is_some_and(|d| o.filled() > d) {
                seen.insert("iceberg refilled".into());
            }
            if o.req.quote_volume && o.status == Status::Closed {
                seen.insert("viqc closed".into());
            }
        }
    }
    for want in ["expired", "scheduled order traded", "iceberg refilled", "viqc closed", "dead man's switch fired"] {
        assert!(seen.contains(want), "never reached {want}: {seen:?}");
    }
}

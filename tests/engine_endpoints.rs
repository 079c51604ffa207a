//! AmendOrder, AddOrderBatch, EditOrder and CancelOrderBatch as engine commands, with no server
//! in the way: the random streams of tests/engine_properties.rs really reach each outcome (the
//! properties there, which check conservation, holds, rejected-changes-nothing and the replay
//! digest after every command, would be vacuous otherwise), and an iceberg's amend keeps Kraken's
//! smallest display. Invariants are checked after every command by the shared driver.

mod engine_model;
use calamari::engine::order::{NewOrder, OrderKind, OrderSeq, Side};
use calamari::engine::{Applied, Command};
use calamari::error::KrakenError;
use engine_model::*;
use engine_model::{money::*, ops::*, sim::*};
use proptest::prelude::*;

fn place_ok(sim: &mut Sim, req: NewOrder) -> OrderSeq {
    match sim.apply(Command::PlaceOrder(req)) {
        Ok(Applied::OrderPlaced(seq)) => seq,
        other => panic!("place: {other:?}"),
    }
}

/// The random streams do amend, batch, edit and batch-cancel successfully (and see the engine
/// refuse some of each), so the properties above cover those commands.
#[test]
fn random_streams_amend_batch_edit_and_cancel_batch() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..100 {
        let ops = prop::collection::vec((mixed_op(), dt()), 300).new_tree(&mut runner).unwrap().current();
        let mut sim = Sim::new(5, 4, [200_000 * 10_000, 5 * 10_000_000_000, 60 * 10_000_000_000]);
        for (op, dt) in &ops {
            sim.advance(*dt);
            sim.tick_if_due();
            let cmd = command(&sim.ex, &sim.users, op);
            let armed_target = match &cmd {
                Command::Amend(r) => match &r.target {
                    calamari::engine::amend::AmendTarget::Order(seq) => order_opt(&sim.ex, *seq).is_some_and(|o| o.is_armed()),
                    _ => false,
                },
                _ => false,
            };
            let kind = match &cmd {
                Command::Amend(_) if armed_target => "armed stop amend",
                Command::Amend(_) => "amend",
                Command::PlaceBatch(_) => "batch",
                Command::Edit { .. } => "edit",
                Command::CancelBatch { .. } => "cancel batch",
                _ => {
                    let _ = sim.apply(cmd);
                    continue;
                }
            };
            match sim.apply(cmd) {
                Ok(Applied::Batch(results)) => {
                    seen.insert(format!("batch placed {}", results.iter().any(|r| r.is_ok())));
                    seen.extend(results.iter().filter_map(|r| r.as_ref().err()).map(|e| format!("batch entry {}", e.as_kraken())));
                }
                Ok(_) => {
                    seen.insert(format!("{kind} ok"));
                }
                Err(e) => {
                    seen.insert(format!("{kind} {}", e.as_kraken()));
                }
            }
        }
        check_money(&sim.ex);
        // Amends that kept the order's place and amends that moved it both happen.
        for o in all_orders(&sim.ex) {
            for w in o.amends().windows(2) {
                let (before, after) = (&w[0], &w[1]);
                seen.insert(format!(
                    "amend keeps place {}",
                    after.limit_price == before.limit_price && after.order_qty <= before.order_qty
                ));
            }
        }
    }
    for want in [
        "armed stop amend ok",
        "armed stop amend EGeneral:Invalid arguments:trigger_price",
        "amend ok",
        "amend EOrder:Unknown order",
        "amend EOrder:Insufficient funds",
        "amend keeps place true",
        "amend keeps place false",
        "batch placed true",
        "batch entry EOrder:Insufficient funds",
        "batch EGeneral:Invalid arguments:orders",
        "edit ok",
        "edit EOrder:Invalid order",
        "cancel batch ok",
        "cancel batch EOrder:Unknown order",
    ] {
        assert!(seen.contains(want), "never reached {want}: {seen:?}");
    }
}

/// An amend keeps Kraken's smallest iceberg display (1/15 of the quantity): a larger quantity is
/// refused and changes nothing (a 106M-lot iceberg showing 22 lots was found by the random
/// streams: a taker then refilled it hundreds of thousands of times).
#[test]
fn iceberg_amend_keeps_the_smallest_display() {
    use calamari::engine::amend::{AmendRequest, AmendTarget};
    let mut sim = Sim::new(3, 2, [1_000_000 * 10_000, 10 * 10_000_000_000, 10 * 10_000_000_000]);
    let a = sim.users[0];
    let req = NewOrder {
        kind: OrderKind::Iceberg,
        ..NewOrder::limit(a, 0, Side::Sell, CENTER[0], 1_000 * LOT).with_rare(|r| r.display_volume = Some(100 * LOT))
    };
    let seq = place_ok(&mut sim, req);
    let amend = |qty: i128| {
        Command::Amend(AmendRequest {
            account: a,
            target: AmendTarget::Order(seq),
            order_qty: Some(qty),
            limit_price: None,
            trigger_price: None,
            display_qty: None,
            post_only: false,
            trigger_offset: None,
            limit_offset: None,
        })
    };
    assert_eq!(sim.apply(amend(1_501 * LOT)), Err(KrakenError::invalid("order_qty")));
    assert!(matches!(sim.apply(amend(1_500 * LOT)), Ok(Applied::Amended(_))));
    assert_eq!(order(&sim.ex, seq).shown(), 100 * LOT);
    // Down to less than it shows: the shown part shrinks with it, in place.
    assert!(matches!(sim.apply(amend(40 * LOT)), Ok(Applied::Amended(_))));
    assert_eq!(order(&sim.ex, seq).shown(), 40 * LOT);
}

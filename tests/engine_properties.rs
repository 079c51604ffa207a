//! Property tests of the matching engine as a state machine (`Exchange::apply`), with no server,
//! storage or clock in the way.
//!
//! 1. `conservation_and_holds`: random streams of orders, cancels and deposits; after every
//!    command the engine's own invariants hold, a few more structural ones hold, and a rejected
//!    command changes nothing.
//! 2. `matches_reference_book`: the same stream fed to a naive reference matcher (a Vec of
//!    resting orders scanned for best price then earliest seq) gives the same fills, the same
//!    resting orders and the same statuses.
//! 3. Exact money (`check_money`, run at the end of 1, 2 and 4): trade records pair up, orders'
//!    cost/fee/filled are the sums of their trades, ledgers replay to the balances.
//! 4. `replay_is_deterministic`: the same envelopes give the same state; the accepted ones,
//!    logged as JSON and replayed into a fresh exchange, rebuild it.
//! 5. Unit cases: post-only, insufficient funds, self-trade prevention, partial fill + cancel.

#![allow(clippy::type_complexity)]

mod engine_model;
use calamari::engine::account::FIRST_USER;
use calamari::engine::order::{AccountId, CancelReason, NewOrder, OrderKind, OrderSeq, SelfTrade, Side, Status};
use calamari::engine::{Applied, CancelTarget, Command, Envelope, Exchange};
use calamari::error::KrakenError;
use calamari::money::div_round_half_up;
use engine_model::*;
use engine_model::{money::*, ops::*, reference::*, sim::*};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// The properties.

/// Cases per property (about 1 s in all in a debug build); `PROPTEST_CASES=2000` overrides it.
const CASES: u32 = 128;

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    /// 1 and 3: invariants after every command, rejected commands change nothing, money is exact.
    #[test]
    fn conservation_and_holds(seed in any::<u64>(), ops in prop::collection::vec((mixed_op(), dt()), 1..400)) {
        // Modest funds: some orders are refused for insufficient funds.
        let mut sim = Sim::new(seed, 4, [200_000 * 10_000, 5 * 10_000_000_000, 60 * 10_000_000_000]);
        for (op, dt) in &ops {
            sim.advance(*dt);
            sim.tick_if_due();
            let cmd = command(&sim.ex, &sim.users, op);
            let out = sim.apply(cmd);
            if must_reject(op) {
                prop_assert!(out.is_err(), "malformed {:?} accepted", op);
            }
        }
        check_money(&sim.ex);
    }

    /// 2 and 3: the engine matches like the naive reference book.
    #[test]
    fn matches_reference_book(ops in prop::collection::vec(reference_op(), 1..300)) {
        // Generous funds: nothing is refused for money.
        let rich = 100_000_000_000_000_000;
        let mut sim = Sim::new(7, 4, [rich, rich, rich]);
        let mut reference = Reference::default();
        for op in &ops {
            sim.advance(NS);
            let cmd = command(&sim.ex, &sim.users, op);
            let n_trades = sim.ex.history_out.trades.len();
            let out = sim.apply(cmd.clone());
            let (ref_out, ref_fills) = match &cmd {
                Command::PlaceOrder(req) => match reference.place(req) {
                    Ok((seq, fills)) => (Ok(Applied::OrderPlaced(seq)), fills),
                    Err(e) => (Err(e), vec![]),
                },
                Command::Cancel { account, target } => (reference.cancel(*account, Some(target)).map(Applied::Canceled), vec![]),
                Command::CancelAll { account } => (reference.cancel(*account, None).map(Applied::Canceled), vec![]),
                other => unreachable!("{other:?}"),
            };
            prop_assert_eq!(&out, &ref_out, "outcome of {:?}", cmd);
            prop_assert_eq!(engine_fills(&sim.ex, n_trades), ref_fills, "fills of {:?}", cmd);
            for pair in 0..2u16 {
                for side in [Side::Buy, Side::Sell] {
                    let want: Vec<_> = reference.resting(pair, side).iter().map(|o| (o.seq, o.price, o.volume - o.filled)).collect();
                    prop_assert_eq!(engine_resting(&sim.ex, pair, side), want, "pair {} {:?} side after {:?}", pair, side, cmd);
                }
            }
            prop_assert_eq!(sim.ex.orders.next_seq() as usize, reference.orders.len());
            let all = all_orders(&sim.ex);
            prop_assert_eq!(all.len(), reference.orders.len());
            for (o, r) in all.iter().zip(&reference.orders) {
                prop_assert_eq!((o.status, o.reason, o.filled()), (r.status, r.reason, r.filled), "order {} after {:?}", o.seq, cmd);
            }
        }
        check_money(&sim.ex);
    }

    /// 4: the same envelopes give the same exchange; the accepted ones, through JSON, rebuild it.
    #[test]
    fn replay_is_deterministic(seed in any::<u64>(), ops in prop::collection::vec((mixed_op(), dt()), 1..250)) {
        let mut sim = Sim::new(seed, 4, [200_000 * 10_000, 5 * 10_000_000_000, 60 * 10_000_000_000]);
        for (op, dt) in &ops {
            sim.advance(*dt);
            sim.tick_if_due();
            let cmd = command(&sim.ex, &sim.users, op);
            let _ = sim.apply(cmd);
        }
        check_money(&sim.ex);

        // Every envelope, rejected ones included, into a twin with the same seed.
        let mut twin = exchange(seed);
        for (env, accepted) in &sim.all {
            prop_assert_eq!(twin.apply(env).is_ok(), *accepted);
        }
        prop_assert_eq!(state(&twin), state(&sim.ex));
        prop_assert_eq!(twin.now_ns, sim.ex.now_ns);

        // Only the accepted envelopes, as the sequencer logs them, into a fresh exchange.
        let mut replayed = exchange(seed);
        for (env, _) in sim.all.iter().filter(|(_, ok)| *ok) {
            let bytes = serde_json::to_vec(env).unwrap();
            let back: Envelope = serde_json::from_slice(&bytes).unwrap();
            prop_assert_eq!(&back, env);
            prop_assert!(replayed.apply(&back).is_ok(), "replay refused {:?}", back);
        }
        prop_assert_eq!(state(&replayed), state(&sim.ex));
        for s in 0..sim.ex.orders.next_seq() {
            prop_assert_eq!(replayed.order_txid(s), sim.ex.order_txid(s));
        }
    }
}

/// Everything observable of an exchange's state, as text (time aside).
fn state(ex: &Exchange) -> String {
    format!(
        // An order's amend history is in its record (`all_orders`).
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        ex.funding,
        ex.history,
        ex.accounts,
        all_orders(ex),
        ex.books,
        ex.market_data.iter().map(|m| (&m.trades, &m.candles, &m.spreads, m.last_price)).collect::<Vec<_>>()
    )
}

// ---------------------------------------------------------------------------------------------
// 5. Unit cases.

fn limit(account: AccountId, pair: u16, side: Side, price: u64, volume: i128) -> NewOrder {
    NewOrder::limit(account, pair, side, price, volume)
}

fn place_ok(sim: &mut Sim, req: NewOrder) -> OrderSeq {
    sim.advance(NS);
    match sim.apply(Command::PlaceOrder(req)) {
        Ok(Applied::OrderPlaced(seq)) => seq,
        other => panic!("place: {other:?}"),
    }
}

const BTC: i128 = 10_000_000_000;
const DOLLAR: i128 = 10_000;

fn two_traders() -> (Sim, AccountId, AccountId) {
    let sim = Sim::new(1, 2, [100_000 * DOLLAR, 10 * BTC, 100 * BTC]);
    let (a, b) = (sim.users[0], sim.users[1]);
    (sim, a, b)
}

#[test]
fn post_only_that_would_cross_is_canceled() {
    let (mut sim, a, b) = two_traders();
    place_ok(&mut sim, limit(a, 0, Side::Sell, 600_000, BTC));
    let before = sim.ex.accounts[b as usize].clone();
    let seq = place_ok(&mut sim, NewOrder { post_only: true, ..limit(b, 0, Side::Buy, 600_010, BTC / 2) });
    let o = &order(&sim.ex, seq);
    assert_eq!((o.status, o.reason, o.filled(), o.hold_remaining()), (Status::Canceled, Some(CancelReason::PostOnly), 0, 0));
    let after = &sim.ex.accounts[b as usize];
    assert_eq!(after.holds(), vec![0, 0, 0]);
    assert_eq!(after.balances(), before.balances());
    assert!(sim.ex.history_out.trades.is_empty());
    assert_eq!(engine_resting(&sim.ex, 0, Side::Buy), vec![]);
    // Not crossing: it rests and holds.
    let seq = place_ok(&mut sim, NewOrder { post_only: true, ..limit(b, 0, Side::Buy, 599_990, BTC / 2) });
    assert!(order(&sim.ex, seq).is_open());
    assert!(sim.ex.accounts[b as usize].funds[USD as usize].hold > 0);
    check_money(&sim.ex);
}

#[test]
fn market_buy_without_funds_is_refused_and_changes_nothing() {
    let (mut sim, a, _) = two_traders();
    let poor = match sim.apply(Command::CreateAccount { name: "poor".into() }) {
        Ok(Applied::AccountCreated(id)) => id,
        other => panic!("{other:?}"),
    };
    sim.apply(Command::Deposit { account: poor, asset: USD, amount: 1_000 * DOLLAR }).unwrap();
    // Exactly 0.1 BTC at 60000, more at 70000: a market buy of 0.1 BTC holds for 60000 only.
    place_ok(&mut sim, limit(a, 0, Side::Sell, 600_000, BTC / 10));
    place_ok(&mut sim, limit(a, 0, Side::Sell, 700_000, BTC));
    let before = fingerprint(&sim.ex);
    sim.advance(NS);
    // 0.1 BTC at 60000 is 6000 USD: more than 1000.
    let out = sim.apply(Command::PlaceOrder(NewOrder { kind: OrderKind::Market, price: 0, ..limit(poor, 0, Side::Buy, 0, BTC / 10) }));
    assert_eq!(out, Err(KrakenError::InsufficientFunds));
    assert_eq!(fingerprint(&sim.ex), before);
    // The fee is held too: exactly the cost is still too little.
    sim.apply(Command::Deposit { account: poor, asset: USD, amount: 5_000 * DOLLAR }).unwrap();
    let out = sim.apply(Command::PlaceOrder(NewOrder { kind: OrderKind::Market, price: 0, ..limit(poor, 0, Side::Buy, 0, BTC / 10) }));
    assert_eq!(out, Err(KrakenError::InsufficientFunds));
    // With the fee covered (0.40% of 6000 = 24) it fills.
    sim.apply(Command::Deposit { account: poor, asset: USD, amount: 24 * DOLLAR }).unwrap();
    let seq = place_ok(&mut sim, NewOrder { kind: OrderKind::Market, price: 0, ..limit(poor, 0, Side::Buy, 0, BTC / 10) });
    let o = &order(&sim.ex, seq);
    assert_eq!((o.status, o.filled(), o.cost(), o.fee()), (Status::Closed, BTC / 10, 6_000 * DOLLAR, 24 * DOLLAR));
    assert_eq!(sim.ex.accounts[poor as usize].balances(), vec![0, BTC / 10, 0]);
    check_money(&sim.ex);
}

#[test]
fn self_trade_cancel_newest_leaves_the_resting_order() {
    let (mut sim, a, b) = two_traders();
    let resting = place_ok(&mut sim, limit(a, 0, Side::Sell, 600_000, BTC));
    let hold = sim.ex.accounts[a as usize].holds();
    let seq = place_ok(&mut sim, limit(a, 0, Side::Buy, 600_100, BTC / 2));
    let o = &order(&sim.ex, seq);
    assert_eq!((o.status, o.reason, o.filled()), (Status::Canceled, Some(CancelReason::SelfTrade), 0));
    assert!(order(&sim.ex, resting).is_open());
    assert_eq!(order(&sim.ex, resting).remaining(), BTC);
    assert_eq!(sim.ex.accounts[a as usize].holds(), hold);
    assert!(sim.ex.history_out.trades.is_empty());

    // Cancel-newest after a fill against someone else: the fill stays, the rest is canceled.
    place_ok(&mut sim, limit(b, 0, Side::Sell, 599_000, BTC / 4));
    let seq = place_ok(&mut sim, limit(a, 0, Side::Buy, 600_100, BTC / 2));
    let o = &order(&sim.ex, seq);
    assert_eq!((o.status, o.reason, o.filled()), (Status::Canceled, Some(CancelReason::SelfTrade), BTC / 4));
    assert_eq!(order(&sim.ex, resting).remaining(), BTC);

    // Cancel-oldest removes the resting order and goes on; cancel-both removes both.
    place_ok(&mut sim, limit(b, 0, Side::Sell, 600_050, BTC));
    let seq = place_ok(&mut sim, NewOrder { self_trade: SelfTrade::CancelOldest, ..limit(a, 0, Side::Buy, 600_100, BTC / 2) });
    assert_eq!(order(&sim.ex, resting).reason, Some(CancelReason::SelfTrade));
    assert_eq!(order(&sim.ex, seq).status, Status::Closed);
    assert_eq!(sim.ex.history_out.trades.last().unwrap().price, 600_050);
    let resting = place_ok(&mut sim, limit(a, 1, Side::Buy, 300_000, BTC));
    let seq = place_ok(&mut sim, NewOrder { self_trade: SelfTrade::CancelBoth, ..limit(a, 1, Side::Sell, 299_000, BTC) });
    assert_eq!(order(&sim.ex, resting).status, Status::Canceled);
    assert_eq!(order(&sim.ex, seq).reason, Some(CancelReason::SelfTrade));
    check_money(&sim.ex);
}

#[test]
fn partial_fill_then_cancel_keeps_filled() {
    let (mut sim, a, b) = two_traders();
    let sell = place_ok(&mut sim, NewOrder { userref: Some(5), ..limit(a, 0, Side::Sell, 600_000, BTC) });
    let buy = place_ok(&mut sim, limit(b, 0, Side::Buy, 600_000, BTC * 4 / 10));
    assert_eq!(order(&sim.ex, buy).status, Status::Closed);
    let o = &order(&sim.ex, sell);
    assert_eq!((o.status, o.filled(), o.cost()), (Status::Open, BTC * 4 / 10, 24_000 * DOLLAR));
    assert_eq!(sim.ex.accounts[a as usize].funds[XBT as usize].hold, BTC * 6 / 10);
    sim.advance(NS);
    assert_eq!(sim.apply(Command::Cancel { account: a, target: CancelTarget::UserRef(5) }), Ok(Applied::Canceled(1)));
    let o = &order(&sim.ex, sell);
    assert_eq!(
        (o.status, o.reason, o.filled(), o.hold_remaining()),
        (Status::Canceled, Some(CancelReason::UserRequested), BTC * 4 / 10, 0)
    );
    let acct = &sim.ex.accounts[a as usize];
    assert_eq!(acct.holds(), vec![0, 0, 0]);
    assert_eq!(acct.funds[XBT as usize].balance, 10 * BTC - BTC * 4 / 10);
    // Maker fee 0.25% of 24000 USD.
    assert_eq!(acct.funds[USD as usize].balance, 100_000 * DOLLAR + 24_000 * DOLLAR - 60 * DOLLAR);
    assert!(engine_resting(&sim.ex, 0, Side::Sell).is_empty());
    // Canceling it again is refused.
    assert_eq!(sim.apply(Command::Cancel { account: a, target: CancelTarget::Order(sell) }), Err(KrakenError::UnknownOrder));
    check_money(&sim.ex);
}

#[test]
fn fee_tier_drops_after_volume() {
    let (mut sim, a, b) = two_traders();
    // 0.2 BTC at 60000 = 12000 USD of volume each: above the 10000 tier.
    place_ok(&mut sim, limit(a, 0, Side::Sell, 600_000, BTC / 5));
    let t1 = place_ok(&mut sim, limit(b, 0, Side::Buy, 600_000, BTC / 5));
    assert_eq!(order(&sim.ex, t1).fee(), 48 * DOLLAR);
    place_ok(&mut sim, limit(a, 0, Side::Sell, 600_000, BTC / 5));
    let t2 = place_ok(&mut sim, limit(b, 0, Side::Buy, 600_000, BTC / 5));
    assert_eq!(order(&sim.ex, t2).fee(), 42 * DOLLAR);
    // Thirty-one days later the volume has aged out.
    sim.advance(31 * DAY_NS);
    place_ok(&mut sim, limit(a, 0, Side::Sell, 600_000, BTC / 5));
    let t3 = place_ok(&mut sim, limit(b, 0, Side::Buy, 600_000, BTC / 5));
    assert_eq!(order(&sim.ex, t3).fee(), 48 * DOLLAR);
    check_money(&sim.ex);
}

#[test]
fn dust_costs_round_exactly() {
    let (mut sim, a, b) = two_traders();
    // One lot (1e-8 BTC) at 60000.0 costs 0.0006 USD = 6 units; at 60000.1, 6.00001 units.
    let sell = place_ok(&mut sim, limit(a, 0, Side::Sell, 600_001, 1000 * LOT));
    for _ in 0..1000 {
        place_ok(&mut sim, limit(b, 0, Side::Buy, 600_001, LOT));
    }
    let o = &order(&sim.ex, sell);
    assert_eq!(o.status, Status::Closed);
    // Each buyer paid round(6.00001) = 6; the seller got 6000 (exact 6000.01).
    assert_eq!(o.cost(), 6_000);
    // A single buyer of all 1000 lots, filled by 1000 one-lot sells, pays the rounded exact
    // total (6000.01 -> 6000) although each fill's exact cost is 6.00001 units.
    let big = place_ok(&mut sim, limit(b, 0, Side::Buy, 600_001, 1000 * LOT));
    for _ in 0..1000 {
        place_ok(&mut sim, limit(a, 0, Side::Sell, 600_001, LOT));
    }
    let o = &order(&sim.ex, big);
    assert_eq!((o.status, o.cost()), (Status::Closed, 6_000));
    assert_eq!(o.exact_cost(), 600_001 * 1000 * LOT);
    check_money(&sim.ex);
}

#[test]
fn fee_never_exceeds_the_fill_cost() {
    // ETH/USD: exact costs are in 1e-12 USD, 1e8 of them to a USD unit (1e-4).
    let (mut sim, a, b) = two_traders();
    place_ok(&mut sim, limit(b, 1, Side::Buy, 300_000, 416 * LOT));
    place_ok(&mut sim, limit(b, 1, Side::Buy, 300_000, LOT));
    // The taker sell fills 416 lots for 124.8 units (0.01248 USD at ETHUSD's 5 cost decimals,
    // 125 in the ledger; fee 0.0000499 USD, charged at USD's 4 decimals: 0), then one lot for
    // 0.3 units (0.00003) that the buyer's rounding makes 0 in the ledger, while the seller's
    // running fee (0.00005004) would round to one unit: capped at that fill's cost, 0.
    let sell = place_ok(&mut sim, limit(a, 1, Side::Sell, 300_000, 417 * LOT));
    let t = &sim.ex.history_out.trades;
    assert_eq!(t.len(), 4);
    assert_eq!((t[0].cost, t[0].fee, t[0].cost_cd, t[0].fee_cd), (125, 0, 1_248, 0));
    assert_eq!((t[2].cost, t[2].fee, t[2].cost_cd, t[2].fee_cd), (0, 0, 3, 0));
    let o = &order(&sim.ex, sell);
    assert_eq!((o.status, o.cost(), o.fee(), o.cost_cd(), o.fee_cd()), (Status::Closed, 125, 0, 1_251, 0));
    assert_eq!(div_round_half_up(o.exact_fee(), 100_000_000 * PPM), 1);
    check_money(&sim.ex);
}

#[test]
fn reference_agrees_on_a_hand_written_book() {
    // A direct check of the reference itself, so a bug in it cannot hide one in the engine.
    let mut r = Reference::default();
    let sell = |acct, price, volume| NewOrder { ..limit(acct, 0, Side::Sell, price, volume) };
    assert_eq!(r.place(&sell(2, 101, 5)).unwrap().1, vec![]);
    assert_eq!(r.place(&sell(3, 100, 5)).unwrap().1, vec![]);
    assert_eq!(r.place(&sell(4, 100, 5)).unwrap().1, vec![]);
    let (seq, fills) = r.place(&limit(5, 0, Side::Buy, 101, 12)).unwrap();
    assert_eq!(fills, vec![(1, seq, 100, 5), (2, seq, 100, 5), (0, seq, 101, 2)]);
    let (_, fills) = r.place(&NewOrder { kind: OrderKind::Market, ..limit(5, 0, Side::Buy, 0, 10) }).unwrap();
    assert_eq!(fills, vec![(0, 4, 101, 3)]);
    assert_eq!(r.orders[4].reason, Some(CancelReason::NoLiquidity));
}

#[test]
fn user_accounts_follow_the_system_ones() {
    // FIRST_USER is where the user accounts start; the sims above rely on it.
    let sim = Sim::new(3, 2, [1, 1, 1]);
    assert_eq!(sim.users, vec![FIRST_USER, FIRST_USER + 1]);
}

#[test]
fn withdrawal_holds_are_released_exactly_on_cancel_and_failure() {
    use calamari::engine::funding::{addresses::AddressOwner, Status as F, WithdrawRequest};
    let mut sim = Sim::new(3, 1, [1, 1, 1]);
    let u = sim.users[0];
    let owner = AddressOwner { account: u, asset: XBT, method: 0, index: 0 };
    sim.apply(Command::ChainDeposit { owner, amount: 10_000_000_000 }).unwrap();
    sim.advance(3 * 600 * NS);
    sim.tick_if_due();
    assert_eq!(sim.ex.accounts[u as usize].funds[XBT as usize].balance, 10_000_000_001, "credited after 3 confirmations");
    let key = |verified| Command::SetWithdrawKey {
        account: u,
        key: "k".into(),
        asset: XBT,
        method: 0,
        address: "bc1qdest".into(),
        tag: None,
        verified,
    };
    sim.apply(key(true)).unwrap();
    let req = |amount| {
        Command::Withdraw(WithdrawRequest {
            account: u,
            asset: XBT,
            key: "k".into(),
            amount,
            max_fee: None,
            address: None,
            daily_limit: i128::MAX / 4,
            monthly_limit: i128::MAX / 4,
            process_after_s: 60,
            broadcast_after_s: 30,
        })
    };
    let hold = |sim: &Sim| sim.ex.accounts[u as usize].funds[XBT as usize].hold;
    let refid = |a: Applied| match a {
        Applied::Funding(id) => id,
        other => panic!("{other:?}"),
    };
    // Cancel while Initial: the whole hold comes back, nothing is booked.
    let r1 = refid(sim.apply(req(1_000_000_000)).unwrap());
    assert_eq!(hold(&sim), 1_000_000_000);
    sim.apply(Command::WithdrawCancel { account: u, asset: XBT, refid: r1 }).unwrap();
    assert_eq!(hold(&sim), 0);
    assert!(sim.apply(Command::WithdrawCancel { account: u, asset: XBT, refid: r1 }).is_err(), "a second cancel");
    // Failure while Initial: the same.
    let r2 = refid(sim.apply(req(2_000_000_000)).unwrap());
    sim.apply(Command::FailFunding { refid: r2 }).unwrap();
    assert_eq!(hold(&sim), 0);
    // Failure after processing: the debit (amount and fee) is refunded.
    let r3 = refid(sim.apply(req(3_000_000_000)).unwrap());
    sim.advance(60 * NS);
    sim.tick_if_due();
    assert_eq!((hold(&sim), sim.ex.accounts[u as usize].funds[XBT as usize].balance), (0, 7_000_000_001));
    assert!(sim.apply(Command::WithdrawCancel { account: u, asset: XBT, refid: r3 }).is_err(), "processed: no cancel");
    sim.apply(Command::FailFunding { refid: r3 }).unwrap();
    assert_eq!(sim.ex.accounts[u as usize].funds[XBT as usize].balance, 10_000_000_001);
    // Unverified entries cannot be used; the books stay exact throughout.
    sim.apply(key(false)).unwrap();
    assert_eq!(sim.apply(req(1_000_000_000)), Err(KrakenError::FundingUnknownWithdrawKey));
    let statuses: Vec<F> = sim.ex.funding.withdrawals.iter().map(|w| w.status).collect();
    assert_eq!(statuses, [F::Failure, F::Failure, F::Failure]);
    check_money(&sim.ex);
}

/// The random streams do reach every funding state (a generator that only produced refusals
/// would make the properties above vacuous).
#[test]
fn random_streams_reach_every_funding_state() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..80 {
        let ops = prop::collection::vec((mixed_op(), dt()), 300).new_tree(&mut runner).unwrap().current();
        let mut sim = Sim::new(5, 4, [200_000 * 10_000, 5 * 10_000_000_000, 60 * 10_000_000_000]);
        for (op, dt) in &ops {
            sim.advance(*dt);
            sim.tick_if_due();
            let cmd = command(&sim.ex, &sim.users, op);
            let _ = sim.apply(cmd);
        }
        check_money(&sim.ex);
        seen.extend(sim.ex.funding.withdrawals.iter().map(|w| format!("withdrawal {:?} {:?}", w.status, w.prop)));
        seen.extend(sim.ex.funding.deposits.iter().map(|d| format!("deposit {:?}", d.status)));
        seen.extend(sim.ex.history_out.ledger.iter().map(|e| format!("ledger {:?}", e.kind)));
    }
    for want in [
        "withdrawal Success None",
        "withdrawal Failure Some(\"canceled\")",
        "withdrawal Failure None",
        "withdrawal Initial None",
        "deposit Success",
        "deposit Failure",
        "ledger Adjustment",
        "ledger Withdrawal",
    ] {
        assert!(seen.contains(want), "never reached {want}: {seen:?}");
    }
}

/// The random streams really arm, fire and cancel every triggered kind on both references, and
/// place conditional closes (else the trigger checks above would be vacuous).
#[test]
fn random_streams_fire_every_trigger_kind_and_place_closes() {
    use calamari::engine::order::Trigger;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let ops = prop::collection::vec((mixed_op(), dt()), 300).new_tree(&mut runner).unwrap().current();
        let mut sim = Sim::new(5, 4, [200_000 * 10_000, 5 * 10_000_000_000, 60 * 10_000_000_000]);
        for (op, dt) in &ops {
            sim.advance(*dt);
            sim.tick_if_due();
            let cmd = command(&sim.ex, &sim.users, op);
            // Which amend this is, by the order it names before it applies.
            let amend = match &cmd {
                Command::Amend(r) => sim.ex.amend_target(r.account, &r.target).map(|seq| {
                    let o = &order(&sim.ex, seq);
                    match () {
                        _ if o.stop().is_some_and(|s| !s.armed) => "fired stop amended",
                        _ if (r.trigger_offset.is_some() || r.limit_offset.is_some()) && o.req.kind.is_trailing() => {
                            "trailing stop offset amended"
                        }
                        _ if r.trigger_offset.is_some() || r.limit_offset.is_some() => "relative price amended",
                        _ if r.display_qty.is_some() => "iceberg display amended",
                        _ => "",
                    }
                }),
                _ => None,
            };
            if sim.apply(cmd).is_ok() {
                seen.extend(amend.filter(|a| !a.is_empty()).map(str::to_string));
            }
        }
        check_money(&sim.ex);
        for o in &all_orders(&sim.ex) {
            if let Some(st) = o.stop() {
                let state = if st.armed {
                    if o.is_open() {
                        "armed"
                    } else {
                        "canceled armed"
                    }
                } else {
                    "fired"
                };
                seen.insert(format!("{} {state}", o.req.kind.as_str()));
                if !st.armed && o.req.trigger == Trigger::Index {
                    seen.insert("fired on the index".into());
                }
                if !st.armed && o.filled() > 0 {
                    seen.insert(format!("{} filled", o.req.kind.as_str()));
                }
            }
            if o.parent().is_some() {
                seen.insert(format!("close {}", o.req.kind.as_str()));
            }
            // The newer outcomes: scheduled stops that started, refusals by a market state at a
            // start or a trigger, amends of trailing offsets, of icebergs and of fired stops.
            let started = o.status != Status::Pending && o.start_ns().is_some_and(|s| o.close_ns == 0 || s <= o.close_ns);
            if o.stop().is_some() && started && (o.stop().is_some_and(|s| !s.armed) || o.is_open()) {
                seen.insert("scheduled stop started".into());
            }
            if let Some(CancelReason::Market(_)) = o.reason {
                let at = if o.stop().is_some_and(|s| !s.armed) { "fire" } else { "start" };
                seen.insert(format!("market state refused at its {at}"));
            }
        }
    }
    for want in [
        "scheduled stop started",
        "market state refused at its start",
        "market state refused at its fire",
        "trailing stop offset amended",
        "relative price amended",
        "iceberg display amended",
        "fired stop amended",
    ] {
        assert!(seen.contains(want), "never reached {want}: {seen:?}");
    }
    for kind in ["stop-loss", "take-profit", "stop-loss-limit", "take-profit-limit", "trailing-stop", "trailing-stop-limit"] {
        for state in ["armed", "fired", "canceled armed", "filled"] {
            let want = format!("{kind} {state}");
            assert!(seen.contains(&want), "never reached {want}: {seen:?}");
        }
    }
    for want in ["fired on the index", "close limit", "close stop-loss", "close take-profit-limit", "close trailing-stop"] {
        assert!(seen.contains(want), "never reached {want}: {seen:?}");
    }
}

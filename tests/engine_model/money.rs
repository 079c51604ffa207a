//! Exact money: trade records pair up, orders' cost/fee/filled are the sums of their trades,
//! ledgers replay to the balances.

use super::*;

pub fn check_money(ex: &Exchange) {
    check_closed_outbox(ex);
    let m = &ex.markets;
    // Trade records come in (taker, maker) pairs of one fill.
    assert_eq!(ex.history_out.trades.len() % 2, 0);
    for (i, t) in ex.history_out.trades.iter().enumerate() {
        assert_eq!(t.seq as usize, i);
        assert_eq!(order(ex, t.order).req.account, t.account);
    }
    let mut fees_collected = vec![0i128; m.assets.len()];
    for f in ex.history_out.trades.chunks(2) {
        let (taker, maker) = (&f[0], &f[1]);
        assert!(!taker.maker && maker.maker);
        assert_ne!(taker.side, maker.side);
        assert_eq!(
            (taker.price, taker.volume, taker.cost, taker.cost_cd, taker.public_id, taker.pair, taker.time_ns),
            (maker.price, maker.volume, maker.cost, maker.cost_cd, maker.public_id, maker.pair, maker.time_ns),
            "the two sides of a fill disagree"
        );
        // The taker is the newer order, a scheduled one that started after the maker came, a
        // fired trigger order, one re-quoted since, or one amended to a price that crossed.
        let (to, mo) = (&order(ex, taker.order), &order(ex, maker.order));
        let scheduled = to.start_ns().is_some();
        assert!(
            taker.order > maker.order || scheduled || to.stop().is_some() || to.open_ns >= mo.open_ns || to.amended(),
            "the taker is the newer order"
        );
        for r in [taker, maker] {
            let pair = m.pair(r.pair);
            assert!(r.volume > 0 && r.cost >= 0 && r.fee >= 0);
            assert!(r.fee <= if r.fee_in_base { r.volume } else { r.cost }, "fee above what the fill moves");
            if r.fee_in_base {
                assert_eq!(r.fee_cd, r.fee, "a base fee is one figure");
            } else {
                let pair_ctq = pair.cost_to_quote;
                assert_eq!(r.fee_cd, r.fee * pair_ctq, "a quote fee is the amount charged, at cost_decimals");
            }
            assert_eq!(r.ledgers.len(), 2);
            let (lb, lq) = (&ex.history_out.ledger[r.ledgers[0] as usize], &ex.history_out.ledger[r.ledgers[1] as usize]);
            let (base_fee, quote_fee) = if r.fee_in_base { (r.fee, 0) } else { (0, r.fee) };
            let (base_amt, quote_amt) = match r.side {
                Side::Buy => (r.volume, -r.cost),
                Side::Sell => (-r.volume, r.cost),
            };
            for (l, asset, amount, fee) in [(lb, pair.base, base_amt, base_fee), (lq, pair.quote, quote_amt, quote_fee)] {
                assert_eq!(
                    (l.account, l.asset, l.amount, l.fee, l.kind, l.refid),
                    (r.account, asset, amount, fee, LedgerKind::Trade, RefId::Trade(r.seq)),
                    "ledger entry of trade {}",
                    r.seq
                );
            }
            fees_collected[if r.fee_in_base { pair.base } else { pair.quote } as usize] += r.fee;
        }
    }
    // The public tape is the fills, in order, numbered from 1 per pair.
    for (p, md) in ex.market_data.iter().enumerate() {
        let fills: Vec<_> = ex
            .history_out
            .trades
            .chunks(2)
            .filter(|f| f[0].pair as usize == p)
            .map(|f| (f[0].price, f[0].volume, f[0].side, f[0].order_kind, f[0].public_id))
            .collect();
        let tape: Vec<_> = md.trades.iter().map(|t| (t.price, t.volume, t.taker_side, t.taker_kind, t.trade_id)).collect();
        assert_eq!(tape, fills, "pair {p}: public trades");
        assert!(tape.iter().enumerate().all(|(i, t)| t.4 == i as u64 + 1));
        if let Some(t) = tape.last() {
            assert_eq!(md.last_price, t.0);
        }
    }
    // Orders are the sums of their fills.
    for o in &all_orders(ex) {
        let pair = m.pair(o.req.pair);
        let mine: Vec<_> = o.trades().iter().map(|t| &ex.history_out.trades[*t as usize]).collect();
        assert!(mine.iter().all(|t| t.order == o.seq), "order {}'s trade list points at other orders' trades", o.seq);
        let n = ex.history_out.trades.iter().filter(|t| t.order == o.seq).count();
        assert_eq!(n, mine.len(), "order {}: trade list incomplete", o.seq);
        assert_eq!(o.filled(), mine.iter().map(|t| t.volume).sum::<i128>(), "order {} filled", o.seq);
        assert_eq!(o.cost(), mine.iter().map(|t| t.cost).sum::<i128>(), "order {} cost", o.seq);
        assert_eq!(o.fee(), mine.iter().map(|t| t.fee).sum::<i128>(), "order {} fee", o.seq);
        assert_eq!(o.cost_cd(), mine.iter().map(|t| t.cost_cd).sum::<i128>(), "order {} cost at cost_decimals", o.seq);
        assert_eq!(o.fee_cd(), mine.iter().map(|t| t.fee_cd).sum::<i128>(), "order {} fee at cost_decimals", o.seq);
        // Rounded twice, half up: to cost_decimals (Kraken's figure), then to the quote's decimals.
        let twice = |x: i128, d: i128| div_round_half_up(div_round_half_up(x, d * pair.to_cost_decimals), pair.cost_to_quote);
        let exact: i128 = mine.iter().map(|t| t.price as i128 * t.volume).sum();
        assert_eq!(o.exact_cost(), exact, "order {} exact cost", o.seq);
        if o.req.side == Side::Buy {
            // The buyer pays exactly its rounded exact total, never more than the exact cost rounded up.
            assert_eq!(
                o.cost_cd(),
                div_round_half_up(exact, pair.to_cost_decimals),
                "buy order {} cost_cd not the rounded exact cost",
                o.seq
            );
            assert_eq!(o.cost(), twice(exact, 1), "buy order {} cost not the rounded exact cost", o.seq);
            assert!(o.cost() <= div_ceil(exact, pair.cost_divisor), "buy order {} pays more than its exact cost rounded up", o.seq);
        } else {
            // The seller gets the buyers' rounded deltas, each less than one unit from its exact
            // cost (a buyer's running total may cross a rounding boundary on any fill).
            assert!(
                (o.cost() * pair.cost_divisor - exact).abs() < 2 * pair.cost_divisor * mine.len().max(1) as i128,
                "sell order {} cost drifted",
                o.seq
            );
        }
        // Fees never exceed the rounded exact fee, nor the highest rate.
        let divisor = if o.req.fee_in_base { PPM } else { pair.cost_divisor * PPM };
        if o.req.fee_in_base {
            assert!(o.fee() <= div_round_half_up(o.exact_fee(), divisor), "order {} fee above the exact fee", o.seq);
        } else {
            assert!(o.fee() <= twice(o.exact_fee(), PPM), "order {} fee above the exact fee", o.seq);
            assert!(o.fee() <= div_ceil(o.exact_fee(), divisor), "order {} fee above the exact fee rounded up", o.seq);
        }
        let basis = if o.req.fee_in_base { o.filled() } else { exact };
        assert!(o.exact_fee() <= basis * m.max_taker_ppm(), "order {} fee rate above the highest", o.seq);
        assert!(o.exact_fee() >= basis * 2000, "order {} fee rate below the lowest", o.seq);
    }
    // Each account's ledger replays to its balances.
    let mut owner = vec![None; ex.history_out.ledger.len()];
    for (id, acct) in ex.accounts.iter().enumerate() {
        let mut bal = vec![0i128; m.assets.len()];
        let mut last = None;
        // The account's entries, from the records the engine emitted (tests never drain them).
        let mine: Vec<u64> = ex.history_out.ledger.iter().filter(|e| e.account as usize == id).map(|e| e.seq).collect();
        for l in &mine {
            assert!(last.is_none_or(|p| p < *l), "account {id}: ledger out of order");
            last = Some(*l);
            assert!(owner[*l as usize].replace(id).is_none(), "ledger entry {l} in two accounts");
            let e = &ex.history_out.ledger[*l as usize];
            assert_eq!(e.seq, *l);
            assert_eq!(e.account as usize, id);
            bal[e.asset as usize] += e.amount - e.fee;
            assert_eq!(e.balance, bal[e.asset as usize], "account {id}: ledger entry {l}'s balance");
        }
        assert_eq!(bal, acct.balances(), "account {id}: ledger does not replay to the balances");
    }
    assert!(owner.iter().all(|o| o.is_some()), "a ledger entry belongs to no account");
    // Withdrawal fees go to @fees too (and come back on a refund).
    for e in ex.history_out.ledger.iter().filter(|e| e.kind == LedgerKind::Withdrawal && e.account == FEES) {
        fees_collected[e.asset as usize] += e.amount;
    }
    assert_eq!(ex.accounts[FEES as usize].balances(), fees_collected, "@fees holds exactly the fees charged");
    // @external is minus what came in from outside: deposits and adjustments, less withdrawals.
    let mut came_in = vec![0i128; m.assets.len()];
    for e in ex.history_out.ledger.iter().filter(|e| e.kind != LedgerKind::Trade && e.account != EXTERNAL) {
        came_in[e.asset as usize] += e.amount - e.fee;
    }
    let ext: Vec<i128> = ex.accounts[EXTERNAL as usize].funds.iter().map(|f| -f.balance).collect();
    assert_eq!(ext, came_in);
    check_funding(ex);
}

/// Each deposit and withdrawal has exactly the ledger entries its status calls for.
fn check_funding(ex: &Exchange) {
    use calamari::engine::funding::Status as F;
    let net = |account: AccountId, id: u64| -> (usize, i128) {
        let mine = ex.history_out.ledger.iter().filter(|e| e.account == account && e.refid == RefId::Funding(id));
        mine.fold((0, 0), |(n, sum), e| (n + 1, sum + e.amount - e.fee))
    };
    for d in &ex.funding.deposits {
        let (n, sum) = net(d.owner.account, d.id);
        match d.status {
            F::Success => assert_eq!((n, sum), (1, d.amount), "deposit {} credited once", d.id),
            _ => assert_eq!(n, 0, "deposit {} ({:?}) credited", d.id, d.status),
        }
    }
    for w in &ex.funding.withdrawals {
        let (n, sum) = net(w.account, w.id);
        match (w.status, w.prop) {
            (F::Initial, _) | (F::Failure, Some(_)) => assert_eq!(n, 0, "withdrawal {} ({:?}) touched the ledger", w.id, w.status),
            (F::Failure, None) => assert!(n == 0 || (n == 2 && sum == 0), "withdrawal {} failed without a full refund", w.id),
            _ => assert_eq!((n, sum), (1, -(w.amount + w.fee)), "withdrawal {} ({:?}) debit", w.id, w.status),
        }
    }
}

/// Every order that closed was emitted into the outbox once, numbered in order, final, and left
/// the engine; the engine holds only orders that are not final; together they are every order.
pub fn check_closed_outbox(ex: &Exchange) {
    let emitted = &ex.history_out.closed_orders;
    for (i, c) in emitted.iter().enumerate() {
        assert_eq!(c.n as usize, i);
        assert!(!c.order.is_open(), "an emitted order is not final");
        assert!(ex.orders.get(c.order.seq as usize).is_none(), "a closed order stayed in the engine after it was emitted");
    }
    assert!(ex.orders.iter().all(|o| o.is_open()), "the engine holds a closed order");
    assert_eq!(ex.history.next_closed as usize, emitted.len());
    let all = all_orders(ex);
    assert!(all.iter().enumerate().all(|(i, o)| o.seq == i as u64) && all.len() as u64 == ex.orders.next_seq(), "an order lost");
}

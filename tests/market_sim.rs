//! The market simulator and the generated history, on the engine directly with a controlled
//! clock (the same `Simulator` and `Exchange` the server runs, through the same `Driver`):
//! determinism (same seed and same user orders: byte-identical trades and the same digest; another
//! seed: another market), the invariants after every step, and OHLC, Ticker windows and Spread
//! recomputed from the trades and book that produced them, for every interval, over several
//! seeds; the generated history's own consistency (coarse candles aggregate fine ones, today's
//! daily candle opens at Ticker's `o`, the board's 24 h change, 720 candles of every interval).

use calamari::config::Config;
use calamari::engine::market_data::{Candle, MarketData, DAY_NS, INTERVALS, MAX_CANDLES, NS};
use calamari::engine::markets::Markets;
use calamari::engine::order::{NewOrder, OrderKind, Side};
use calamari::engine::{Command, Envelope, Exchange};
use calamari::market::sim::Simulator;
use calamari::sequencer::{Driver, Pending};

const T0: u64 = 1_796_100_000 * NS + 123_456_789;

struct World {
    ex: Exchange,
    sim: Simulator,
    alice: u32,
}

fn world(seed: u64) -> World {
    let cfg = Config::builtin();
    let markets = Markets::from_config(&cfg).unwrap();
    let params = cfg.market.pair_params(&markets).unwrap();
    let mut ex = Exchange::new(markets, 11);
    let apply = |ex: &mut Exchange, command| ex.apply(&Envelope { time_ns: T0, key_nonce: None, command }).unwrap();
    apply(&mut ex, Command::CreateAccount { name: "alice".into() });
    let alice = ex.account_by_name("alice").unwrap();
    for (asset, amount) in [(0u16, 100_000_000_000i128), (1, 100 * 10_000_000_000)] {
        apply(&mut ex, Command::Deposit { account: alice, asset, amount });
    }
    let sim = Simulator::new(seed, 1000, params);
    World { ex, sim, alice }
}

/// Runs `steps` one-second steps after the genesis; with `users`, alice trades XBTUSD now and
/// then (market orders both ways and limit orders around the index). Invariants after each step.
fn run(seed: u64, steps: u64, users: bool) -> World {
    let mut w = world(seed);
    let mut pending = Pending::default();
    assert!(w.sim.genesis(&mut Driver::new(&mut w.ex, &mut pending, T0)).unwrap());
    for n in 1..=steps {
        let t = T0 + n * NS;
        w.sim.run_step(&mut Driver::new(&mut w.ex, &mut pending, t));
        if users && n % 7 == 0 {
            let index = w.ex.index[0];
            let mut order = match n % 4 {
                0 => NewOrder::limit(w.alice, 0, Side::Buy, index / 10 * 10 - 50, 2_000_000),
                1 => NewOrder::limit(w.alice, 0, Side::Sell, index / 10 * 10 + 30, 1_500_000),
                2 => NewOrder::limit(w.alice, 0, Side::Buy, 0, 3_000_000),
                _ => NewOrder::limit(w.alice, 0, Side::Sell, 0, 3_000_000),
            };
            if n % 4 >= 2 {
                order.kind = OrderKind::Market;
            }
            let _ = w.ex.apply(&Envelope { time_ns: t, key_nonce: None, command: Command::PlaceOrder(order) });
        }
        w.ex.check_invariants().unwrap_or_else(|e| panic!("step {n}: {e}"));
    }
    w
}

fn tape(ex: &Exchange) -> String {
    let public: Vec<String> = ex.market_data.iter().map(|m| format!("{:?}", m.trades)).collect();
    format!("{public:?}\n{:?}", ex.history_out.trades)
}

#[test]
fn same_seed_and_user_orders_give_the_same_market_byte_for_byte() {
    let a = run(42, 240, true);
    let b = run(42, 240, true);
    assert_eq!(tape(&a.ex), tape(&b.ex), "trade histories differ");
    assert_eq!(a.ex.digest(), b.ex.digest());
    assert!(a.ex.history_out.trades.iter().any(|t| t.account == a.alice), "alice's orders traded with the simulator");
    let c = run(43, 240, true);
    assert_ne!(tape(&a.ex), tape(&c.ex), "another seed, another market");
    let quiet = run(42, 240, false);
    assert_ne!(a.ex.digest(), quiet.ex.digest(), "user orders change the market");
}

#[test]
fn every_pair_moves_and_keeps_a_deep_two_sided_book() {
    let w = run(7, 120, false);
    for (i, pair) in w.ex.markets.pairs.iter().enumerate() {
        let md = &w.ex.market_data[i];
        assert!(md.has_live_trades(), "{}: no live trade in 2 minutes", pair.altname);
        let book = &w.ex.books[i];
        for side in [Side::Buy, Side::Sell] {
            assert!(book.depth(side, 100).len() >= 20, "{} {side:?}: {} levels", pair.altname, book.depth(side, 100).len());
        }
        let (bid, ask) = (book.best(Side::Buy).unwrap(), book.best(Side::Sell).unwrap());
        assert!(bid < w.ex.index[i] + pair.tick && w.ex.index[i] <= ask + pair.tick, "{}: index outside the spread", pair.altname);
    }
    let moved = w.ex.markets.pairs.iter().enumerate().filter(|(i, p)| w.ex.market_data[*i].last_price != p.reference_price).count();
    assert!(moved >= 14, "only {moved} of 15 last prices moved");
}

fn aggregate(trades: &[(u64, u64, i128)], span: u64) -> Vec<Candle> {
    let mut out: Vec<Candle> = Vec::new();
    for (t, p, v) in trades {
        let start = t / NS / span * span;
        match out.last_mut() {
            Some(c) if c.time == start => {
                c.high = c.high.max(*p);
                c.low = c.low.min(*p);
                c.close = *p;
                c.value += *p as i128 * v;
                c.volume += v;
                c.count += 1;
            }
            _ => out.push(Candle { time: start, open: *p, high: *p, low: *p, close: *p, value: *p as i128 * v, volume: *v, count: 1 }),
        }
    }
    out
}

/// Candles that lie wholly inside the trade tape are exactly the aggregation of its trades.
fn check_against_trades(md: &MarketData, now: u64, name: &str) {
    let trades: Vec<(u64, u64, i128)> = md.trades.iter().map(|t| (t.time_ns, t.price, t.volume)).collect();
    let first = trades[0].0 / NS;
    for (i, minutes) in INTERVALS.iter().enumerate() {
        let span = minutes * 60;
        let served = md.ohlc(i, 0, now);
        assert!(served.len() >= MAX_CANDLES.min(4), "{name} {minutes}m: {} candles", served.len());
        let expected = aggregate(&trades, span);
        let covered: Vec<&Candle> = served.iter().filter(|c| c.time > first).collect();
        for c in covered {
            let e = expected.iter().find(|e| e.time == c.time).unwrap_or_else(|| panic!("{name} {minutes}m {}: no trades", c.time));
            assert_eq!(c, e, "{name} {minutes}m candle {}", c.time);
        }
    }
    for from in [now - DAY_NS, now / DAY_NS * DAY_NS, now - 600 * NS] {
        let w = md.window(from);
        let inside: Vec<_> = trades.iter().filter(|t| t.0 >= from).collect();
        assert_eq!(w.count, inside.len() as u64, "{name}: window count");
        assert_eq!(w.volume, inside.iter().map(|t| t.2).sum::<i128>(), "{name}: window volume");
        assert_eq!(w.value, inside.iter().map(|t| t.1 as i128 * t.2).sum::<i128>(), "{name}: window value (vwap)");
        if let Some(low) = inside.iter().map(|t| t.1).min() {
            assert_eq!((w.low, w.high), (low, inside.iter().map(|t| t.1).max().unwrap()), "{name}: window low/high");
        }
    }
}

#[test]
fn ohlc_ticker_and_spread_agree_with_the_trades_and_book_that_made_them() {
    for seed in [1, 2, 3] {
        let w = run(seed, 150, seed == 2);
        let now = T0 + 150 * NS;
        for (i, pair) in w.ex.markets.pairs.iter().enumerate() {
            let md = &w.ex.market_data[i];
            check_against_trades(md, now, &pair.altname);
            let book = &w.ex.books[i];
            let (_, bid, ask) = *md.spreads.back().expect("spread history");
            assert_eq!((bid, ask), (book.best(Side::Buy).unwrap(), book.best(Side::Sell).unwrap()), "{}: Spread's last row", pair.altname);
            let daily = md.ohlc(6, 0, now);
            assert_eq!(md.today_open(now), daily.last().unwrap().open, "{}: Ticker o is today's daily open", pair.altname);
        }
    }
}

#[test]
fn generated_history_is_consistent_with_the_board_and_with_itself() {
    for seed in [5, 6] {
        let w = run(seed, 0, false);
        let now = T0;
        for (i, pair) in w.ex.markets.pairs.iter().enumerate() {
            let md = &w.ex.market_data[i];
            let name = &pair.altname;
            assert_eq!(md.trades.last().unwrap().price, pair.reference_price, "{name}: the last trade is the board's price");
            // The board's 24 h change: the price a day ago is the configured open.
            let day_ago = md.trades.iter().find(|t| t.time_ns >= now - DAY_NS).unwrap().price as i128;
            let open = pair.open_price as i128;
            assert!((day_ago - open).abs() * 1000 <= open * 15, "{name}: 24 h ago {day_ago} vs open {open}");
            for (k, minutes) in INTERVALS.iter().enumerate() {
                let c = md.ohlc(k, 0, now);
                assert_eq!(c.len(), MAX_CANDLES, "{name}: {minutes}m candles");
                assert!(c.windows(2).all(|p| p[0].time + minutes * 60 <= p[1].time), "{name} {minutes}m: ordered");
                assert!(c.iter().all(|c| c.low <= c.open.min(c.close) && c.high >= c.open.max(c.close)), "{name} {minutes}m: OHLC");
            }
            // Every coarser interval is the aggregation of the finer ones where both are served.
            for (fine, coarse) in [(0, 1), (0, 4), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7), (6, 8)] {
                let f = md.ohlc(fine, 0, now);
                let span = INTERVALS[coarse] * 60;
                for c in md.ohlc(coarse, 0, now).iter().filter(|c| c.time >= f[0].time) {
                    let parts: Vec<&Candle> = f.iter().filter(|x| x.time / span * span == c.time).collect();
                    assert_eq!(c.open, parts[0].open, "{name} {}m {}: open", INTERVALS[coarse], c.time);
                    assert_eq!(c.close, parts.last().unwrap().close);
                    assert_eq!(c.high, parts.iter().map(|x| x.high).max().unwrap());
                    assert_eq!(c.low, parts.iter().map(|x| x.low).min().unwrap());
                    assert_eq!(c.volume, parts.iter().map(|x| x.volume).sum::<i128>());
                    assert_eq!(c.count, parts.iter().map(|x| x.count).sum::<u64>());
                }
            }
            assert_eq!(md.today_open(now), md.ohlc(6, 0, now).last().unwrap().open, "{name}: Ticker o");
            check_against_trades(md, now, name);
        }
    }
}

/// BENCHMARKS.md §8's figure (run with `--ignored --nocapture`): the simulator at 10x its rate
/// for three simulated days on the engine with a controlled clock. Every trade since the genesis
/// (the generated day of history, then the live ones) is what an unbounded tape held; the tape
/// keeps the last 25 h (and at least 1000), so it stays near a day of trades, at most a third more.
#[test]
#[ignore]
fn the_tape_after_a_simulated_day_at_ten_times_the_rate() {
    let cfg = Config::builtin();
    let markets = Markets::from_config(&cfg).unwrap();
    // `[market] rate = 10`, as the server applies it (`server::build_market`).
    let params = cfg.market.pair_params(&markets).unwrap().into_iter().map(|mut p| {
        p.trade_every_ms = (p.trade_every_ms / 10).max(1);
        p.requote_ms = (p.requote_ms / 10).max(1);
        p
    });
    let mut ex = Exchange::new(markets, 11);
    let mut sim = Simulator::new(7, cfg.market.step_ms, params.collect());
    let mut pending = Pending::default();
    assert!(sim.genesis(&mut Driver::new(&mut ex, &mut pending, T0)).unwrap());
    let started = std::time::Instant::now();
    let size = std::mem::size_of::<calamari::engine::market_data::PublicTrade>();
    for hour in 1..=72u64 {
        for s in 1..=3600 {
            let t = T0 + ((hour - 1) * 3600 + s) * NS;
            sim.run_step(&mut Driver::new(&mut ex, &mut pending, t));
            ex.history_out.take();
        }
        if hour % 12 == 0 || hour == 25 || hour == 26 {
            let held: usize = ex.market_data.iter().map(|m| m.trades.len()).sum();
            let capacity: usize = ex.market_data.iter().map(|m| m.trades.capacity()).sum();
            let all: u64 = ex.market_data.iter().map(|m| m.dropped + m.trades.len() as u64).sum();
            eprintln!(
                "hour {hour}: every trade since the genesis {all} ({:.1} MB), the tape holds {held} ({:.1} MB, {:.1} MB allocated); {:.0} s",
                all as f64 * size as f64 / 1e6,
                held as f64 * size as f64 / 1e6,
                capacity as f64 * size as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
        }
    }
    for m in &ex.market_data {
        let last = m.trades.last().unwrap().time_ns;
        let day = m.trades.iter().filter(|t| t.time_ns + 25 * 3600 * NS >= last).count().max(1000);
        assert!(m.trades.len() * 3 <= day * 4 + 3, "{} held for {day}", m.trades.len());
    }
    ex.check_invariants().unwrap();
}

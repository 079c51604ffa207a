//! The market-data publisher against the engine, over random order streams, in-process with the
//! real sequencer (engine and storage threads) and the real publisher thread:
//! - a WebSocket book client (depth 1000, registered with its snapshot under the publisher's lock
//!   as a connection is) rebuilds the book from snapshot + updates; after every acknowledged
//!   command its book equals the engine's, and every message's `checksum` equals Kraken's CRC32
//!   recomputed here, independently, from the client's own book;
//! - every public REST read (Ticker, Depth, Trades with and without `since`, Spread, OHLC of every
//!   interval) answered from the publisher's view right after the acknowledgement, without
//!   waiting, equals the same read on the engine thread (read-your-writes, byte for byte).

mod engine_model;

use calamari::api::public::{from_engine, from_view, Query};
use calamari::engine::market_data::INTERVALS;
use calamari::engine::markets::Markets;
use calamari::engine::order::{AccountId, Side};
use calamari::engine::{Applied, Command};
use calamari::sequencer::{OnStorageFailure, Sequencer};
use calamari::storage::{CommandLog, ReplayFn, StorageError};
use calamari::ws::publisher::{Client, Publisher, Subs};
use engine_model::ops::{self, Op};
use proptest::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A book's bids and asks, best first, as (price ticks, base minimal units).
type Depth = (Vec<(u64, i128)>, Vec<(u64, i128)>);

/// A log that keeps nothing: this test is about what is published, not about storage.
struct NullLog;

impl CommandLog for NullLog {
    fn append(&mut self, _records: &[Vec<u8>]) -> Result<(), StorageError> {
        Ok(())
    }
    fn replay(&mut self, _f: &mut ReplayFn<'_>) -> Result<(), StorageError> {
        Ok(())
    }
}

/// The client's book of one pair: price text → qty text, as received.
#[derive(Default)]
struct ClientBook {
    bids: BTreeMap<u64, (String, String)>,
    asks: BTreeMap<u64, (String, String)>,
}

fn units(text: &str, decimals: usize) -> u64 {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    format!("{int}{frac:0<decimals$}").parse().unwrap()
}

impl ClientBook {
    /// Applies a book message; returns its checksum.
    fn apply(&mut self, data: &Value, depth: usize, pd: usize, ld: usize, snapshot: bool) -> u32 {
        if snapshot {
            self.bids.clear();
            self.asks.clear();
        }
        for (side, bids) in [("bids", true), ("asks", false)] {
            for level in data[side].as_array().unwrap() {
                let price = format!("{:.pd$}", level["price"].as_f64().unwrap());
                let qty = format!("{:.ld$}", level["qty"].as_f64().unwrap());
                let book = if bids { &mut self.bids } else { &mut self.asks };
                if units(&qty, ld) == 0 {
                    book.remove(&units(&price, pd));
                } else {
                    book.insert(units(&price, pd), (price, qty));
                }
            }
            // Kraken's client rule: keep only `depth` levels.
            let book = if bids { &mut self.bids } else { &mut self.asks };
            while book.len() > depth {
                let worst = if bids { *book.keys().next().unwrap() } else { *book.keys().next_back().unwrap() };
                book.remove(&worst);
            }
        }
        data["checksum"].as_u64().unwrap() as u32
    }

    /// Kraken's algorithm on this book: top 10 asks then top 10 bids, price and qty with the
    /// decimal point and leading zeros removed, CRC32.
    fn kraken_checksum(&self) -> u32 {
        let mut s = String::new();
        let part = |levels: Vec<&(String, String)>, s: &mut String| {
            for (p, q) in levels.into_iter().take(10) {
                for t in [p, q] {
                    s.push_str(t.replace('.', "").trim_start_matches('0'));
                }
            }
        };
        part(self.asks.values().collect(), &mut s);
        part(self.bids.values().rev().collect(), &mut s);
        crc32fast::hash(s.as_bytes())
    }

    /// Best first, as (price ticks, base minimal units) like the engine's `Book::depth`.
    fn levels(&self, base_decimals: usize) -> Depth {
        let side = |it: Vec<(&u64, &(String, String))>| it.into_iter().map(|(p, (_, q))| (*p, units(q, base_decimals) as i128)).collect();
        (side(self.bids.iter().rev().collect()), side(self.asks.iter().collect()))
    }
}

const DEPTH: usize = 1000;

fn run_stream(ops: Vec<Op>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let markets = Arc::new(engine_model::markets());
    let seq = Sequencer::start_with(engine_model::exchange(7), Box::new(NullLog), 64, OnStorageFailure::StopAcknowledging);
    rt.block_on(async {
        let mut users: Vec<AccountId> = Vec::new();
        for i in 0..4 {
            let r = seq.execute(None, Command::CreateAccount { name: format!("u{i}") }, |_, a| a.clone()).await.unwrap();
            let Applied::AccountCreated(id) = r else { panic!("{r:?}") };
            users.push(id);
            for (asset, amount) in [(0u16, 10_000_000_000_000i128), (1, 100_000_000_000), (2, 1_000_000_000_000)] {
                seq.execute(None, Command::Deposit { account: id, asset, amount }, |_, _| ()).await.unwrap();
            }
        }
        // A ladder outside the random band, so that both sides have more than 10 levels and the
        // checksum's top-10 cut matters.
        for pair in 0..2u16 {
            for i in 0..12u64 {
                let c = engine_model::CENTER[pair as usize];
                for (side, price) in [(Side::Buy, c - 20 - i), (Side::Sell, c + 20 + i)] {
                    let o = calamari::engine::order::NewOrder::limit(users[3], pair, side, price, 1_000_000 + i as i128 * 100);
                    seq.execute(None, Command::PlaceOrder(o), |_, _| ()).await.unwrap();
                }
            }
        }
        let publisher = Publisher::start(markets.clone(), &seq);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(seq.view.ready() && publisher.lock().pairs.iter().all(|p| p.time_ns > 0)) {
            assert!(Instant::now() < deadline, "the publisher never got its first capture");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // One client subscribed to both pairs' books, snapshot under the lock (as conn.rs does).
        let (tx, mut rx) = tokio::sync::mpsc::channel(1 << 16);
        {
            let mut g = publisher.lock();
            let mut subs = Subs::default();
            for p in 0..markets.pairs.len() {
                subs.book.insert(p as u16, DEPTH);
                let snap = calamari::ws::channels::book_snapshot(&markets.pairs[p], &publisher.syms[p], &g.pairs[p], DEPTH);
                tx.try_send(Arc::from(snap)).unwrap();
            }
            g.clients.insert(1, Client { tx, subs });
        }
        let mut books: Vec<ClientBook> = (0..markets.pairs.len()).map(|_| ClientBook::default()).collect();
        let by_symbol = |s: &str| publisher.syms.iter().position(|y| y.symbol == s).unwrap();
        for (step, op) in ops.iter().enumerate() {
            let u = users.clone();
            let op2 = op.clone();
            let command = seq.read(move |ex| ops::command(ex, &u, &op2)).await.unwrap();
            let _ = seq.execute(None, command, |_, _| ()).await;
            // Acknowledged: the REST view shows it now, exactly as the engine does.
            check_rest(&markets, &seq, step).await;
            // The feed: messages until the client's books equal the engine's, each checksum
            // Kraken's over the client's own book.
            let engine: Vec<Depth> =
                seq.read(|ex| ex.books.iter().map(|b| (b.depth(Side::Buy, DEPTH), b.depth(Side::Sell, DEPTH))).collect()).await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let same = (0..books.len()).all(|p| {
                    let pair = &markets.pairs[p];
                    books[p].levels(pair.base_decimals as usize) == engine[p]
                });
                if same && rx.is_empty() {
                    break;
                }
                let msg = match rx.try_recv() {
                    Ok(m) => m,
                    Err(_) => {
                        assert!(Instant::now() < deadline, "step {step} ({op:?}): the client's book never reached the engine's");
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    }
                };
                let v: Value = serde_json::from_str(&msg).unwrap();
                if v["channel"] != "book" {
                    continue;
                }
                for data in v["data"].as_array().unwrap() {
                    let p = by_symbol(data["symbol"].as_str().unwrap());
                    let pair = &markets.pairs[p];
                    let (pd, ld) = (pair.pair_decimals as usize, pair.lot_decimals as usize);
                    let sent = books[p].apply(data, DEPTH, pd, ld, v["type"] == "snapshot");
                    assert_eq!(sent, books[p].kraken_checksum(), "step {step}: checksum of {msg}");
                }
            }
        }
        assert!(publisher.lock().clients.contains_key(&1), "the client was never dropped");
    });
    seq.stop();
}

async fn check_rest(markets: &Arc<Markets>, seq: &Sequencer, step: usize) {
    let now = calamari::api::public::now_ns();
    let mut queries = vec![Query::Ticker((0..markets.pairs.len() as u16).collect())];
    for pair in 0..markets.pairs.len() as u16 {
        queries.push(Query::Depth { pair, count: 500 });
        queries.push(Query::Trades { pair, since: None, count: 1000 });
        queries.push(Query::Trades { pair, since: Some(now.saturating_sub(30 * 1_000_000_000)), count: 3 });
        queries.push(Query::Spread { pair, since: None });
        for interval in 0..INTERVALS.len() {
            queries.push(Query::Ohlc { pair, interval, since: 0 });
        }
    }
    for q in queries {
        let viewed = from_view(markets, &seq.view, &q, now).unwrap_or_else(|| panic!("step {step}: the view cannot answer {q:?}"));
        let q2 = q.clone();
        let engine = seq.read(move |ex| from_engine(ex, &q2, now)).await.unwrap();
        assert_eq!(viewed.to_string(), engine.to_string(), "step {step}: {q:?}");
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => ops::place(15, 3, 1).prop_map(Op::Place),
        3 => (ops::place(15, 3, 1), ops::extra()).prop_map(|(p, extra)| Op::Place(engine_model::ops::Place { extra, ..p })),
        4 => ops::cancel_ops(),
        3 => ops::order_endpoint_op(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn a_client_rebuilds_the_engines_book_and_rest_reads_the_committed_state(ops in prop::collection::vec(op(), 1..60)) {
        run_stream(ops);
    }
}

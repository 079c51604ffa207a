//! The market-data publisher: one thread takes the committed batches' captures (see
//! [`super::capture`]), keeps each pair's public state (book levels, recent trades, candles,
//! ticker figures) and fans the changes out to the subscribed WebSocket clients. Each client has a
//! bounded queue; a client whose queue is full is dropped (its connection closes), so a slow
//! client never stalls the publisher, the engine or anyone else. Subscribing takes the same lock
//! as publishing, so a client's snapshot and the updates after it never miss or repeat a change.

use super::capture::{MarketBatch, PairCapture, TickerStats, SNAPSHOT_TRADES};
use super::channels::{self, Sym};
use crate::engine::market_data::{Candle, PublicTrade, INTERVALS, MAX_CANDLES};
use crate::engine::markets::Markets;
use crate::engine::status::MarketStates;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Messages queued per client before it counts as too slow and is disconnected.
pub const CLIENT_QUEUE: usize = 4096;

/// One pair's public state as the feeds show it.
#[derive(Default)]
pub struct PairState {
    pub bids: BTreeMap<u64, i128>,
    pub asks: BTreeMap<u64, i128>,
    pub trades: VecDeque<PublicTrade>,
    pub candles: Vec<VecDeque<Candle>>,
    pub stats: TickerStats,
    pub time_ns: u64,
}

impl PairState {
    /// Best first: (price, volume) of the top `n` levels of a side.
    pub fn top(&self, bids: bool, n: usize) -> Vec<(u64, i128)> {
        if bids {
            self.bids.iter().rev().take(n).map(|(p, v)| (*p, *v)).collect()
        } else {
            self.asks.iter().take(n).map(|(p, v)| (*p, *v)).collect()
        }
    }
}

/// What a connection is subscribed to.
#[derive(Default)]
pub struct Subs {
    /// pair → depth
    pub book: HashMap<u16, usize>,
    pub trade: HashMap<u16, ()>,
    /// pair → bbo (true) or trades (false)
    pub ticker: HashMap<u16, bool>,
    /// (pair, interval minutes)
    pub ohlc: HashMap<(u16, u64), ()>,
    pub instrument: bool,
    /// level3 subscriptions (their details are in [`super::level3::State`]).
    pub level3: usize,
}

impl Subs {
    pub fn count(&self) -> usize {
        self.book.len() + self.trade.len() + self.ticker.len() + self.ohlc.len() + self.instrument as usize + self.level3
    }
}

pub struct Client {
    pub tx: mpsc::Sender<Arc<str>>,
    pub subs: Subs,
}

pub struct Inner {
    pub pairs: Vec<PairState>,
    /// The system's and each pair's market state (`status` and `instrument`).
    pub states: MarketStates,
    pub clients: HashMap<u64, Client>,
    /// The level3 channel's pictures and subscriptions.
    pub level3: super::level3::State,
}

/// The shared publisher; connections subscribe through it.
pub struct Publisher {
    pub markets: Arc<Markets>,
    pub syms: Vec<Sym>,
    pub inner: Mutex<Inner>,
    /// Messages delivered to client queues, and clients dropped as too slow (for /metrics and
    /// the benchmarks).
    pub delivered: std::sync::atomic::AtomicU64,
    pub dropped_slow: std::sync::atomic::AtomicU64,
}

impl Publisher {
    /// Starts the publisher thread and attaches it to the sequencer.
    pub fn start(markets: Arc<Markets>, sequencer: &crate::sequencer::Sequencer) -> Arc<Publisher> {
        let syms = markets.pairs.iter().map(|p| Sym::of(&markets, p)).collect();
        let n = markets.pairs.len();
        let publisher = Arc::new(Publisher {
            markets,
            syms,
            inner: Mutex::new(Inner {
                pairs: (0..n).map(|_| PairState::default()).collect(),
                states: MarketStates::new(n),
                clients: HashMap::new(),
                level3: super::level3::State::new(sequencer.level3.clone()),
            }),
            delivered: Default::default(),
            dropped_slow: Default::default(),
        });
        let (tx, rx) = crate::sequencer::wake::queue::<MarketBatch>();
        let p = publisher.clone();
        std::thread::Builder::new()
            .name("publisher".into())
            .spawn(move || {
                while let Ok(batch) = rx.recv() {
                    p.publish(batch);
                }
            })
            .expect("spawn publisher thread");
        sequencer.attach_market(tx);
        publisher
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a message for one client; false (and the client is dropped) when its queue is full.
    pub fn send(&self, inner: &mut Inner, id: u64, msg: Arc<str>) -> bool {
        let ok = inner.clients.get(&id).is_some_and(|c| c.tx.try_send(msg).is_ok());
        if ok {
            self.delivered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        } else if inner.clients.remove(&id).is_some() {
            self.dropped_slow.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            super::refusals::dropped(super::refusals::Dropped::SlowClient);
        }
        ok
    }

    fn publish(&self, batch: MarketBatch) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if let Some(states) = batch.states {
            let system_changed = states.system != inner.states.system;
            let pairs_changed = states.pairs != inner.states.pairs;
            inner.states = states;
            let status: Arc<str> = Arc::from(channels::status_message(&inner.states, None));
            let instrument: Arc<str> = Arc::from(channels::instrument_message(&self.markets, &self.syms, &inner.states, "update"));
            let ids: Vec<u64> = inner.clients.keys().copied().collect();
            for id in ids {
                if system_changed {
                    self.send(inner, id, status.clone());
                }
                if pairs_changed && inner.clients.get(&id).is_some_and(|c| c.subs.instrument) {
                    self.send(inner, id, instrument.clone());
                }
            }
        }
        for cap in batch.pairs {
            let p = cap.pair as usize;
            if p >= inner.pairs.len() {
                continue;
            }
            let mut old = std::mem::take(&mut inner.pairs[p]);
            // The tape and the candles move on from the old state (the fan-out reads only its
            // book and time): copying them was ~10,000 candles a pair per capture.
            let mut st = PairState {
                bids: cap.bids.iter().map(|&(p, v, _)| (p, v)).collect(),
                asks: cap.asks.iter().map(|&(p, v, _)| (p, v)).collect(),
                trades: if cap.full { VecDeque::new() } else { std::mem::take(&mut old.trades) },
                candles: if cap.full || old.candles.is_empty() {
                    vec![VecDeque::new(); INTERVALS.len()]
                } else {
                    std::mem::take(&mut old.candles)
                },
                stats: old.stats.clone(),
                time_ns: cap.time_ns,
            };
            for t in &cap.trades {
                st.trades.push_back(t.clone());
                if st.trades.len() > SNAPSHOT_TRADES {
                    st.trades.pop_front();
                }
            }
            for (i, list) in cap.candles.iter().enumerate() {
                for c in list {
                    let q = &mut st.candles[i];
                    match q.back_mut() {
                        Some(b) if b.time == c.time => *b = c.clone(),
                        _ => {
                            q.push_back(c.clone());
                            if q.len() > MAX_CANDLES {
                                q.pop_front();
                            }
                        }
                    }
                }
            }
            st.stats.last = cap.stats.last;
            st.stats.open = cap.stats.open;
            if cap.full || !cap.trades.is_empty() {
                st.stats.day = cap.stats.day.clone();
            }
            // A pair copied whole mid-stream (a history import, the simulator's genesis, a reset)
            // still moves its subscribers' books; its tape is not news (no trade/ohlc update).
            if !cap.full || old.time_ns > 0 {
                self.fan_out(inner, p, &old, &st, &cap);
            }
            inner.pairs[p] = st;
        }
        super::level3::publish(self, inner, batch.level3);
    }

    fn fan_out(&self, inner: &mut Inner, p: usize, old: &PairState, new: &PairState, cap: &PairCapture) {
        if inner.clients.is_empty() {
            // Nobody to tell: no message is rendered (each batch that traded rendered a ticker
            // and a trade message for no one).
            return;
        }
        let pair = &self.markets.pairs[p];
        let sym = &self.syms[p];
        let key = p as u16;
        let mut book_msgs: HashMap<usize, Option<Arc<str>>> = HashMap::new();
        let bbo_changed = old.top(true, 1) != new.top(true, 1) || old.top(false, 1) != new.top(false, 1);
        let trades_msg =
            (!cap.full && !cap.trades.is_empty()).then(|| Arc::<str>::from(channels::trade_message(pair, sym, "update", &cap.trades)));
        let ticker_msg = Arc::<str>::from(channels::ticker_message(pair, sym, "update", new));
        let mut ohlc_msgs: HashMap<u64, Arc<str>> = HashMap::new();
        let ids: Vec<u64> = inner.clients.keys().copied().collect();
        for id in ids {
            let mut out: Vec<Arc<str>> = Vec::new();
            {
                let subs = &inner.clients[&id].subs;
                if let Some(&depth) = subs.book.get(&key) {
                    let msg = book_msgs.entry(depth).or_insert_with(|| channels::book_update(pair, sym, old, new, depth).map(Arc::from));
                    if let Some(m) = msg {
                        out.push(m.clone());
                    }
                }
                if let Some(&bbo) = subs.ticker.get(&key) {
                    if (bbo && bbo_changed) || (!bbo && trades_msg.is_some()) {
                        out.push(ticker_msg.clone());
                    }
                }
                if subs.trade.contains_key(&key) {
                    if let Some(m) = &trades_msg {
                        out.push(m.clone());
                    }
                }
                if trades_msg.is_some() {
                    for (i, minutes) in INTERVALS.iter().enumerate() {
                        if subs.ohlc.contains_key(&(key, *minutes)) {
                            // Every candle the batch touched (a batch may close one period and open the next).
                            let m = ohlc_msgs.entry(*minutes).or_insert_with(|| {
                                Arc::from(channels::ohlc_message(pair, sym, "update", &cap.candles[i], *minutes, new.time_ns))
                            });
                            out.push(m.clone());
                        }
                    }
                }
            }
            for m in out {
                if !self.send(inner, id, m) {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_whose_queue_is_full_is_dropped_and_others_still_served() {
        let markets = Arc::new(Markets::from_config(&crate::config::Config::builtin()).unwrap());
        let syms = markets.pairs.iter().map(|p| Sym::of(&markets, p)).collect();
        let publisher = Publisher {
            markets,
            syms,
            inner: Mutex::new(Inner {
                pairs: Vec::new(),
                states: MarketStates::new(0),
                clients: HashMap::new(),
                level3: super::super::level3::State::new(Default::default()),
            }),
            delivered: Default::default(),
            dropped_slow: Default::default(),
        };
        let (slow_tx, mut slow_rx) = mpsc::channel(1);
        let (fast_tx, mut fast_rx) = mpsc::channel(8);
        let mut g = publisher.lock();
        g.clients.insert(1, Client { tx: slow_tx, subs: Subs::default() });
        g.clients.insert(2, Client { tx: fast_tx, subs: Subs::default() });
        assert!(publisher.send(&mut g, 1, Arc::from("a")));
        assert!(!publisher.send(&mut g, 1, Arc::from("b")), "the second message finds the queue full");
        assert!(!g.clients.contains_key(&1));
        assert!(publisher.send(&mut g, 2, Arc::from("c")));
        drop(g);
        assert_eq!(publisher.dropped_slow.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(slow_rx.try_recv().unwrap().as_ref(), "a");
        assert!(matches!(slow_rx.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)), "its connection sees the end");
        assert_eq!(fast_rx.try_recv().unwrap().as_ref(), "c");
    }
}

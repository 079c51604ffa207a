//! One WebSocket v2 connection: reads requests, answers acks, and writes what the publisher
//! queued for it; a heartbeat each second without other traffic once subscribed. The outbound
//! queue is bounded (the publisher drops a client that falls behind, which closes the socket).

use super::channels::{self, rfc3339};
use super::limits::{self, Session, Verdict};
use super::publisher::{Client, Publisher, Subs};
use crate::engine::market_data::INTERVALS;
use crate::error::ws as err;
use axum::extract::ws::{Message, WebSocket};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Subscriptions one connection may hold.
pub const MAX_SUBSCRIPTIONS: usize = 200;
const DEPTHS: [u64; 5] = [10, 25, 100, 500, 1000];
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(super) fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

pub async fn run(
    publisher: Arc<Publisher>,
    app: crate::api::Shared,
    private: Arc<super::private::Private>,
    socket: WebSocket,
    mut session: Session,
) {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut trading = super::trading::ConnTrading::new(app.clone(), publisher.clone(), id);
    let (tx, mut rx) = mpsc::channel::<Arc<str>>(session.client_queue());
    let wt = session.write_timeout();
    {
        // Registered and greeted under one lock: a state change is either in this status or sent after it.
        let mut g = publisher.lock();
        let _ = tx.try_send(Arc::from(channels::status_message(&g.states, Some(id))));
        g.clients.insert(id, Client { tx: tx.clone(), subs: Subs::default() });
    }
    let (mut sink, mut stream) = socket.split();
    drop(tx);
    let mut beat = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut sent_since_beat = false;
    loop {
        tokio::select! {
            incoming = stream.next() => {
                let msg = match incoming {
                    Some(Ok(msg)) => msg,
                    Some(Err(e)) => {
                        super::refusals::note_read_error(&e);
                        break;
                    }
                    None => break,
                };
                let text = match msg {
                    Message::Text(t) => t.to_string(),
                    Message::Close(_) => break,
                    _ => continue,
                };
                let time_in = now_ns();
                match session.gate.check(time_in / 1000) {
                    Verdict::Pass => {}
                    Verdict::Refuse => {
                        let refused = limits::refused_ack(&text, time_in);
                        if !publisher.send(&mut publisher.lock(), id, Arc::from(refused)) {
                            break;
                        }
                        continue;
                    }
                    Verdict::Close => {
                        limits::flush_and_close(&mut sink, &mut rx, 1008, "message rate exceeded", wt).await;
                        limits::linger(&mut stream).await;
                        break;
                    }
                }
                for reply in handle(&publisher, &mut trading, (&app, &private), id, &text, time_in) {
                    let mut g = publisher.lock();
                    if !publisher.send(&mut g, id, Arc::from(reply)) {
                        break;
                    }
                }
            }
            out = rx.recv() => {
                let Some(m) = out else {
                    // Dropped by the publisher: too slow (counted there).
                    limits::write(&mut sink, limits::close(1008, "slow consumer"), wt).await;
                    break;
                };
                sent_since_beat = true;
                if !session.write(&mut sink, Message::Text(m.as_ref().into())).await {
                    break;
                }
            }
            _ = beat.tick() => {
                let public = publisher.lock().clients.get(&id).is_some_and(|c| c.subs.count() > 0);
                // (the publisher's lock is released before the private one is taken: lock order)
                let subscribed = public || private.subscribed(id);
                if subscribed && !sent_since_beat && !session.write(&mut sink, Message::Text("{\"channel\":\"heartbeat\"}".into())).await {
                    break;
                }
                sent_since_beat = false;
            }
        }
    }
    super::level3::release(&publisher, id);
    let dropped_slow = publisher.lock().clients.remove(&id).is_none();
    session.ended(dropped_slow);
    app.tokens.release(id);
    private.release(id);
}

pub(super) fn ack(method: &str, req_id: &Option<Value>, time_in: u64, outcome: Result<Value, String>) -> String {
    let mut m = Map::new();
    m.insert("method".into(), json!(method));
    match outcome {
        Ok(result) => {
            if !result.is_null() {
                m.insert("result".into(), result);
            }
            m.insert("success".into(), json!(true));
        }
        Err(e) => {
            m.insert("error".into(), json!(e));
            m.insert("success".into(), json!(false));
        }
    }
    m.insert("time_in".into(), json!(rfc3339(time_in)));
    m.insert("time_out".into(), json!(rfc3339(now_ns())));
    if let Some(r) = req_id {
        m.insert("req_id".into(), r.clone());
    }
    Value::Object(m).to_string()
}

/// The replies to one request (acks; snapshots are queued by the publisher under its lock).
fn handle(
    publisher: &Publisher,
    trading: &mut super::trading::ConnTrading,
    ctx: (&crate::api::Shared, &super::private::Private),
    id: u64,
    text: &str,
    time_in: u64,
) -> Vec<String> {
    let Ok(Value::Object(req)) = serde_json::from_str::<Value>(text) else {
        return vec![ack("", &None, time_in, Err(err::MALFORMED.into()))];
    };
    let req_id = req.get("req_id").filter(|v| v.is_u64() || v.is_i64()).cloned();
    let Some(method) = req.get("method").and_then(Value::as_str) else {
        return vec![ack("", &req_id, time_in, Err(err::MALFORMED.into()))];
    };
    let params = req.get("params").cloned().unwrap_or(json!({}));
    match method {
        "ping" => {
            let mut m = Map::new();
            m.insert("method".into(), json!("pong"));
            if let Some(r) = &req_id {
                m.insert("req_id".into(), r.clone());
            }
            m.insert("time_in".into(), json!(rfc3339(time_in)));
            m.insert("time_out".into(), json!(rfc3339(now_ns())));
            vec![Value::Object(m).to_string()]
        }
        "subscribe" | "unsubscribe" => {
            let channel = params.get("channel").and_then(Value::as_str).unwrap_or("");
            if channel == "level3" {
                return super::level3::subscribe(publisher, ctx.0, id, method == "subscribe", &params, &req_id, time_in);
            }
            if matches!(channel, "executions" | "balances") {
                return ctx.1.subscribe(ctx.0, id, method == "subscribe", channel, &params, &req_id, time_in);
            }
            subscribe(publisher, id, method == "subscribe", &params, &req_id, time_in)
        }
        m if super::trading::rest_method(m).is_some() => match trading.submit(m, &req_id, text, time_in) {
            Ok(()) => vec![],
            Err(e) => vec![ack(m, &req_id, time_in, Err(e))],
        },
        _ => vec![ack(method, &req_id, time_in, Err(err::METHOD_NOT_FOUND.into()))],
    }
}

fn subscribe(publisher: &Publisher, id: u64, on: bool, params: &Value, req_id: &Option<Value>, time_in: u64) -> Vec<String> {
    let method = if on { "subscribe" } else { "unsubscribe" };
    let fail = |e: &str| vec![ack(method, req_id, time_in, Err(e.to_string()))];
    let Some(channel) = params.get("channel").and_then(Value::as_str) else { return fail(err::MALFORMED) };
    let snapshot_default = channel != "trade";
    let snapshot = match params.get("snapshot") {
        None => snapshot_default,
        Some(v) => match v.as_bool() {
            Some(b) => b,
            None => return fail(err::MALFORMED),
        },
    };
    if channel == "instrument" {
        let mut g = publisher.lock();
        let Some(c) = g.clients.get_mut(&id) else { return vec![] };
        if on == c.subs.instrument {
            return fail(if on { err::ALREADY_SUBSCRIBED } else { err::NOT_FOUND });
        }
        c.subs.instrument = on;
        let mut result = json!({"channel": "instrument"});
        if on {
            result["snapshot"] = json!(snapshot);
        }
        let a = ack(method, req_id, time_in, Ok(result));
        if publisher.send(&mut g, id, Arc::from(a)) && on && snapshot {
            let snap = channels::instrument_message(&publisher.markets, &publisher.syms, &g.states, "snapshot");
            publisher.send(&mut g, id, Arc::from(snap));
        }
        return vec![];
    }
    if !matches!(channel, "book" | "trade" | "ticker" | "ohlc") {
        return fail(err::CHANNEL_INVALID);
    }
    let Some(symbols) = params.get("symbol").and_then(Value::as_array).filter(|a| !a.is_empty()) else { return fail(err::MALFORMED) };
    let depth = match params.get("depth") {
        None => 10,
        Some(v) => match v.as_u64().filter(|d| DEPTHS.contains(d)) {
            Some(d) => d,
            None => return fail(err::DEPTH),
        },
    };
    let interval = match params.get("interval") {
        None => 1,
        Some(v) => match v.as_u64().filter(|i| INTERVALS.contains(i)) {
            Some(i) => i,
            None => return fail(err::INTERVAL),
        },
    };
    let bbo = match params.get("event_trigger").map(|v| v.as_str()) {
        None | Some(Some("trades")) => false,
        Some(Some("bbo")) => true,
        _ => return fail(err::MALFORMED),
    };
    let mut replies = Vec::new();
    let mut g = publisher.lock();
    for s in symbols {
        let name = s.as_str().unwrap_or("");
        let Some(p) = channels::resolve(&publisher.markets, &publisher.syms, name) else {
            let mut a: Value =
                serde_json::from_str(&ack(method, req_id, time_in, Err(format!("{} {name}", err::PAIR_NOT_SUPPORTED)))).unwrap_or_default();
            a["symbol"] = json!(name);
            replies.push(a.to_string());
            continue;
        };
        let key = p as u16;
        let sym = &publisher.syms[p];
        let mut result = json!({"channel": channel, "symbol": sym.symbol});
        let Some(c) = g.clients.get_mut(&id) else { return vec![] };
        if on && c.subs.count() >= MAX_SUBSCRIPTIONS {
            replies.push(ack(method, req_id, time_in, Err(err::TOO_MANY.into())));
            continue;
        }
        let had = match channel {
            "book" => {
                if on {
                    c.subs.book.insert(key, depth as usize).is_some()
                } else {
                    c.subs.book.remove(&key).is_some()
                }
            }
            "trade" => {
                if on {
                    c.subs.trade.insert(key, ()).is_some()
                } else {
                    c.subs.trade.remove(&key).is_some()
                }
            }
            "ticker" => {
                if on {
                    c.subs.ticker.insert(key, bbo).is_some()
                } else {
                    c.subs.ticker.remove(&key).is_some()
                }
            }
            _ => {
                if on {
                    c.subs.ohlc.insert((key, interval), ()).is_some()
                } else {
                    c.subs.ohlc.remove(&(key, interval)).is_some()
                }
            }
        };
        if on == had {
            replies.push(ack(method, req_id, time_in, Err(if on { err::ALREADY_SUBSCRIBED.into() } else { err::NOT_FOUND.into() })));
            continue;
        }
        match channel {
            "book" => result["depth"] = json!(depth),
            "ticker" => result["event_trigger"] = json!(if bbo { "bbo" } else { "trades" }),
            "ohlc" => result["interval"] = json!(interval),
            _ => {}
        }
        if on {
            result["snapshot"] = json!(snapshot);
        }
        let a = ack(method, req_id, time_in, Ok(result));
        if !publisher.send(&mut g, id, Arc::from(a)) {
            return vec![];
        }
        if on && snapshot {
            let pair = &publisher.markets.pairs[p];
            let st = &g.pairs[p];
            let snap = match channel {
                "book" => channels::book_snapshot(pair, sym, st, depth as usize),
                "trade" => channels::trade_message(pair, sym, "snapshot", &st.trades.iter().cloned().collect::<Vec<_>>()),
                "ticker" => channels::ticker_message(pair, sym, "snapshot", st),
                _ => {
                    let i = INTERVALS.iter().position(|x| *x == interval).unwrap_or(0);
                    let candles: Vec<_> = st.candles.get(i).map(|q| q.iter().cloned().collect()).unwrap_or_default();
                    channels::ohlc_message(pair, sym, "snapshot", &candles, interval, st.time_ns)
                }
            };
            if !publisher.send(&mut g, id, Arc::from(snap)) {
                return vec![];
            }
        }
    }
    replies
}

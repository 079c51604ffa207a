//! Kraken's WebSocket v2 trading methods (add_order, amend_order, edit_order, cancel_order,
//! cancel_all, cancel_all_orders_after, batch_add, batch_cancel) on one code path with REST: a
//! request's `params` become the REST method's parameters ([`params`]), the token's key becomes
//! the REST [`Caller`], the REST permission table decides, and the very same private handler
//! (`api::private::dispatch`) runs; its answer becomes the v2 ack ([`answer`]). So validation,
//! error strings, the matching engine's trading counters and open-order cap, holds and durability
//! (an ack only after the batch is committed) are REST's. The REST call counter is not charged
//! (Kraken: WebSocket trading is not subject to it).
//!
//! A connection's trading requests run one after another, in the order they arrived, on one task
//! per connection, and their acks are queued in that order; pings and subscriptions are answered
//! at once beside them. At most [`MAX_PENDING`] requests wait per connection; more are refused
//! (`EGeneral:Too many requests`). Requests received before the socket closed still run.

pub mod answer;
pub mod json;
pub mod params;

use crate::api::{Caller, Shared};
use crate::error::ws as err;
use crate::error::KrakenError;
use crate::ws::publisher::Publisher;
use params::{CancelIds, Translated, J};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Each v2 trading method and the REST method it runs.
#[rustfmt::skip]
pub const METHODS: &[(&str, &str)] = &[
    ("add_order", "AddOrder"),
    ("amend_order", "AmendOrder"),
    ("edit_order", "EditOrder"),
    ("cancel_order", "CancelOrder"),
    ("cancel_all", "CancelAll"),
    ("cancel_all_orders_after", "CancelAllOrdersAfter"),
    ("batch_add", "AddOrderBatch"),
    ("batch_cancel", "CancelOrderBatch"),
];

/// Trading requests one connection may have waiting.
pub const MAX_PENDING: usize = 64;

pub fn rest_method(ws: &str) -> Option<&'static str> {
    METHODS.iter().find(|(m, _)| *m == ws).map(|(_, r)| *r)
}

/// One request waiting for its turn.
struct Job {
    method: &'static str,
    req_id: Option<Value>,
    text: String,
    time_in: u64,
}

/// A connection's trading: where its acks go, and its queue (made at its first trading request).
pub struct ConnTrading {
    ctx: Ctx,
    tx: Option<mpsc::Sender<Job>>,
}

#[derive(Clone)]
struct Ctx {
    api: Shared,
    publisher: Arc<Publisher>,
    conn_id: u64,
}

impl ConnTrading {
    pub fn new(api: Shared, publisher: Arc<Publisher>, conn_id: u64) -> ConnTrading {
        ConnTrading { ctx: Ctx { api, publisher, conn_id }, tx: None }
    }

    /// Queues one trading request; `Err` is the error to answer at once (not a trading method,
    /// or too many requests waiting).
    pub fn submit(&mut self, method: &str, req_id: &Option<Value>, text: &str, time_in: u64) -> Result<(), String> {
        let Some(&(method, _)) = METHODS.iter().find(|(m, _)| *m == method) else { return Err(err::METHOD_NOT_FOUND.into()) };
        let ctx = &self.ctx;
        let tx = self.tx.get_or_insert_with(|| start(ctx.clone()));
        let job = Job { method, req_id: req_id.clone(), text: text.to_string(), time_in };
        tx.try_send(job).map_err(|_| KrakenError::TooManyRequests.as_kraken())
    }
}

fn start(ctx: Ctx) -> mpsc::Sender<Job> {
    let (tx, mut rx) = mpsc::channel::<Job>(MAX_PENDING);
    tokio::spawn(async move {
        while let Some(job) = rx.recv().await {
            let outcomes = run(&ctx, job.method, &job.text).await;
            let mut g = ctx.publisher.lock();
            for o in outcomes {
                let a = super::conn::ack(job.method, &job.req_id, job.time_in, o);
                if !ctx.publisher.send(&mut g, ctx.conn_id, Arc::from(a)) {
                    break;
                }
            }
        }
        // The connection is gone and its last requests are done: a token those bound after the
        // connection released its tokens is released too.
        ctx.api.tokens.release(ctx.conn_id);
    });
    tx
}

/// The token's caller, or Kraken's session error.
fn caller(ctx: &Ctx, p: &J) -> Result<Caller, String> {
    let token = match p.get("token") {
        None | Some(J::Null) => return Err(err::TOKEN_MISSING.into()),
        Some(J::Str(t)) => t,
        Some(_) => return Err(err::INVALID_SESSION.into()),
    };
    let now_ns = ctx.api.clock.now_us().saturating_mul(1000);
    ctx.api.tokens.check(token, ctx.conn_id, now_ns).map(|g| g.caller()).map_err(str::to_string)
}

/// The acks' outcomes of one request (one per canceled order for `cancel_order`).
async fn run(ctx: &Ctx, method: &'static str, text: &str) -> Vec<Result<Value, String>> {
    let Some(req) = J::parse(text) else { return vec![Err(err::MALFORMED.into())] };
    let p = match req.get("params") {
        Some(p @ J::Obj(_)) => p.clone(),
        None => J::Obj(Default::default()),
        _ => return vec![Err(err::MALFORMED.into())],
    };
    let c = match caller(ctx, &p) {
        Ok(c) => c,
        Err(e) => return vec![Err(e)],
    };
    let Some(rest) = rest_method(method) else { return vec![Err(err::METHOD_NOT_FOUND.into())] };
    let needs = crate::api::private::permission_for(rest).unwrap_or(&[]);
    if !needs.iter().any(|n| c.key.permissions.contains(*n)) {
        return vec![Err(err::INVALID_PERMISSIONS.into())];
    }
    let st = &ctx.api;
    let pair = |s: &str| match super::channels::resolve(&ctx.publisher.markets, &ctx.publisher.syms, s) {
        Some(i) => ctx.publisher.markets.pairs[i].altname.clone(),
        None => s.to_string(),
    };
    let one = |r: Result<Value, String>| vec![r];
    match method {
        "add_order" => match params::add_order(&p, &pair) {
            Ok(t) => one(call(st, &c, rest, &t).await.map(|r| answer::add_order(&p, &r))),
            Err(e) => one(Err(e)),
        },
        "amend_order" => match params::amend_order(&p) {
            Ok(t) => one(call(st, &c, rest, &t).await.map(|r| answer::amend_order(&p, &r))),
            Err(e) => one(Err(e)),
        },
        "edit_order" => match params::edit_order(&p, &pair) {
            Ok(t) => one(call(st, &c, rest, &t).await.map(|r| answer::edit_order(&r))),
            Err(e) => one(Err(e)),
        },
        "cancel_all" => one(call(st, &c, rest, &Translated::default()).await),
        "cancel_all_orders_after" => match params::dead_man(&p) {
            Ok(t) => one(call(st, &c, rest, &t).await),
            Err(e) => one(Err(e)),
        },
        "batch_add" => match params::batch_add(&p, &pair) {
            Ok((t, orders)) => one(call(st, &c, rest, &t).await.map(|r| answer::batch_add(&orders, &r))),
            Err(e) => one(Err(e)),
        },
        "batch_cancel" => match params::batch_cancel(&p) {
            Ok(t) => one(call(st, &c, rest, &t).await),
            Err(e) => one(Err(e)),
        },
        "cancel_order" => match params::cancel_ids(&p) {
            Ok(ids) => cancel_order(st, &c, ids).await,
            Err(e) => one(Err(e)),
        },
        _ => one(Err(err::METHOD_NOT_FOUND.into())),
    }
}

/// The REST handler itself, its errors in v2's field names.
async fn call(st: &Shared, c: &Caller, rest: &str, t: &Translated) -> Result<Value, String> {
    let p = t.params().map_err(|e| t.error(&e))?;
    crate::api::private::dispatch(st, rest, c, &p).await.map_err(|e| t.error(&e))
}

/// `cancel_order`: one REST CancelOrder per order, one ack each. Client ids and user references
/// are first resolved to the open orders they name, so that each ack names its order.
async fn cancel_order(st: &Shared, c: &Caller, ids: CancelIds) -> Vec<Result<Value, String>> {
    let account = c.account();
    // (REST txid to cancel, the ack's result) per order, or the error of an identifier.
    let targets: Vec<Result<(String, Value), String>> = match ids {
        CancelIds::Orders(list) => list.into_iter().map(|id| Ok((id.clone(), json!({ "order_id": id })))).collect(),
        CancelIds::ClOrdIds(list) => {
            let found = st
                .sequencer
                .read(move |ex| {
                    let open = ex.user_account(account).map(|a| a.open_orders.clone()).unwrap_or_default();
                    list.into_iter()
                        .map(|cl| {
                            let seq = open.iter().find(|s| ex.orders[**s as usize].cl_ord_id() == Some(cl.as_str()));
                            seq.map(|s| (ex.order_txid(*s), json!({ "order_id": ex.order_txid(*s), "cl_ord_id": cl })))
                                .ok_or_else(|| KrakenError::UnknownOrder.as_kraken())
                        })
                        .collect::<Vec<_>>()
                })
                .await;
            match found {
                Ok(v) => v,
                Err(e) => return vec![Err(e.as_kraken())],
            }
        }
        CancelIds::UserRefs(refs) => {
            let found = st
                .sequencer
                .read(move |ex| {
                    let open = ex.user_account(account).map(|a| a.open_orders.clone()).unwrap_or_default();
                    let mut out = Vec::new();
                    for r in refs {
                        let named: Vec<_> = open.iter().filter(|s| ex.orders[**s as usize].req.userref == Some(r)).collect();
                        if named.is_empty() {
                            out.push(Err(KrakenError::UnknownOrder.as_kraken()));
                        }
                        for s in named {
                            out.push(Ok((ex.order_txid(*s), json!({ "order_id": ex.order_txid(*s), "order_userref": r }))));
                        }
                    }
                    out
                })
                .await;
            match found {
                Ok(v) => v,
                Err(e) => return vec![Err(e.as_kraken())],
            }
        }
    };
    let mut acks = Vec::with_capacity(targets.len());
    for t in targets {
        let (txid, result) = match t {
            Ok(x) => x,
            Err(e) => {
                acks.push(Err(e));
                continue;
            }
        };
        let mut tr = Translated::default();
        tr.fields.push(("txid".into(), txid));
        tr.names.insert("txid".into(), "order_id".into());
        acks.push(match call(st, c, "CancelOrder", &tr).await {
            Ok(r) if r["count"].as_u64().unwrap_or(0) > 0 => Ok(result),
            Ok(_) => Err(KrakenError::UnknownOrder.as_kraken()),
            Err(e) => Err(e),
        });
    }
    acks
}

//! Random operations (proptest strategies), interpreted against the current state as commands.

use super::*;
use calamari::engine::amend::{AmendRequest, AmendTarget};
use calamari::engine::order::{Offset, OffsetSign};

#[derive(Clone, Debug)]
pub struct Place {
    pub acct: u8,
    pub pair: u8,
    pub buy: bool,
    pub market: bool,
    /// Ticks from the pair's centre price.
    pub price_off: i64,
    pub lots: i64,
    pub post_only: bool,
    pub ioc: bool,
    pub fee_in_base: bool,
    pub stp: u8,
    pub userref: Option<i32>,
    pub cl: Option<u8>,
    /// AddOrder's options (iceberg, GTD, starttm, viqc); none in `place()`.
    pub extra: Extra,
}

/// The flags part of an order: an iceberg showing 1/`display_div` of it, an expiry and a start
/// in seconds from the engine's time, a market buy sized in quote (viqc).
#[derive(Clone, Debug, Default)]
pub struct Extra {
    pub display_div: Option<u8>,
    pub expire_s: Option<u64>,
    pub start_s: Option<u64>,
    pub viqc: bool,
}

pub fn extra() -> impl Strategy<Value = Extra> {
    (
        prop::option::weighted(0.4, 1u8..17),
        prop::option::weighted(0.4, 1u64..600),
        prop::option::weighted(0.3, 1u64..300),
        prop::bool::weighted(0.5),
    )
        .prop_map(|(display_div, expire_s, start_s, viqc)| Extra { display_div, expire_s, start_s, viqc })
}

#[derive(Clone, Debug)]
pub enum Op {
    Place(Place),
    /// Cancels `orders[pick % len]`, as its owner or (if `as_other`) as `acct`.
    CancelOrder {
        acct: u8,
        pick: usize,
        as_other: bool,
    },
    CancelUserRef {
        acct: u8,
        userref: i32,
    },
    CancelClOrdId {
        acct: u8,
        cl: u8,
    },
    CancelAll {
        acct: u8,
    },
    /// CancelAllOrdersAfter (0 disables; above a day is refused).
    DeadMan {
        acct: u8,
        timeout_s: u64,
    },
    Deposit {
        acct: u8,
        asset: u8,
        amount: i128,
    },
    /// Funding: on-chain deposits, addresses, address books, withdrawals, cancels, failures,
    /// adjustments (each may be refused; a refusal must change nothing).
    ChainDeposit {
        acct: u8,
        asset: u8,
        index: u16,
        amount: i128,
    },
    NewAddress {
        acct: u8,
        asset: u8,
    },
    SetKey {
        acct: u8,
        key: u8,
        asset: u8,
        verified: bool,
    },
    Withdraw {
        acct: u8,
        key: u8,
        asset: u8,
        amount: i128,
        max_fee: Option<i128>,
        tight_limit: bool,
    },
    CancelWithdraw {
        acct: u8,
        pick: usize,
        as_other: bool,
    },
    FailFunding {
        pick: usize,
    },
    Adjust {
        acct: u8,
        asset: u8,
        amount: i128,
    },
    /// Triggered orders, conditional closes and index moves (see `triggers`).
    Trigger(super::triggers::TriggerOp),
    /// AmendOrder of `orders[pick]` (mostly an open one), as its owner or as `acct`, by txid or
    /// cl_ord_id; a new quantity (at times below what has filled) and/or limit price.
    Amend {
        acct: u8,
        pick: usize,
        as_other: bool,
        by_cl: bool,
        lots: Option<i64>,
        price_off: Option<i64>,
        post_only: bool,
    },
    /// AddOrderBatch: the orders of `acct` on `pair`, in order.
    Batch {
        acct: u8,
        pair: u8,
        places: Vec<Place>,
    },
    /// EditOrder of `orders[pick]` (mostly an open one) to a new volume and price.
    Edit {
        pick: usize,
        lots: i64,
        price_off: i64,
    },
    /// CancelOrderBatch of the picked orders, a userref and a cl_ord_id.
    CancelBatch {
        acct: u8,
        picks: Vec<usize>,
        userref: Option<i32>,
        cl: Option<u8>,
    },
    /// The operator sets a pair's (`pair` Some) or the whole market's state (`status` indexes
    /// `MarketStatus::ALL`, online half the time so that trading resumes).
    MarketStatus {
        pair: Option<u8>,
        status: u8,
    },
    /// A malformed command of kind `what`, which must be rejected.
    Invalid {
        acct: u8,
        what: u8,
    },
}

pub fn lots() -> impl Strategy<Value = i64> {
    // Dust (costs round), mid-size, and whole coins (fee tiers move).
    prop_oneof![1i64..1_000, 1_000i64..10_000_000, 10_000_000i64..200_000_000]
}

pub fn place(band: i64, market_weight: u32, post_only_weight: u32) -> impl Strategy<Value = Place> {
    (
        (0u8..4, 0u8..2, any::<bool>(), prop::bool::weighted(market_weight as f64 / 10.0), -band..=band, lots()),
        (
            prop::bool::weighted(post_only_weight as f64 / 10.0),
            prop::bool::weighted(0.15),
            any::<bool>(),
            0u8..3,
            prop::option::weighted(0.3, 0i32..3),
            prop::option::weighted(0.2, 0u8..3),
        ),
    )
        .prop_map(|((acct, pair, buy, market, price_off, lots), (post_only, ioc, fee_in_base, stp, userref, cl))| Place {
            acct,
            pair,
            buy,
            market,
            price_off,
            lots,
            post_only,
            ioc,
            fee_in_base,
            stp,
            userref,
            cl,
            extra: Extra::default(),
        })
}

pub fn cancel_ops() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..4, any::<usize>(), prop::bool::weighted(0.2)).prop_map(|(acct, pick, as_other)| Op::CancelOrder { acct, pick, as_other }),
        1 => (0u8..4, 0i32..3).prop_map(|(acct, userref)| Op::CancelUserRef { acct, userref }),
        1 => (0u8..4, 0u8..3).prop_map(|(acct, cl)| Op::CancelClOrdId { acct, cl }),
        1 => (0u8..4).prop_map(|acct| Op::CancelAll { acct }),
    ]
}

pub fn mixed_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        14 => place(15, 2, 2).prop_map(Op::Place),
        6 => (place(15, 3, 1), extra()).prop_map(|(p, extra)| Op::Place(Place { extra, ..p })),
        1 => (0u8..4, prop_oneof![8 => 0u64..300, 1 => Just(86_401u64)]).prop_map(|(acct, timeout_s)| Op::DeadMan { acct, timeout_s }),
        5 => cancel_ops(),
        1 => (0u8..4, 0u8..3, prop_oneof![1i128..1_000, 1_000_000i128..100_000_000_000]).prop_map(|(acct, asset, amount)| Op::Deposit { acct, asset, amount }),
        1 => (0u8..4, 0u8..24).prop_map(|(acct, what)| Op::Invalid { acct, what }),
        8 => funding_op(),
        6 => super::triggers::trigger_op().prop_map(Op::Trigger),
        6 => order_endpoint_op(),
        1 => (prop::option::weighted(0.7, 0u8..2), 0u8..12).prop_map(|(pair, status)| Op::MarketStatus { pair, status }),
    ]
}

/// AmendOrder, AddOrderBatch, EditOrder and CancelOrderBatch.
pub fn order_endpoint_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (
            (0u8..4, any::<usize>(), prop::bool::weighted(0.1), prop::bool::weighted(0.2)),
            (prop::option::weighted(0.6, lots()), prop::option::weighted(0.6, -15i64..=15), prop::bool::weighted(0.3)),
        )
            .prop_map(|((acct, pick, as_other, by_cl), (lots, price_off, post_only))| Op::Amend { acct, pick, as_other, by_cl, lots, price_off, post_only }),
        1 => (0u8..4, 0u8..2, prop::collection::vec(place(15, 2, 2), 1..17)).prop_map(|(acct, pair, places)| Op::Batch { acct, pair, places }),
        1 => (any::<usize>(), lots(), -15i64..=15).prop_map(|(pick, lots, price_off)| Op::Edit { pick, lots, price_off }),
        1 => (0u8..4, prop::collection::vec(any::<usize>(), 0..4), prop::option::weighted(0.3, 0i32..3), prop::option::weighted(0.3, 0u8..3))
            .prop_map(|(acct, picks, userref, cl)| Op::CancelBatch { acct, picks, userref, cl }),
    ]
}

/// Mostly an open order (when there is one), sometimes any order.
fn pick_order(ex: &Exchange, pick: usize) -> Option<calamari::engine::order::Order> {
    let open: Vec<_> = ex.orders.iter().filter(|o| o.is_open()).collect();
    if !open.is_empty() && !pick.is_multiple_of(5) {
        return Some(open[pick % open.len()].clone());
    }
    super::order_opt(ex, (pick % (ex.orders.next_seq() as usize).max(1)) as u64)
}

/// Amounts of XBT/ETH: dust (below the minimums), ordinary, and more than anyone has.
fn coin() -> impl Strategy<Value = i128> {
    prop_oneof![1i128..1_000_000, 1_000_000i128..20_000_000_000, 20_000_000_000i128..2_000_000_000_000]
}

pub fn funding_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..4, 0u8..3, 0u16..3, coin()).prop_map(|(acct, asset, index, amount)| Op::ChainDeposit { acct, asset, index, amount }),
        1 => (0u8..4, 0u8..3).prop_map(|(acct, asset)| Op::NewAddress { acct, asset }),
        3 => (0u8..4, 0u8..2, 1u8..3, prop::bool::weighted(0.8)).prop_map(|(acct, key, asset, verified)| Op::SetKey { acct, key, asset, verified }),
        6 => (0u8..4, 0u8..2, 0u8..3, coin(), prop::option::weighted(0.3, 0i128..2_000_000), prop::bool::weighted(0.2))
            .prop_map(|(acct, key, asset, amount, max_fee, tight_limit)| Op::Withdraw { acct, key, asset, amount, max_fee, tight_limit }),
        3 => (0u8..4, any::<usize>(), prop::bool::weighted(0.2)).prop_map(|(acct, pick, as_other)| Op::CancelWithdraw { acct, pick, as_other }),
        1 => any::<usize>().prop_map(|pick| Op::FailFunding { pick }),
        1 => (0u8..4, 0u8..3, -2_000_000_000i128..2_000_000_000).prop_map(|(acct, asset, amount)| Op::Adjust { acct, asset, amount }),
    ]
}

/// Time steps: mostly seconds to minutes, sometimes days (fee-volume windows roll).
pub fn dt() -> impl Strategy<Value = u64> {
    prop_oneof![10 => 0u64..120 * NS, 1 => 0u64..3 * DAY_NS, 1 => Just(0)]
}

pub fn new_order(users: &[AccountId], p: &Place) -> NewOrder {
    let pair = p.pair as u16;
    NewOrder {
        account: users[p.acct as usize % users.len()],
        pair,
        side: side_of(p.buy),
        kind: if p.market { OrderKind::Market } else { OrderKind::Limit },
        price: if p.market { 0 } else { (CENTER[pair as usize] as i64 + p.price_off) as u64 },
        volume: p.lots as i128 * LOT,
        post_only: p.post_only,
        fee_in_base: p.fee_in_base,
        time_in_force: if p.ioc { TimeInForce::Ioc } else { TimeInForce::Gtc },
        self_trade: stp_of(p.stp),
        userref: p.userref,
        ..NewOrder::limit(0, 0, Side::Buy, 0, 0).with_rare(|r| r.cl_ord_id = p.cl.map(|c| format!("cl-{c}")))
    }
}

/// An order with its options, times counted from the engine's time `now`.
pub fn with_extra(mut o: NewOrder, e: &Extra, now: u64) -> NewOrder {
    if let Some(d) = e.display_div.filter(|_| o.kind == OrderKind::Limit) {
        o.kind = OrderKind::Iceberg;
        o.rare_mut().display_volume = Some(o.volume / d as i128 / LOT * LOT);
    }
    if let Some(s) = e.expire_s {
        o.time_in_force = TimeInForce::Gtd;
        o.rare_mut().expire_ns = Some(now + s * NS);
    }
    o.rare_mut().start_ns = e.start_s.map(|s| now + s * NS);
    if e.viqc && o.kind == OrderKind::Market && o.side == Side::Buy {
        o.quote_volume = true;
        o.fee_in_base = false;
        o.volume = o.volume / LOT * 1_000;
    }
    o
}

/// Turns an op into a concrete command for the current state.
pub fn command(ex: &Exchange, users: &[AccountId], op: &Op) -> Command {
    let user = |a: &u8| users[*a as usize % users.len()];
    match op {
        Op::Place(p) => Command::PlaceOrder(with_extra(new_order(users, p), &p.extra, ex.now_ns)),
        Op::CancelOrder { acct, pick, as_other } => {
            if ex.orders.next_seq() == 0 {
                return Command::Cancel { account: user(acct), target: CancelTarget::Order(*pick as u64 % 1000) };
            }
            let seq = (pick % ex.orders.next_seq() as usize) as u64;
            // A closed order whose outbox was drained (a live server's) is no longer known here.
            let owner = super::order_opt(ex, seq).map_or(user(acct), |o| o.req.account);
            let account = if *as_other { user(acct) } else { owner };
            Command::Cancel { account, target: CancelTarget::Order(seq) }
        }
        Op::CancelUserRef { acct, userref } => Command::Cancel { account: user(acct), target: CancelTarget::UserRef(*userref) },
        Op::CancelClOrdId { acct, cl } => Command::Cancel { account: user(acct), target: CancelTarget::ClOrdId(format!("cl-{cl}")) },
        Op::CancelAll { acct } => Command::CancelAll { account: user(acct) },
        Op::DeadMan { acct, timeout_s } => Command::CancelAllAfter { account: user(acct), timeout_s: *timeout_s },
        Op::Deposit { acct, asset, amount } => Command::Deposit { account: user(acct), asset: *asset as u16, amount: *amount },
        Op::ChainDeposit { acct, asset, index, amount } => {
            let owner =
                calamari::engine::funding::addresses::AddressOwner { account: user(acct), asset: *asset as u16, method: 0, index: *index };
            Command::ChainDeposit { owner, amount: *amount }
        }
        Op::NewAddress { acct, asset } => Command::NewDepositAddress { account: user(acct), asset: *asset as u16, method: 0 },
        Op::SetKey { acct, key, asset, verified } => Command::SetWithdrawKey {
            account: user(acct),
            key: format!("key{key}"),
            asset: *asset as u16,
            method: 0,
            address: format!("addr{acct}x{key}"),
            tag: None,
            verified: *verified,
        },
        Op::Withdraw { acct, key, asset, amount, max_fee, tight_limit } => {
            let limit = if *tight_limit { 1_000 * 10_000 } else { 100_000_000 * 10_000 };
            // Mostly the asset of the key's entry (when it exists); asset 0 (USD) stays a mismatch.
            let entry = ex.funding.address_book.get(&(user(acct), format!("key{key}")));
            let asset = entry.map_or(*asset as u16, |e| if *asset == 0 { 0 } else { e.asset });
            Command::Withdraw(calamari::engine::funding::WithdrawRequest {
                account: user(acct),
                asset,
                key: format!("key{key}"),
                amount: *amount,
                max_fee: *max_fee,
                address: None,
                daily_limit: limit,
                monthly_limit: limit * 10,
                // Ten minutes to cancel in: random steps are mostly under two minutes.
                process_after_s: 600,
                broadcast_after_s: 30,
            })
        }
        Op::CancelWithdraw { acct, pick, as_other } => {
            let ws = &ex.funding.withdrawals;
            if ws.is_empty() {
                return Command::WithdrawCancel { account: user(acct), asset: XBT, refid: *pick as u64 % 1000 };
            }
            // Mostly one still cancellable, when there is one.
            let initial: Vec<_> = ws.iter().filter(|w| w.status == calamari::engine::funding::Status::Initial).collect();
            let w = if !initial.is_empty() && pick % 4 != 0 { initial[pick % initial.len()] } else { &ws[pick % ws.len()] };
            let account = if *as_other { user(acct) } else { w.account };
            Command::WithdrawCancel { account, asset: w.asset, refid: w.id }
        }
        Op::FailFunding { pick } => {
            let ids: Vec<u64> = ex.funding.by_id.keys().copied().collect();
            Command::FailFunding { refid: if ids.is_empty() { *pick as u64 % 1000 } else { ids[pick % ids.len()] } }
        }
        Op::Adjust { acct, asset, amount } => {
            Command::Adjust { account: user(acct), asset: *asset as u16, amount: *amount, reason: "test".into() }
        }
        Op::Trigger(t) => super::triggers::command(users, t, ex.now_ns),
        Op::Amend { acct, pick, as_other, by_cl, lots, price_off, post_only } => {
            let mode = (pick >> 20) % 16;
            // A display (offset) amend names an open iceberg (trailing stop) when there is one: they are few.
            let icebergs: Vec<_> = ex
                .orders
                .iter()
                .filter(|o| o.is_open() && (mode == 13 && o.req.kind == OrderKind::Iceberg || mode >= 14 && o.req.kind.is_trailing()))
                .collect();
            let picked = if icebergs.is_empty() { pick_order(ex, *pick) } else { Some(icebergs[pick % icebergs.len()].clone()) };
            let (account, target, pair, volume) = match picked {
                Some(o) => {
                    let account = if *as_other { user(acct) } else { o.req.account };
                    let target = match (&o.cl_ord_id(), by_cl) {
                        (Some(c), true) => AmendTarget::ClOrdId(c.to_string()),
                        _ => AmendTarget::Order(o.seq),
                    };
                    (account, target, o.req.pair, o.req.volume)
                }
                None => (user(acct), AmendTarget::Order(*pick as u64 % 1000), 0, LOT),
            };
            Command::Amend(AmendRequest {
                account,
                target,
                order_qty: lots.filter(|_| mode < 14).map(|l| l as i128 * LOT),
                // Modes by `pick`'s high bits: 0-12 quantity and prices, 13 also a display, 14/15 trailing offsets.
                limit_price: price_off
                    .filter(|_| (!*by_cl || !*post_only) && mode < 14)
                    .map(|off| (CENTER[pair as usize] as i64 + off) as u64),
                // Some amends move a trigger: accepted on armed fixed stops, refused elsewhere.
                trigger_price: price_off
                    .filter(|_| (*by_cl || *post_only) && mode < 14)
                    .map(|off| (CENTER[pair as usize] as i64 - off / 2) as u64),
                // Some amends change an iceberg's display or a trailing stop's offsets (others refuse them).
                // 1/1 … 1/20 of the order: within Kraken's 1/15 or not.
                display_qty: (mode == 13).then(|| (volume / (1 + (pick % 20) as i128) / LOT).max(1) * LOT),
                post_only: *post_only,
                trigger_offset: price_off.filter(|_| mode == 14).map(|o| Offset {
                    sign: OffsetSign::Plus,
                    value: o.unsigned_abs() + 1,
                    percent: o % 3 == 0,
                }),
                limit_offset: price_off.filter(|_| mode == 15).map(|o| Offset {
                    sign: if o < 0 { OffsetSign::Minus } else { OffsetSign::Plus },
                    value: o.unsigned_abs(),
                    percent: false,
                }),
            })
        }
        Op::Batch { acct, pair, places } => {
            Command::PlaceBatch(places.iter().map(|p| new_order(users, &Place { acct: *acct, pair: *pair, ..p.clone() })).collect())
        }
        Op::Edit { pick, lots, price_off } => match pick_order(ex, *pick) {
            Some(o) => {
                let new = NewOrder {
                    volume: *lots as i128 * LOT,
                    price: (CENTER[o.req.pair as usize] as i64 + price_off) as u64,
                    ..o.new_order().with_rare(|r| r.cl_ord_id = None)
                };
                Command::Edit { account: o.req.account, target: o.seq, new }
            }
            None => Command::Edit {
                account: users[0],
                target: *pick as u64 % 1000,
                new: NewOrder::limit(users[0], 0, Side::Buy, CENTER[0], LOT),
            },
        },
        Op::CancelBatch { acct, picks, userref, cl } => {
            let mut targets: Vec<CancelTarget> =
                picks.iter().filter_map(|p| pick_order(ex, *p)).map(|o| CancelTarget::Order(o.seq)).collect();
            targets.extend(userref.map(CancelTarget::UserRef));
            targets.extend(cl.map(|c| CancelTarget::ClOrdId(format!("cl-{c}"))));
            // Mostly as the owner of the first picked order.
            let account = picks.first().and_then(|p| pick_order(ex, *p)).filter(|_| *acct != 0).map_or(user(acct), |o| o.req.account);
            Command::CancelBatch { account, targets }
        }
        Op::MarketStatus { pair, status } => {
            use calamari::engine::status::MarketStatus as M;
            let status = if *status >= 6 { M::Online } else { M::ALL[*status as usize] };
            // The whole market takes only its four states; the others go to a pair instead.
            let pair = pair.map(u16::from).or(if status.is_system_state() { None } else { Some(0) });
            Command::SetMarketStatus { pair, status }
        }
        Op::Invalid { acct, what } => {
            use calamari::engine::status::MarketStatus as M;
            let base = NewOrder::limit(user(acct), 0, Side::Buy, CENTER[0], 1_000 * LOT);
            match what {
                0 => Command::PlaceOrder(NewOrder { account: EXTERNAL, ..base }),
                1 => Command::PlaceOrder(NewOrder { account: 999, ..base }),
                2 => Command::PlaceOrder(NewOrder { volume: 1_000 * LOT + 1, ..base }),
                3 => Command::PlaceOrder(NewOrder { price: 0, ..base }),
                4 => Command::PlaceOrder(NewOrder { pair: 7, ..base }),
                5 => Command::PlaceOrder(NewOrder { volume: 0, ..base }),
                6 => Command::Deposit { account: user(acct), asset: USD, amount: 0 },
                7 => Command::Deposit { account: user(acct), asset: 9, amount: 1 },
                8 => Command::Deposit { account: FEES, asset: USD, amount: 1 },
                9 => Command::PlaceOrder(NewOrder {
                    kind: OrderKind::Market,
                    price: 0,
                    ..base.with_rare(|r| r.display_volume = Some(100 * LOT))
                }),
                10 => Command::PlaceOrder(NewOrder { time_in_force: TimeInForce::Gtd, ..base }),
                11 => Command::PlaceOrder(NewOrder { quote_volume: true, ..base }),
                // Triggered orders the API would not let through.
                12 => Command::PlaceOrder(NewOrder { kind: OrderKind::TrailingStop, ..base }),
                13 => Command::PlaceOrder(base.with_rare(|r| r.price2 = CENTER[0])),
                14 => Command::PlaceOrder(NewOrder { kind: OrderKind::StopLossLimit, ..base.with_rare(|r| r.price2 = 0) }),
                15 => Command::Cancel { account: user(acct), target: CancelTarget::Order(1_000_000) },
                // Batches of 1 and 16, a batch across pairs, a batch of two accounts.
                16 => Command::PlaceBatch(vec![base.clone()]),
                17 => Command::PlaceBatch(vec![base.clone(); 16]),
                18 => Command::PlaceBatch(vec![base.clone(), NewOrder { pair: 1, ..base.clone() }]),
                19 => Command::PlaceBatch(vec![base.clone(), NewOrder { account: users[(*acct as usize + 1) % users.len()], ..base }]),
                // An amend of nothing; an empty batch cancel.
                20 => Command::Amend(AmendRequest {
                    account: user(acct),
                    target: AmendTarget::Order(1_000_000),
                    order_qty: Some(LOT),
                    limit_price: None,
                    trigger_price: None,
                    display_qty: None,
                    post_only: false,
                    trigger_offset: None,
                    limit_offset: None,
                }),
                21 => Command::CancelBatch { account: user(acct), targets: vec![] },
                22 => Command::SetMarketStatus { pair: None, status: M::LimitOnly },
                _ => Command::SetMarketStatus { pair: Some(99), status: M::CancelOnly },
            }
        }
    }
}

pub fn must_reject(op: &Op) -> bool {
    matches!(op, Op::Invalid { .. } | Op::DeadMan { timeout_s: 86_401.., .. })
}

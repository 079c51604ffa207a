//! Triggered orders' later additions through the real server: a scheduled start (`starttm`) on
//! a stop (pending and held, not fired by a trade before its start, armed at its start, a
//! trailing stop's peak taken then), and AmendOrder of a trailing stop's offsets, of an iceberg's
//! display quantity and of a fired stop as the limit order it became; each replayed to the same
//! digest after a restart. The helpers are order_triggers.rs's.

mod common;

use common::xbt_orders::{add, hold_xbt, num, order, place, restart_keeps_digest, three_accounts, trade_at};
use common::{err, ok, Server};

#[test]
fn a_scheduled_stop_waits_pending_then_arms_at_its_start() {
    let (s, [alice, bob, carol]) = three_accounts(&[("CALAMARI_TEST_CLOCK", "1")], [("0", "1"), ("100000", "1"), ("100000", "1")]);
    let advance = |secs: u64| s.admin_post("/admin/clock/advance", serde_json::json!({ "seconds": secs })).unwrap();
    let (txid, answer) = place(
        &s,
        &alice,
        &[
            ("type", "sell"),
            ("ordertype", "stop-loss-limit"),
            ("price", "85000"),
            ("price2", "84000"),
            ("volume", "0.1"),
            ("starttm", "+60"),
        ],
    );
    assert_eq!(answer["descr"]["order"], "sell 0.10000000 XBTUSD @ stop loss 85000.0 -> limit 84000.0");
    let o = order(&s, &alice, &txid);
    assert_eq!(o["status"], "pending", "{o}");
    assert_eq!((num(&o["stopprice"]), num(&o["limitprice"])), (85000.0, 84000.0));
    assert_eq!(hold_xbt(&s, &alice), "0.1000000000", "held from the moment it is accepted");
    // Before its start a trade through its trigger does not fire it.
    trade_at(&s, &bob, &carol, "84500", "buy");
    assert_eq!(order(&s, &alice, &txid)["status"], "pending");
    // The market comes back up; at its start it is armed (open, untriggered, off the book).
    trade_at(&s, &bob, &carol, "90000", "buy");
    advance(61);
    let o = order(&s, &alice, &txid);
    assert_eq!((o["status"].as_str(), o["misc"].as_str()), (Some("open"), Some("")), "{o}");
    assert_eq!(ok(&s.public("Depth", "pair=XBTUSD"))["XXBTZUSD"]["asks"].as_array().unwrap().len(), 0);
    // Now a trade at 84500 fires it once: it rests as a limit sell at 84000.
    trade_at(&s, &bob, &carol, "84500", "buy");
    let o = order(&s, &alice, &txid);
    assert_eq!((o["status"].as_str(), o["misc"].as_str()), (Some("open"), Some("stopped")), "{o}");
    assert_eq!(num(&ok(&s.public("Depth", "pair=XBTUSD"))["XXBTZUSD"]["asks"][0][0]), 84000.0);

    assert_eq!(ok(&s.private(&alice, "CancelOrder", &[("txid", &txid)]))["count"], 1);
    // A scheduled trailing stop's peak is the reference at its start, not at its placing.
    let (trail, _) =
        place(&s, &alice, &[("type", "sell"), ("ordertype", "trailing-stop"), ("price", "+1000"), ("volume", "0.01"), ("starttm", "+30")]);
    assert_eq!(order(&s, &alice, &trail)["status"], "pending");
    trade_at(&s, &bob, &carol, "95000", "buy");
    advance(31);
    let o = order(&s, &alice, &trail);
    assert_eq!((o["status"].as_str(), num(&o["stopprice"]), num(&o["limitprice"])), (Some("open"), 94000.0, 95000.0), "{o}");

    // A restart replays the starts to the same state.
    restart_keeps_digest(s, &[("CALAMARI_TEST_CLOCK", "1")]);
}

#[test]
fn amend_a_trailing_stops_offsets_an_icebergs_display_and_a_fired_stop() {
    let (s, [alice, bob, carol]) = three_accounts(&[], [("0", "1"), ("100000", "1"), ("100000", "1")]);
    trade_at(&s, &bob, &carol, "90000", "buy");

    // A trailing stop's offset: `+n` or `+n%`, its peak kept.
    let (trail, _) = place(&s, &alice, &[("type", "sell"), ("ordertype", "trailing-stop"), ("price", "+1000"), ("volume", "0.01")]);
    let o = order(&s, &alice, &trail);
    assert_eq!((num(&o["stopprice"]), num(&o["limitprice"])), (89000.0, 90000.0), "{o}");
    assert!(ok(&s.private(&alice, "AmendOrder", &[("txid", &trail), ("trigger_price", "+2000")]))["amend_id"].is_string());
    let o = order(&s, &alice, &trail);
    assert_eq!((o["status"].as_str(), num(&o["stopprice"]), num(&o["limitprice"])), (Some("open"), 88000.0, 90000.0), "{o}");
    assert_eq!(o["descr"]["price"], "+2000.0", "{o}");
    assert!(ok(&s.private(&alice, "AmendOrder", &[("txid", &trail), ("trigger_price", "+5%")]))["amend_id"].is_string());
    assert_eq!(num(&order(&s, &alice, &trail)["stopprice"]), 85500.0);
    for bad in ["-500", "#500", "89000"] {
        let before = order(&s, &alice, &trail);
        assert_eq!(
            err(&s.private(&alice, "AmendOrder", &[("txid", &trail), ("trigger_price", bad)])),
            "EGeneral:Invalid arguments:trigger_price",
            "{bad}"
        );
        assert_eq!(order(&s, &alice, &trail), before, "{bad} changed nothing");
    }
    // A trailing-stop-limit's limit offset.
    let (tsl, _) = place(
        &s,
        &alice,
        &[("type", "sell"), ("ordertype", "trailing-stop-limit"), ("price", "+1000"), ("price2", "-500"), ("volume", "0.01")],
    );
    assert!(ok(&s.private(&alice, "AmendOrder", &[("txid", &tsl), ("limit_price", "-200")]))["amend_id"].is_string());
    assert_eq!(order(&s, &alice, &tsl)["descr"]["price2"], "-200.0");
    assert_eq!(
        err(&s.private(&alice, "AmendOrder", &[("txid", &tsl), ("limit_price", "88000")])),
        "EGeneral:Invalid arguments:limit_price"
    );

    // A trade at 88500 reaches the trailing-stop-limit's stop (89000): it fires and rests as a
    // limit sell at 88800, the trailing stop at 85500 waits.
    trade_at(&s, &bob, &carol, "88500", "buy");
    let o = order(&s, &alice, &tsl);
    assert_eq!((o["status"].as_str(), o["misc"].as_str()), (Some("open"), Some("stopped,amended")), "{o}");
    assert_eq!(num(&ok(&s.public("Depth", "pair=XBTUSD"))["XXBTZUSD"]["asks"][0][0]), 88800.0);
    assert_eq!(order(&s, &alice, &trail)["status"], "open");
    // Fired, it is the limit order it became: its limit price and quantity amend as one's.
    assert!(ok(&s.private(&alice, "AmendOrder", &[("txid", &tsl), ("limit_price", "89500")]))["amend_id"].is_string());
    let o = order(&s, &alice, &tsl);
    assert_eq!((num(&o["limitprice"]), o["descr"]["price2"].as_str()), (89500.0, Some("89500.0")), "{o}");
    let asks = ok(&s.public("Depth", "pair=XBTUSD"))["XXBTZUSD"]["asks"].clone();
    assert_eq!((num(&asks[0][0]), num(&asks[0][1])), (89500.0, 0.01), "{asks}");
    assert!(ok(&s.private(&alice, "AmendOrder", &[("txid", &tsl), ("order_qty", "0.005")]))["amend_id"].is_string());
    assert_eq!(num(&ok(&s.public("Depth", "pair=XBTUSD"))["XXBTZUSD"]["asks"][0][1]), 0.005);
    assert_eq!(
        err(&s.private(&alice, "AmendOrder", &[("txid", &tsl), ("trigger_price", "80000")])),
        "EGeneral:Invalid arguments:trigger_price"
    );

    // An iceberg's display quantity: at least 1/15 of what remains, no more than the order.
    let (ice, _) =
        place(&s, &alice, &[("type", "sell"), ("ordertype", "iceberg"), ("price", "95000"), ("volume", "0.3"), ("displayvol", "0.1")]);
    let shown = |s: &Server| {
        let asks = ok(&s.public("Depth", "pair=XBTUSD&count=20"))["XXBTZUSD"]["asks"].as_array().unwrap().clone();
        asks.iter().filter(|l| num(&l[0]) == 95000.0).map(|l| num(&l[1])).sum::<f64>()
    };
    assert_eq!(shown(&s), 0.1);
    assert!(ok(&s.private(&alice, "AmendOrder", &[("txid", &ice), ("display_qty", "0.05")]))["amend_id"].is_string());
    assert_eq!(shown(&s), 0.05);
    for bad in ["0.01", "0.4"] {
        assert_eq!(
            err(&s.private(&alice, "AmendOrder", &[("txid", &ice), ("display_qty", bad)])),
            "EGeneral:Invalid arguments:display_qty"
        );
    }
    assert_eq!(shown(&s), 0.05, "refusals changed nothing");
    assert_eq!(
        err(&s.private(&alice, "AmendOrder", &[("txid", &trail), ("display_qty", "0.005")])),
        "EGeneral:Invalid arguments:display_qty",
        "display_qty is for icebergs only"
    );

    // A restart replays the amends to the same state.
    restart_keeps_digest(s, &[]);
}

#[test]
fn amend_takes_relative_prices_on_a_fixed_stop_and_a_limit_order() {
    let (s, [alice, bob, carol]) = three_accounts(&[], [("100000", "0.1"), ("100000", "1"), ("100000", "1")]);
    // The last trade at 90000.
    place(&s, &bob, &[("type", "buy"), ("ordertype", "limit"), ("price", "90000"), ("volume", "0.01")]);
    place(&s, &carol, &[("type", "sell"), ("ordertype", "market"), ("volume", "0.01")]);
    let (stop, _) = place(
        &s,
        &alice,
        &[("type", "sell"), ("ordertype", "stop-loss-limit"), ("price", "85000"), ("price2", "84000"), ("volume", "0.05")],
    );
    // `-1000` below the last trade; `#2%` for a sell's limit of a -limit stop: beyond it, down.
    let a = s.private(&alice, "AmendOrder", &[("txid", &stop), ("trigger_price", "-1000"), ("limit_price", "#2%")]);
    assert!(ok(&a)["amend_id"].is_string(), "{a}");
    let o = order(&s, &alice, &stop);
    assert_eq!((num(&o["stopprice"]), num(&o["limitprice"])), (89000.0, 88200.0), "{o}");
    assert_eq!(o["descr"]["order"], "sell 0.05000000 XBTUSD @ stop loss 89000.0 -> limit 88200.0", "{o}");
    // A relative limit on a resting limit order: `+1%` of 90000.
    let (limit, _) = place(&s, &alice, &[("type", "sell"), ("ordertype", "limit"), ("price", "95000"), ("volume", "0.01")]);
    ok(&s.private(&alice, "AmendOrder", &[("txid", &limit), ("limit_price", "+1%")]));
    assert_eq!(num(&order(&s, &alice, &limit)["descr"]["price"]), 90900.0);
    // A relative trigger on a limit order is still no trigger.
    assert_eq!(
        err(&s.private(&alice, "AmendOrder", &[("txid", &limit), ("trigger_price", "+5")])),
        "EGeneral:Invalid arguments:trigger_price"
    );
    // The trade at 89000 reaches the amended trigger.
    place(&s, &bob, &[("type", "buy"), ("ordertype", "limit"), ("price", "89000"), ("volume", "0.01")]);
    place(&s, &carol, &[("type", "sell"), ("ordertype", "market"), ("volume", "0.01")]);
    assert_eq!(order(&s, &alice, &stop)["misc"], "stopped,amended");
    // Replayed to the same state.
    restart_keeps_digest(s, &[]);
}

/// A viqc buy spends quote, so at a low price it can execute more base than any order may be
/// (MAX_VOLUME: 1,000,000 XBT); its conditional close, of the executed volume, is refused as
/// AddOrder refuses such a volume and recorded canceled, whether its kind is armed (take-profit)
/// or placed: never an open order larger than any order may be, holding that much.
#[test]
fn a_viqc_buys_close_larger_than_any_order_is_recorded_canceled_even_when_armed() {
    let (s, [alice, bob, _]) = three_accounts(&[], [("300000", "0"), ("0", "2400000"), ("0", "0")]);
    // No single order may be above 1,000,000 XBT.
    let too_large = add(&s, &bob, &[("type", "sell"), ("ordertype", "limit"), ("price", "0.1"), ("volume", "1000001")]);
    assert_eq!(err(&too_large), "EGeneral:Invalid arguments:volume");
    for _ in 0..4 {
        place(&s, &bob, &[("type", "sell"), ("ordertype", "limit"), ("price", "0.1"), ("volume", "600000")]);
    }
    for (close_kind, quote) in [("take-profit", "120000"), ("limit", "120000")] {
        let (open, _) = place(
            &s,
            &alice,
            &[
                ("type", "buy"),
                ("ordertype", "market"),
                ("oflags", "viqc"),
                ("volume", quote),
                ("close[ordertype]", close_kind),
                ("close[price]", "1000"),
            ],
        );
        let o = order(&s, &alice, &open);
        assert_eq!(o["status"], "closed", "{o}");
        assert!(num(&o["vol_exec"]) > 1_000_000.0, "the viqc buy executed more than any order may be: {o}");
        let closed = ok(&s.private(&alice, "ClosedOrders", &[]))["closed"].clone();
        let close = closed
            .as_object()
            .unwrap()
            .values()
            .find(|c| c["refid"] == open.as_str())
            .unwrap_or_else(|| panic!("{close_kind}: no close recorded: {closed}"));
        assert_eq!(close["status"], "canceled", "{close_kind}: {close}");
        assert_eq!(close["descr"]["ordertype"], close_kind);
        assert!(ok(&s.private(&alice, "OpenOrders", &[]))["open"].as_object().unwrap().is_empty(), "{close_kind}: a close was left open");
        assert_eq!(hold_xbt(&s, &alice), "0.0000000000", "{close_kind}: nothing held for a close");
    }
    restart_keeps_digest(s, &[]);
}

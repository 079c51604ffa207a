"""Kraken's numbers and market states as real third-party Kraken clients see them.

krakenex 2.2.2 and python-kraken-sdk 3.5.1 (`Market`, `Trade`, `User`), installed unchanged from
PyPI, pointed at Calamari by their base URL only: an XBTUSD and a DOGE trade read back with
Kraken's decimals (cost_decimals for orders, trades and public prices, the asset's decimals in
the ledger), Depth levels of [price, volume, integer time], CancelOrder's `{"count": n}`, the
envelope on a nested unknown path, and the market states the operator sets with
`calamari market status`, refused with Kraken's strings (the SDK raises its own exceptions).

Usage (tests/clients/run starts the server and passes its data directory):

    kraken_numbers.py CALAMARI_BINARY DATA_DIR   (not numbers.py: that name would shadow the standard library's)

Output: `PASS name` / `FAIL name: reason` per check, then `N passed, M failed`; non-zero exit
status on any failure.
"""
from __future__ import annotations

from decimal import Decimal

from kraken.exceptions import KrakenMarketInOnlyCancelModeError, KrakenMarketInOnlyPostModeError, KrakenServiceUnavailableError
from kraken.spot import Market, Trade, User

from common import Server, check, expect, finish, raises

srv = Server.from_argv()
URL, cli = srv.url, srv.cli


def ok(r: dict) -> dict:
    expect(r.get("error") == [], f"error {r.get('error')}")
    return r["result"]


maker_key = srv.trader("nmaker", ("XBT", "1"), ("XDG", "1000"), key_name="numbers")
taker_key = srv.trader("ntaker", ("USD", "10000"), key_name="numbers")
# krakenex and the SDK count nonces differently: each gets its own key.
maker, taker = srv.krakenex(maker_key), srv.krakenex(srv.key("ntaker", "kx"))
sdk_trade = Trade(key=taker_key[0], secret=taker_key[1], url=URL)
sdk_user = User(key=taker_key[0], secret=taker_key[1], url=URL)
market = Market(url=URL)


def xbtusd_trade_with_krakenex() -> None:
    sell = ok(maker.query_private("AddOrder", {"pair": "XBTUSD", "type": "sell", "ordertype": "limit", "price": "30010.0",
                                               "volume": "0.02"}))["txid"][0]
    buy = ok(taker.query_private("AddOrder", {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "0.02"}))["txid"][0]
    o = ok(taker.query_private("QueryOrders", {"txid": buy, "trades": True}))[buy]
    expect((o["cost"], o["fee"], o["price"], o["stopprice"]) == ("600.20000", "2.40080", "30010.00000", "0.00000"), f"order {o}")
    t = ok(taker.query_private("QueryTrades", {"txid": o["trades"][0]}))[o["trades"][0]]
    expect((t["price"], t["cost"], t["fee"], t["vol"], t["margin"]) == ("30010.00000", "600.20000", "2.40080", "0.02000000", "0.00000"),
           f"trade {t}")
    m = ok(maker.query_private("QueryOrders", {"txid": sell}))[sell]
    expect((m["fee"], m["descr"]["price"]) == ("1.50050", "30010.0"), f"maker order {m}")
    led = ok(taker.query_private("Ledgers", {"asset": "ZUSD"}))["ledger"]
    usd = [e for e in led.values() if e["refid"] == o["trades"][0]]
    expect([(e["amount"], e["fee"]) for e in usd] == [("-600.2000", "2.4008")], f"ledger {usd}")


def doge_fee_with_the_sdk() -> None:
    ok(maker.query_private("AddOrder", {"pair": "XDGUSD", "type": "sell", "ordertype": "limit", "price": "0.1034421",
                                                 "volume": "50"}))
    r = sdk_trade.create_order(ordertype="limit", side="buy", pair="XDGUSD", volume="50", price="0.1100000")
    txid = r["txid"][0]
    o = sdk_user.get_orders_info(txid=txid, trades=True)[txid]
    expect((o["cost"], o["fee"], o["price"]) == ("5.172105000", "0.020700000", "0.103442100"), f"order {o}")
    trades = sdk_user.get_trades_history()["trades"]
    mine = [t for t in trades.values() if t["ordertxid"] == txid]
    cost = sum(Decimal(t["cost"]) for t in mine)
    vol = sum(Decimal(t["vol"]) for t in mine)
    expect(str((cost / vol).quantize(Decimal("0.000000001"))) == o["price"], "the average from the trades is the order's price")
    ticker = market.get_ticker(pair="XDGUSD")["XDGUSD"]
    expect(ticker["c"][0] == "0.103442100", f"ticker {ticker['c']}")


def depth_and_cancel() -> None:
    ok(maker.query_private("AddOrder", {"pair": "XBTUSD", "type": "sell", "ordertype": "limit", "price": "35000.0", "volume": "0.1234"}))
    book = market.get_order_book(pair="XBTUSD", count=5)["XXBTZUSD"]
    price, volume, stamp = book["asks"][0]
    expect((price, volume) == ("35000.00000", "0.123") and isinstance(stamp, int), f"depth {book['asks'][0]}")
    txid = sdk_trade.create_order(ordertype="limit", side="buy", pair="XBTUSD", volume="0.001", price="20000.0")["txid"][0]
    expect(sdk_trade.cancel_order(txid=txid) == {"count": 1}, "CancelOrder answers {count: 1}")
    expect(taker.query_private("Earn/Strategies") == {"error": ["EGeneral:Unknown method"]}, "a nested unknown path")


def market_states() -> None:
    cli("market", "status", "XBTUSD", "cancel_only")
    expect(market.get_asset_pairs(pair="XBTUSD")["XXBTZUSD"]["status"] == "cancel_only", "AssetPairs status")
    raises(KrakenMarketInOnlyCancelModeError,
           lambda: sdk_trade.create_order(ordertype="limit", side="buy", pair="XBTUSD", volume="0.001", price="20000.0"))
    r = taker.query_private("AddOrder", {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "0.001"})
    expect(r["error"] == ["EService:Market in cancel_only mode"], f"krakenex {r}")
    cli("market", "status", "XBTUSD", "post_only")
    raises(KrakenMarketInOnlyPostModeError,
           lambda: sdk_trade.create_order(ordertype="limit", side="buy", pair="XBTUSD", volume="0.001", price="20000.0"))
    posted = sdk_trade.create_order(ordertype="limit", side="buy", pair="XBTUSD", volume="0.001", price="20000.0", oflags="post")
    cli("market", "status", "--system", "maintenance")
    expect(market.get_system_status()["status"] == "maintenance", "SystemStatus")
    raises(KrakenServiceUnavailableError, lambda: sdk_trade.cancel_order(txid=posted["txid"][0]))
    cli("market", "status", "--system", "online")
    cli("market", "status", "XBTUSD", "online")
    expect(market.get_system_status()["status"] == "online", "back online")
    expect(sdk_trade.cancel_order(txid=posted["txid"][0]) == {"count": 1}, "cancel once online")


check("krakenex: an XBTUSD trade at 5 cost decimals, the ledger at 4", xbtusd_trade_with_krakenex)
check("python-kraken-sdk: a DOGE fee at 9 decimals, the average from the trades", doge_fee_with_the_sdk)
check("Depth levels, CancelOrder's count, a nested unknown path", depth_and_cancel)
check("market states refused with Kraken's strings (SDK exceptions, krakenex errors)", market_states)
finish()

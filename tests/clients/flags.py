"""AddOrder's flags and the dead man's switch as real third-party Kraken clients see them.

python-kraken-sdk 3.5.1 (`Trade`, `User`, `Market`) and krakenex 2.2.2, installed unchanged from
PyPI, pointed at Calamari by their base URL only: an iceberg order (Depth shows its display part
only), a GTD order that ends `expired` at its `expiretm`, a scheduled order (`starttm`) pending
then open, a viqc market buy sized in USD, `deadline`, and CancelAllOrdersAfter (armed, reset,
disabled, fired). The server runs on its test clock (`CALAMARI_TEST_CLOCK=1`); the script moves
it with the admin interface's `/admin/clock/advance`.

Usage (tests/clients/run starts the server and passes its data directory):

    flags.py CALAMARI_BINARY DATA_DIR

Output: `PASS name` / `FAIL name: reason` per check, then `N passed, M failed`; non-zero exit
status on any failure.
"""
from __future__ import annotations

import datetime

from kraken.exceptions import KrakenDeadlineElapsedError
from kraken.spot import Market, Trade, User

from common import Server, check, finish, kx_err, kx_ok, refused

srv = Server.from_argv()
URL, cli, advance = srv.url, srv.cli, srv.advance

for name, usd, xbt in (("fa", "100000", "5"), ("fb", "100000", "5")):
    srv.open_account(name, ("USD", usd), ("XBT", xbt))
sdk_key = srv.key("fa", "sdk")
kx_key = srv.key("fb", "kx")
trade = Trade(key=sdk_key[0], secret=sdk_key[1], url=URL)
user = User(key=sdk_key[0], secret=sdk_key[1], url=URL)
market = Market(url=URL)
kx = srv.krakenex(kx_key)


def ask_volume(price: float) -> float:
    book = market.get_order_book(pair="XBTUSD", count=50)
    asks = book["XXBTZUSD"]["asks"]
    return sum(float(v) for p, v, _ in asks if float(p) == price)


def sdk_status(txid: str) -> str:
    return user.get_orders_info(txid=txid)[txid]["status"]


def iceberg():
    r = trade.create_order(ordertype="iceberg", side="sell", pair="XBTUSD", volume="1.5", price="40000", displayvol="0.1")
    assert r["descr"]["order"] == "sell 1.50000000 XBTUSD @ limit 40000.0", r
    assert ask_volume(40000.0) == 0.1, market.get_order_book(pair="XBTUSD")
    # krakenex takes the display part; the next part shows.
    kx_ok(kx, "AddOrder", {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "price": "40000", "volume": "0.1"})
    o = user.get_orders_info(txid=r["txid"][0])[r["txid"][0]]
    assert (o["status"], o["vol_exec"], o["descr"]["ordertype"]) == ("open", "0.10000000", "iceberg"), o
    assert ask_volume(40000.0) == 0.1
    assert "displayvol" in kx_err(kx, "AddOrder", {"pair": "XBTUSD", "type": "sell", "ordertype": "limit", "price": "40000",
                                                   "volume": "1.5", "displayvol": "0.05"})
    trade.cancel_order(txid=r["txid"][0])


def gtd():
    r = trade.create_order(ordertype="limit", side="buy", pair="XBTUSD", volume="0.01", price="20000",
                           timeinforce="GTD", expiretm="+60")
    txid = r["txid"][0]
    o = user.get_open_orders()["open"][txid]
    assert o["status"] == "open" and abs(o["expiretm"] - o["opentm"] - 60) < 0.01, o
    refused("expiretm", lambda: trade.create_order(ordertype="limit", side="buy", pair="XBTUSD", volume="0.01",
                                                   price="20000", timeinforce="GTD"))
    advance(61)
    o = user.get_orders_info(txid=txid)[txid]
    assert (o["status"], o["closetm"]) == ("expired", o["expiretm"]), o
    assert txid in user.get_closed_orders()["closed"]


def scheduled():
    r = kx_ok(kx, "AddOrder", {"pair": "XBTUSD", "type": "sell", "ordertype": "limit", "price": "45000", "volume": "0.1",
                               "starttm": "+30"})
    txid = r["txid"][0]
    assert kx_ok(kx, "QueryOrders", {"txid": txid})[txid]["status"] == "pending"
    assert ask_volume(45000.0) == 0.0
    advance(31)
    assert kx_ok(kx, "QueryOrders", {"txid": txid})[txid]["status"] == "open"
    assert ask_volume(45000.0) == 0.1
    kx_ok(kx, "CancelOrder", {"txid": txid})


def viqc():
    kx_ok(kx, "AddOrder", {"pair": "XBTUSD", "type": "sell", "ordertype": "limit", "price": "30000", "volume": "0.5"})
    r = trade.create_order(ordertype="market", side="buy", pair="XBTUSD", volume="300", oflags="viqc")
    assert r["descr"]["order"] == "buy 300.00000000 XBTUSD @ market", r
    o = user.get_orders_info(txid=r["txid"][0])[r["txid"][0]]
    assert o["status"] == "closed" and "viqc" in o["oflags"] and o["vol"] == "300.00000000", o
    spent = float(o["cost"]) + float(o["fee"])
    assert 299.99 < spent <= 300.0 and float(o["vol_exec"]) > 0.0099, o
    assert "viqc" in kx_err(kx, "AddOrder", {"pair": "XBTUSD", "type": "sell", "ordertype": "market", "volume": "300",
                                             "oflags": "viqc"})


def deadline_and_margin():
    past = "2020-01-01T00:00:00Z"
    try:
        trade.create_order(ordertype="limit", side="buy", pair="XBTUSD", volume="0.01", price="20000", deadline=past)
        raise AssertionError("a past deadline was accepted")
    except KrakenDeadlineElapsedError:
        pass
    soon = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = trade.create_order(ordertype="limit", side="buy", pair="XBTUSD", volume="0.01", price="20000", deadline=soon,
                           validate=True)
    assert "txid" not in r and r["descr"]["order"] == "buy 0.01000000 XBTUSD @ limit 20000.0", r
    assert kx_err(kx, "AddOrder", {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "price": "20000",
                                   "volume": "0.01", "leverage": "2"}) == "EOrder:Cannot open position"
    assert kx_err(kx, "AddOrder", {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "price": "20000",
                                   "volume": "0.01", "reduce_only": "true"}) == "EOrder:Reduce only:No position exists"


def dead_mans_switch():
    a = trade.create_order(ordertype="limit", side="buy", pair="XBTUSD", volume="0.01", price="21000")["txid"][0]
    r = trade.cancel_all_orders_after_x(timeout=60)
    assert set(r) == {"currentTime", "triggerTime"} and r["triggerTime"] != "0", r
    advance(30)
    trade.cancel_all_orders_after_x(timeout=60)  # reset
    advance(40)
    assert sdk_status(a) == "open", "reset by the second call"
    assert kx_ok(kx, "CancelAllOrdersAfter", {"timeout": "0"})["triggerTime"] == "0"
    kx_ok(kx, "CancelAllOrdersAfter", {"timeout": "10"})
    b = kx_ok(kx, "AddOrder", {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "price": "21000",
                               "volume": "0.01"})["txid"][0]
    advance(11)
    assert sdk_status(a) == "open", "another account's switch"
    assert kx_ok(kx, "QueryOrders", {"txid": b})[b]["status"] == "canceled"
    trade.cancel_all_orders_after_x(timeout=5)
    advance(6)
    assert sdk_status(a) == "canceled"


# First, while the test clock still reads the system time (the deadline is computed here).
check("deadline elapsed, validate, leverage and reduce_only refused", deadline_and_margin)
check("iceberg: Depth shows the display part, krakenex takes it, a refill shows", iceberg)
check("GTD: expired at expiretm (python-kraken-sdk), GTD without expiretm refused", gtd)
check("starttm: pending, then open at its time (krakenex)", scheduled)
check("viqc: a market buy of 300 USD, fee included (python-kraken-sdk)", viqc)
check("CancelAllOrdersAfter: armed, reset, disabled, fired (both clients)", dead_mans_switch)
finish()

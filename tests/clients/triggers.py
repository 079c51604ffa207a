"""Triggered orders as real third-party Kraken clients see them.

krakenex 2.2.2 and python-kraken-sdk 3.5.1 (its `Trade` and `User` clients), installed unchanged
from PyPI, pointed at Calamari by their base URL only, place a stop-loss, a take-profit-limit, a
trailing stop (form and JSON bodies), an order with a conditional close, read them back with
OpenOrders/QueryOrders, see one fire on a trade, and cancel the rest. The server runs with the
simulated market off; the `calamari` CLI makes the accounts.

Usage (tests/clients/run starts the server and passes its data directory):

    triggers.py CALAMARI_BINARY DATA_DIR

Output: `PASS name` / `FAIL name: reason` per check, then `N passed, M failed`; non-zero exit
status on any failure.
"""
from __future__ import annotations

import json

from kraken.exceptions import KrakenInvalidArgumentsError
from kraken.spot import Trade, User

from common import Server, check, finish, kx_ok

srv = Server.from_argv()
URL, kx_api = srv.url, srv.krakenex
alice = srv.trader("alice", ("USD", "100000"), ("XBT", "1"))
bob = srv.trader("bob", ("USD", "100000"), ("XBT", "1"))
kx_alice, kx_bob = kx_api(alice), kx_api(bob)
# The SDK gets its own key: its nonces are on another scale than krakenex's.
sdk = srv.key("alice", "sdk")
trade, user = Trade(key=sdk[0], secret=sdk[1], url=URL), User(key=sdk[0], secret=sdk[1], url=URL)


def krakenex_stop_loss_fires() -> None:
    r = kx_ok(kx_alice, "AddOrder", {"pair": "XBTUSD", "type": "sell", "ordertype": "stop-loss", "price": "85000",
                                     "volume": "0.01"})
    assert r["descr"] == {"order": "sell 0.01000000 XBTUSD @ stop loss 85000.0"}, r
    txid = r["txid"][0]
    o = kx_ok(kx_alice, "QueryOrders", {"txid": txid})[txid]
    assert (o["status"], o["descr"]["ordertype"], float(o["stopprice"]), o["trigger"], o["misc"]) == \
        ("open", "stop-loss", 85000.0, "last", ""), o
    # Bob bids 84000; a third account's market sell trades with it at 84000: the stop fires.
    kx_ok(kx_bob, "AddOrder", {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "price": "84000", "volume": "0.05"})
    carol = kx_api(srv.trader("carol", ("XBT", "1")))
    kx_ok(carol, "AddOrder", {"pair": "XBTUSD", "type": "sell", "ordertype": "market", "volume": "0.01"})
    o = kx_ok(kx_alice, "QueryOrders", {"txid": txid, "trades": True})[txid]
    assert (o["status"], o["misc"], o["vol_exec"], len(o["trades"])) == ("closed", "stopped", "0.01000000", 1), o


def sdk_take_profit_limit() -> None:
    r = trade.create_order(ordertype="take-profit-limit", side="sell", volume="0.02", pair="XBTUSD", price="95000",
                           price2="94900", trigger="index")
    assert r["descr"]["order"] == "sell 0.02000000 XBTUSD @ take profit 95000.0 -> limit 94900.0", r
    txid = r["txid"][0]
    o = user.get_orders_info(txid=txid)[txid]
    assert (o["status"], o["descr"]["price"], o["descr"]["price2"], float(o["stopprice"]), float(o["limitprice"]),
            o["trigger"]) == ("open", "95000.0", "94900.0", 95000.0, 94900.0, "index"), o
    assert txid in user.get_open_orders()["open"]
    assert trade.cancel_order(txid=txid)["count"] == 1


def sdk_trailing_stop_json() -> None:
    # The SDK's validate path and a real order; `%` prices are what ccxt sends as JSON.
    r = trade.create_order(ordertype="trailing-stop", side="sell", volume="0.01", pair="XBTUSD", price="+5%",
                           validate=True)
    assert r["descr"] == {"order": "sell 0.01000000 XBTUSD @ trailing stop +5.0000%"}, r
    r = trade.create_order(ordertype="trailing-stop-limit", side="sell", volume="0.01", pair="XBTUSD",
                           price="+1000", price2="-50")
    txid = r["txid"][0]
    o = user.get_orders_info(txid=txid)[txid]
    assert (o["descr"]["ordertype"], o["descr"]["price"], o["descr"]["price2"]) == \
        ("trailing-stop-limit", "+1000.0", "-50.0"), o
    assert float(o["limitprice"]) == float(o["stopprice"]) - 50, o
    # An absolute trailing offset is refused with Kraken's error (the SDK's exception).
    try:
        trade.create_order(ordertype="trailing-stop", side="sell", volume="0.01", pair="XBTUSD", price="1000")
        raise AssertionError("an absolute trailing offset was accepted")
    except KrakenInvalidArgumentsError:
        pass
    trade.cancel_order(txid=txid)


def krakenex_json_trailing() -> None:
    # ccxt sends `%` prices as a JSON body; krakenex sends forms, so this one is signed here with
    # through krakenex's own signing.
    import time
    import urllib.request
    nonce = str(int(time.time() * 1000))
    body = json.dumps({"nonce": nonce, "pair": "XBTUSD", "type": "sell", "ordertype": "trailing-stop",
                       "volume": "0.01", "trigger": "last", "price": "+2%"})
    path = "/0/private/AddOrder"
    import base64
    import hashlib
    import hmac
    message = path.encode() + hashlib.sha256((nonce + body).encode()).digest()
    sig = base64.b64encode(hmac.new(base64.b64decode(alice[1]), message, hashlib.sha512).digest()).decode()
    req = urllib.request.Request(URL + path, body.encode(), {"API-Key": alice[0], "API-Sign": sig,
                                                              "Content-Type": "application/json"})
    r = json.loads(urllib.request.urlopen(req).read())
    assert not r["error"], r
    assert r["result"]["descr"]["order"] == "sell 0.01000000 XBTUSD @ trailing stop +2.0000%", r
    txid = r["result"]["txid"][0]
    o = kx_ok(kx_alice, "OpenOrders", {})["open"][txid]
    assert o["descr"]["ordertype"] == "trailing-stop" and o["trigger"] == "last", o
    kx_ok(kx_alice, "CancelOrder", {"txid": txid})


def conditional_close() -> None:
    r = trade.create_order(ordertype="limit", side="buy", volume="0.01", pair="XBTUSD", price="70000",
                           close_ordertype="stop-loss", close_price="-1000")
    assert r["descr"]["close"] == "close position @ stop loss -1000.0", r
    opening = r["txid"][0]
    # krakenex's nested close[...] form fields, as its users write them.
    r = kx_ok(kx_alice, "AddOrder", {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "price": "70000",
                                     "volume": "0.01", "close[ordertype]": "limit", "close[price]": "99000"})
    assert r["descr"]["close"] == "close position @ limit 99000.0", r
    second = r["txid"][0]
    # Bob (his bid gone, so no self-trade) sells into both: each places its close for 0.01.
    kx_ok(kx_bob, "CancelAll", {})
    kx_ok(kx_bob, "AddOrder", {"pair": "XBTUSD", "type": "sell", "ordertype": "market", "volume": "0.02"})
    open_orders = user.get_open_orders()["open"]
    closes = {o["refid"]: o for o in open_orders.values() if o["refid"]}
    assert closes[opening]["descr"]["order"] == "sell 0.01000000 XBTUSD @ stop loss 69000.0", closes
    assert closes[second]["descr"]["order"] == "sell 0.01000000 XBTUSD @ limit 99000.0", closes
    assert trade.cancel_all_orders()["count"] >= 2


for name, fn in [("krakenex stop-loss fires once", krakenex_stop_loss_fires),
                 ("python-kraken-sdk take-profit-limit on the index", sdk_take_profit_limit),
                 ("python-kraken-sdk trailing stops", sdk_trailing_stop_json),
                 ("a JSON trailing stop (ccxt's body)", krakenex_json_trailing),
                 ("conditional close from both clients", conditional_close)]:
    check(name, fn)
finish()

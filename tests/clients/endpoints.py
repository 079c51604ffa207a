"""AddOrderBatch, AmendOrder, OrderAmends, EditOrder, CancelOrderBatch, OpenPositions and
TradeVolume as real third-party Kraken clients use them.

python-kraken-sdk 3.5.1 (`Trade`, `User`) sends the batch methods as JSON bodies; krakenex 2.2.2
form-encodes everything, so its batch is Kraken's `orders[0][ordertype]=…` spelling. Both are
installed unchanged from PyPI and pointed at Calamari by their base URL only. The server runs
without call restrictions (`--limits off`); the trading counter's costs are tested in Rust.

Usage (tests/clients/run starts the server and passes its data directory):

    endpoints.py CALAMARI_BINARY DATA_DIR

Output: `PASS name` / `FAIL name: reason` per check, then `N passed, M failed`; non-zero exit
status on any failure.
"""
from __future__ import annotations

from kraken.exceptions import (KrakenInsufficientFundsError, KrakenInvalidArgumentsError, KrakenInvalidOrderError,
                               KrakenUnknownOrderError)
from kraken.spot import Trade, User

from common import Server, check, finish, kx_ok, raises

srv = Server.from_argv()
URL = srv.url

for name, usd, xbt in [("sdk", "20000", "1"), ("kx", "20000", "1"), ("taker", "0", "2")]:
    srv.open_account(name, ("USD", usd), ("XBT", xbt))
sdk_key, kx_key, taker_key = (srv.key(name, f"{name}-key") for name in ("sdk", "kx", "taker"))
trade = Trade(key=sdk_key[0], secret=sdk_key[1], url=URL)
user = User(key=sdk_key[0], secret=sdk_key[1], url=URL)
taker = Trade(key=taker_key[0], secret=taker_key[1], url=URL)
kx = srv.krakenex(kx_key)


def open_txids() -> set[str]:
    return set(user.get_open_orders()["open"].keys())


def sdk_batch() -> None:
    orders = [
        {"type": "buy", "ordertype": "limit", "volume": "0.01", "price": "20000"},
        {"type": "sell", "ordertype": "limit", "volume": "0.01", "price": "90000", "userref": 5},
    ]
    v = trade.create_order_batch(orders=orders, pair="XBTUSD", validate=True)
    assert v == {"orders": [{"descr": {"order": "buy 0.01000000 XBTUSD @ limit 20000.0"}},
                            {"descr": {"order": "sell 0.01000000 XBTUSD @ limit 90000.0"}}]}, v
    assert open_txids() == set(), "validate placed orders"
    v = trade.create_order_batch(orders=orders, pair="XBTUSD")
    txids = [o["txid"] for o in v["orders"]]
    assert len(txids) == 2 and all(isinstance(t, str) and t.startswith("O") for t in txids), v
    assert open_txids() == set(txids)


def sdk_batch_refused_whole() -> None:
    before = open_txids()
    bad = [{"type": "buy", "ordertype": "limit", "volume": "0.01", "price": "20000"},
           {"type": "buy", "ordertype": "nonsense", "volume": "0.01", "price": "20000"}]
    raises(KrakenInvalidArgumentsError, lambda: trade.create_order_batch(orders=bad, pair="XBTUSD"),
           "EGeneral:Invalid arguments:ordertype")
    assert open_txids() == before


def sdk_batch_funds_entry() -> None:
    orders = [{"type": "buy", "ordertype": "limit", "volume": "0.01", "price": "21000"},
              {"type": "buy", "ordertype": "limit", "volume": "50", "price": "21000"}]
    v = trade.create_order_batch(orders=orders, pair="XBTUSD")
    assert v["orders"][1] == {"error": "EOrder:Insufficient funds"}, v
    assert v["orders"][0]["txid"] in open_txids()


def sdk_amend_and_history() -> None:
    txid = trade.create_order(ordertype="limit", side="buy", pair="XBTUSD", volume="0.02", price="25000")["txid"][0]
    v = trade.amend_order(txid=txid, order_qty="0.015")
    assert set(v) == {"amend_id"} and v["amend_id"].startswith("T"), v
    trade.amend_order(txid=txid, limit_price="25500", post_only=True)
    order = user.get_orders_info(txid=txid)[txid]
    assert (order["vol"], order["descr"]["price"]) == ("0.01500000", "25500.0"), order
    h = user.get_order_amends(order_id=txid)
    assert h["count"] == 3 and [a["amend_type"] for a in h["amends"]] == ["original", "user", "user"], h
    assert h["amends"][1]["amend_id"] == v["amend_id"], h
    raises(KrakenInsufficientFundsError, lambda: trade.amend_order(txid=txid, order_qty="10"), "EOrder:Insufficient funds")
    raises(KrakenUnknownOrderError, lambda: trade.amend_order(txid="OAAAAA-AAAAA-AAAAAA", order_qty="0.01"),
           "EOrder:Unknown order")


def sdk_edit() -> None:
    # Above every other bid, so that the taker below fills this one.
    txid = trade.create_order(ordertype="limit", side="buy", pair="XBTUSD", volume="0.01", price="26000")["txid"][0]
    v = trade.edit_order(txid=txid, pair="XBTUSD", volume="0.02", price="26100")
    assert (v["status"], v["originaltxid"], v["volume"], v["price"], v["orders_cancelled"]) == \
        ("ok", txid, "0.02000000", "26100.0", 1), v
    assert v["descr"] == {"order": "buy 0.02000000 XBTUSD @ limit 26100.0"}, v
    assert v["txid"] in open_txids() and txid not in open_txids()
    taker.create_order(ordertype="market", side="sell", pair="XBTUSD", volume="0.01")
    raises(KrakenInvalidOrderError, lambda: trade.edit_order(txid=v["txid"], pair="XBTUSD", volume="0.005"),
           "EOrder:Invalid order")


def sdk_cancel_batch() -> None:
    mine = sorted(open_txids())
    assert len(mine) >= 3, mine
    v = trade.cancel_order_batch(orders=[mine[0], mine[1], "OAAAAA-AAAAA-AAAAAA"])
    assert v == {"count": 2}, v
    assert open_txids() == set(mine[2:])
    raises(KrakenUnknownOrderError, lambda: trade.cancel_order_batch(orders=[mine[0]]), "EOrder:Unknown order")


def sdk_trade_volume_and_positions() -> None:
    v = user.get_trade_volume(pair="XBTUSD")
    assert (v["currency"], v["volume"]) == ("ZUSD", "261.0000"), v  # one fill of 0.01 at 26100
    fees = v["fees"]["XXBTZUSD"]
    assert (fees["fee"], fees["tiervolume"], fees["nextvolume"]) == ("0.4000", "0.0000", "10000.0000"), v
    assert user.get_open_positions() == [], "consolidation=market (the SDK's default) is a list"


def kx_batch_form() -> None:
    data = {"pair": "XBTUSD"}
    for i, price in enumerate(["20000", "20500"]):
        data.update({f"orders[{i}][type]": "buy", f"orders[{i}][ordertype]": "limit",
                     f"orders[{i}][volume]": "0.01", f"orders[{i}][price]": price})
    v = kx_ok(kx, "AddOrderBatch", data)
    assert [o["descr"]["order"] for o in v["orders"]] == \
        ["buy 0.01000000 XBTUSD @ limit 20000.0", "buy 0.01000000 XBTUSD @ limit 20500.0"], v
    txids = [o["txid"] for o in v["orders"]]
    amend = kx_ok(kx, "AmendOrder", {"txid": txids[0], "order_qty": "0.005"})
    assert amend["amend_id"].startswith("T"), amend
    edit = kx_ok(kx, "EditOrder", {"txid": txids[1], "pair": "XBTUSD", "price": "20600", "validate": "False"})
    assert edit["originaltxid"] == txids[1] and edit["price"] == "20600.0", edit
    assert kx_ok(kx, "CancelOrderBatch", {"orders": f"{txids[0]},{edit['txid']}"}) == {"count": 2}
    assert kx_ok(kx, "OpenOrders")["open"] == {}
    assert kx_ok(kx, "OpenPositions") == {}
    assert kx_ok(kx, "OrderAmends", {"order_id": txids[0]})["count"] == 2


check("python-kraken-sdk create_order_batch: validate, then two orders placed", sdk_batch)
check("python-kraken-sdk create_order_batch: one invalid order refuses the batch, nothing placed", sdk_batch_refused_whole)
check("python-kraken-sdk create_order_batch: the engine's funds error on its own entry", sdk_batch_funds_entry)
check("python-kraken-sdk amend_order and get_order_amends", sdk_amend_and_history)
check("python-kraken-sdk edit_order: new txid; below the executed volume refused", sdk_edit)
check("python-kraken-sdk cancel_order_batch", sdk_cancel_batch)
check("python-kraken-sdk get_trade_volume and get_open_positions", sdk_trade_volume_and_positions)
check("krakenex AddOrderBatch (form), AmendOrder, EditOrder, CancelOrderBatch, OpenPositions, OrderAmends", kx_batch_form)
finish()

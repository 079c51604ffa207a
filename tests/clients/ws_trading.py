"""WebSocket API v2 trading as a real third-party client does it.

python-kraken-sdk 3.5.1, installed unchanged from PyPI: its SpotWSClient with a key (pointed at
Calamari by `rest_url`, `ws_url` and `auth_ws_url` only) fetches its token from REST
GetWebSocketsToken and sends add_order, amend_order, edit_order, cancel_order, cancel_all,
cancel_all_orders_after, batch_add and batch_cancel through its `send_message`, which adds the
token, as the SDK documents. Each ack is checked, and what it did is read back over REST with the
SDK's own `User` client.

Usage (tests/clients/run starts the server, market off, no call restrictions, and passes its data
directory):

    ws_trading.py CALAMARI_BINARY DATA_DIR

Output: `PASS name` / `FAIL name: reason` per check, then `N passed, M failed`; non-zero exit
status on any failure.
"""
from __future__ import annotations

import asyncio
import json
import time

from kraken.spot import SpotWSClient, User

from common import Server, check, finish

srv = Server.from_argv()
URL, WS = srv.url, srv.ws

srv.open_account("wsbot", ("USD", "100000"), ("XBT", "1"))
KEY, SECRET = srv.key("wsbot", "ws")
user = User(key=KEY, secret=SECRET, url=URL)


def order(txid: str) -> dict:
    time.sleep(0.002)
    return user.get_orders_info(txid=txid)[txid]


class Bot:
    def __init__(self) -> None:
        self.got: list[dict] = []
        self.req = 0
        self.client: SpotWSClient | None = None

    async def on_message(self, msg: dict) -> None:
        self.got.append(msg)

    async def start(self) -> None:
        self.client = SpotWSClient(key=KEY, secret=SECRET, callback=self.on_message, rest_url=URL, ws_url=WS,
                                   auth_ws_url=WS, no_public=True)
        await self.client.start()

    async def call(self, method: str, params: dict | None = None, acks: int = 1) -> list[dict]:
        """Sends one request through the SDK; its `acks` acks (matched by req_id)."""
        self.req += 1
        req = self.req
        message = {"method": method, "req_id": req}
        if params is not None:
            message["params"] = params
        await self.client.send_message(message=message)
        for _ in range(100):
            mine = [m for m in self.got if m.get("req_id") == req and m.get("method") == method]
            if len(mine) >= acks:
                return mine
            await asyncio.sleep(0.1)
        raise AssertionError(f"{method}: {len([m for m in self.got if m.get('req_id') == req])} of {acks} acks")


def ok(ack: dict) -> dict:
    assert ack.get("success") is True, ack
    assert ack.get("time_in", "").endswith("Z") and ack.get("time_out", "").endswith("Z"), ack
    return ack["result"]


async def trading() -> None:
    bot = Bot()
    await bot.start()
    limit = {"order_type": "limit", "side": "buy", "symbol": "BTC/USD"}

    [a] = await bot.call("add_order", {**limit, "order_qty": 0.0123, "limit_price": 20000.5, "order_userref": 11})
    r = ok(a)
    oid = r.get("order_id", "")
    o = order(oid) if oid else {}
    check("add_order: order_id and order_userref in the ack", len(oid) == 19 and r.get("order_userref") == 11, json.dumps(a))
    check("add_order: the order open over REST at the exact quantity and price",
          o.get("status") == "open" and o.get("vol") == "0.01230000" and o["descr"]["price"] == "20000.5", json.dumps(o)[:300])

    [a] = await bot.call("amend_order", {"order_id": oid, "order_qty": 0.02})
    r = ok(a)
    check("amend_order: amend_id, same order", r.get("amend_id", "").startswith("T") and r.get("order_id") == oid, json.dumps(a))
    check("amend_order: REST sees the new quantity", order(oid).get("vol") == "0.02000000", json.dumps(order(oid))[:300])

    [a] = await bot.call("edit_order", {"order_id": oid, "symbol": "BTC/USD", "order_qty": 0.03, "limit_price": 20100})
    r = ok(a)
    new = r.get("order_id", "")
    check("edit_order: a new order_id and the original's", len(new) == 19 and new != oid and r.get("original_order_id") == oid,
          json.dumps(a))
    check("edit_order: the original canceled, the new one open",
          order(oid).get("status") == "canceled" and order(new).get("vol") == "0.03000000", json.dumps(order(new))[:300])

    [a] = await bot.call("add_order", {**limit, "order_qty": 0.01, "limit_price": 19000, "cl_ord_id": "py-1"})
    second = ok(a)["order_id"]
    acks = await bot.call("cancel_order", {"order_id": [new, second]}, acks=2)
    check("cancel_order: one ack per order", [ok(x).get("order_id") for x in acks] == [new, second], json.dumps(acks))
    check("cancel_order: both canceled over REST", {order(new)["status"], order(second)["status"]} == {"canceled"}, "")

    [a] = await bot.call("batch_add", {"symbol": "BTC/USD", "orders": [
        {"order_type": "limit", "side": "buy", "order_qty": 0.01, "limit_price": 18000, "cl_ord_id": "py-b1"},
        {"order_type": "limit", "side": "sell", "order_qty": 0.01, "limit_price": 90000, "order_userref": 7},
    ]})
    r = ok(a)
    ids = [x.get("order_id") for x in r] if isinstance(r, list) else []
    check("batch_add: two order_ids in request order with their client ids",
          len(ids) == 2 and all(ids) and r[0].get("cl_ord_id") == "py-b1" and r[1].get("order_userref") == 7, json.dumps(a))
    [a] = await bot.call("batch_add", {"symbol": "BTC/USD", "orders": [
        {"order_type": "limit", "side": "buy", "order_qty": 0.01, "limit_price": 18000},
        {"order_type": "limit", "side": "buy", "order_qty": 0.01},
    ]})
    check("batch_add: one invalid order refuses the whole batch", a.get("success") is False and "EGeneral:Invalid arguments" in a.get("error", ""),
          json.dumps(a))
    check("batch_add: nothing placed by the refused batch", len(user.get_open_orders()["open"]) == 2, "")
    [a] = await bot.call("batch_cancel", {"orders": ids})
    check("batch_cancel: count", ok(a) == {"count": 2}, json.dumps(a))

    for price in (15000, 15001):
        await bot.call("add_order", {**limit, "order_qty": 0.01, "limit_price": price})
    [a] = await bot.call("cancel_all")
    check("cancel_all: count", ok(a) == {"count": 2}, json.dumps(a))

    [a] = await bot.call("cancel_all_orders_after", {"timeout": 60})
    r = ok(a)
    check("cancel_all_orders_after: currentTime and triggerTime",
          r.get("currentTime", "").endswith("Z") and r.get("triggerTime", "") > r.get("currentTime", ""), json.dumps(a))
    [a] = await bot.call("cancel_all_orders_after", {"timeout": 0})
    check("cancel_all_orders_after 0: disarmed", ok(a).get("triggerTime") == "0", json.dumps(a))

    [a] = await bot.call("add_order", {**limit, "order_qty": 100, "limit_price": 20000})
    check("add_order: insufficient funds", a.get("success") is False and a.get("error") == "EOrder:Insufficient funds", json.dumps(a))
    [a] = await bot.call("cancel_order", {"order_id": [oid]})
    check("cancel_order: unknown order", a.get("success") is False and a.get("error") == "EOrder:Unknown order", json.dumps(a))
    check("no open orders left", user.get_open_orders()["open"] == {}, "")
    await bot.client.close()


asyncio.run(trading())
finish()

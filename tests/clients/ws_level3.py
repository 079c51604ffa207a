"""WebSocket API v2 `level3` as a real third-party client sees it, on the live simulated market.

python-kraken-sdk 3.5.1, installed unchanged from PyPI: its level3 setting is the authenticated
URL (`auth_ws_url`, `wss://ws-l3.kraken.com` on Kraken; it appends `/v2` itself), here pointed at
Calamari with `rest_url` and `ws_url`, so the SDK fetches its token from REST GetWebSocketsToken
and adds it to the level3 subscription by itself. The script rebuilds BTC/USD's top 10 levels
order by order from the snapshot and the add/modify/delete events for a few seconds of the
simulated market, checks Kraken's level3 checksum on every message (formatted with the pair's
precisions from REST AssetPairs, as the SDK's own book client does for `book`), that no message
shows an account, userref or client order id, and that a later subscriber's snapshot agrees.

Usage (tests/clients/run passes the data directory of its market-on server):

    ws_level3.py CALAMARI_BINARY DATA_DIR

Output: `PASS name` / `FAIL name: reason` per check, then `N passed, M failed`; non-zero exit
status on any failure.
"""
from __future__ import annotations

import asyncio
import json
import zlib
from decimal import Decimal

from common import Server, check, finish
from kraken.spot import Market

SERVER = Server.from_argv()
URL = SERVER.url


def level3_params() -> dict:
    """BTC/USD's top 10 levels, the subscription both clients make: a new dict each time, since the
    SDK writes its token into the params it sends."""
    return {"channel": "level3", "symbol": ["BTC/USD"], "depth": 10}


def level3(got: list[dict]) -> list[dict]:
    """The level3 channel's messages (snapshot and updates) among what a client received."""
    return [m for m in got if m.get("channel") == "level3"]


class L3Book:
    """A level3 book as Kraken's guide keeps one: per side, price → [(order_id, qty)] in queue order."""

    def __init__(self, price_dp: int, qty_dp: int, depth: int) -> None:
        self.sides: dict[str, dict[Decimal, list[tuple[str, Decimal]]]] = {"bids": {}, "asks": {}}
        self.price_dp, self.qty_dp, self.depth = price_dp, qty_dp, depth

    def apply(self, msg: dict) -> bool:
        data = msg["data"][0]
        for key in ("bids", "asks"):
            side = self.sides[key]
            if msg["type"] == "snapshot":
                side.clear()
            for e in data[key]:
                price, qty = Decimal(str(e["limit_price"])), Decimal(str(e["order_qty"]))
                level = side.setdefault(price, [])
                ev = e.get("event", "add")
                if ev == "add":
                    level.append((e["order_id"], qty))
                elif ev == "modify":
                    level[[o for o, _ in level].index(e["order_id"])] = (e["order_id"], qty)
                else:
                    level.remove(next(x for x in level if x[0] == e["order_id"]))
            for p in [p for p, lvl in side.items() if not lvl]:
                del side[p]
            extra = len(side) - self.depth
            if extra > 0:  # Kraken: truncate to the subscribed depth after each message
                for p in (sorted(side) if key == "bids" else sorted(side, reverse=True))[:extra]:
                    del side[p]
        return self.checksum() == data["checksum"]

    def text(self, v: Decimal, dp: int) -> str:
        return f"{v:.{dp}f}".replace(".", "").lstrip("0")

    def checksum(self) -> int:
        s = ""
        for key, rev in (("asks", False), ("bids", True)):
            side = self.sides[key]
            for p in sorted(side, reverse=rev)[:10]:
                for _, q in side[p]:
                    s += self.text(p, self.price_dp) + self.text(q, self.qty_dp)
        return zlib.crc32(s.encode()) & 0xFFFFFFFF

    def orders(self) -> dict:
        return {k: {p: list(v) for p, v in side.items()} for k, side in self.sides.items()}


async def main() -> None:
    SERVER.cli("account", "create", "l3reader")
    key = SERVER.key("l3reader", "l3", "Access WebSockets API")
    info = Market(url=URL).get_asset_pairs(pair="XBTUSD")
    pair = next(iter(info.values()))
    price_dp, qty_dp = pair["pair_decimals"], pair["lot_decimals"]

    # Kraken's own level3 recipe for this SDK: a client of its own on the level3 URL.
    client, got = await SERVER.private_ws(key)
    await client.subscribe(params=level3_params())
    # At least 6 s of the live market, and until a snapshot and two updates came (the simulator's
    # pace decides how soon the top 10 levels change: up to 30 s on a loaded machine).
    await asyncio.sleep(6)
    for _ in range(48):
        if len(level3(got)) >= 3:
            break
        await asyncio.sleep(0.5)
    acks = [m for m in got if m.get("method") == "subscribe"]
    check("level3 subscribe ack", len(acks) == 1 and acks[0]["success"]
          and acks[0]["result"] == {"channel": "level3", "symbol": "BTC/USD", "depth": 10, "snapshot": True},
          json.dumps(acks)[:400])
    l3 = level3(got)
    check("a snapshot first, then updates", bool(l3) and l3[0]["type"] == "snapshot" and
          all(m["type"] == "update" for m in l3[1:]) and len(l3) >= 3, f"{len(l3)} messages: {json.dumps(l3[:2])[:400]}")
    book = L3Book(price_dp, qty_dp, 10)
    bad = [i for i, m in enumerate(l3) if not book.apply(m)]
    check("Kraken's level3 checksum holds on every message", not bad and len(l3) > 0,
          f"{len(bad)} of {len(l3)} failed, first at {bad[:1]}")
    orders = [o for m in l3 for k in ("bids", "asks") for o in m["data"][0][k]]
    fields = {tuple(sorted(o)) for o in orders}
    check("orders show only id, price, quantity, time (and the event)",
          fields <= {("limit_price", "order_id", "order_qty", "timestamp"),
                     ("event", "limit_price", "order_id", "order_qty", "timestamp")} and bool(orders), str(fields))
    check("public order ids", all(len(o["order_id"]) == 19 and o["order_id"][0] == "O" for o in orders), "")
    events = {o.get("event") for m in l3[1:] for k in ("bids", "asks") for o in m["data"][0][k]}
    check("the live market adds and deletes orders", {"add", "delete"} <= events, str(events))
    levels = {k: len(v) for k, v in book.sides.items()}
    check("the rebuilt book holds 10 levels a side", levels == {"bids": 10, "asks": 10}, str(levels))

    # A second client subscribing now gets the publisher's picture: it agrees with the first
    # client's book as soon as both have read the same messages (compared at the next quiet moment).
    client2, got2 = await SERVER.private_ws(key)
    await client2.subscribe(params=level3_params())
    await asyncio.sleep(2)
    book2 = L3Book(price_dp, qty_dp, 10)
    l3b = level3(got2)
    ok2 = all(book2.apply(m) for m in l3b)
    # Replay the first client's stream up to its message whose checksum and time match the second's last.
    last = l3b[-1]["data"][0] if l3b else {}
    book.__init__(price_dp, qty_dp, 10)
    same = False
    for m in level3(got):
        book.apply(m)
        if m["data"][0]["timestamp"] == last.get("timestamp") and m["data"][0]["checksum"] == last.get("checksum"):
            same = book.orders() == book2.orders()
    check("a later subscriber's book agrees with the first's", ok2 and same, f"{len(l3b)} messages, checksums ok: {ok2}")

    await client.unsubscribe(params=level3_params())
    await asyncio.sleep(0.5)
    unsub = [m for m in got if m.get("method") == "unsubscribe"]
    check("unsubscribe ack", len(unsub) == 1 and unsub[0]["success"], json.dumps(unsub)[:300])
    errors = [m for m in got + got2 if m.get("error")]
    check("no errors", not errors, json.dumps(errors)[:400])
    await client.close()
    await client2.close()


asyncio.run(main())
finish()

"""WebSocket API v2 public feeds as a real third-party client sees them.

python-kraken-sdk 3.5.1, installed unchanged from PyPI: its SpotWSClient (pointed at Calamari by
its `ws_url` and `rest_url` only) subscribes to every public channel, and its SpotOrderBookClient
(which takes no URL: the class defaults are set to Calamari's before it is made) keeps two books
for ~20 s of the live simulated market, validating Kraken's CRC32 checksum on every update. The
same 20 s show an idle-but-pinging socket staying open.

Usage (tests/clients/run starts the server with the market on and passes its data directory):

    ws.py CALAMARI_BINARY DATA_DIR

Output: `PASS name` / `FAIL name: reason` per check, then `N passed, M failed`; non-zero exit
status on any failure.
"""
from __future__ import annotations

import asyncio
import json

import kraken.base_api
import kraken.spot.websocket
from kraken.spot import SpotOrderBookClient, SpotWSClient

from common import Server, check, finish

srv = Server.from_argv()
URL, WS = srv.url, srv.ws


async def public_channels() -> None:
    got: list[dict] = []

    async def on_message(msg: dict) -> None:
        got.append(msg)

    client = SpotWSClient(callback=on_message, rest_url=URL, ws_url=WS)
    await client.start()
    await client.subscribe(params={"channel": "instrument"})
    await client.subscribe(params={"channel": "book", "symbol": ["BTC/USD", "ETH/USD"], "depth": 25})
    await client.subscribe(params={"channel": "ticker", "symbol": ["BTC/USD"]})
    await client.subscribe(params={"channel": "ticker", "symbol": ["ETH/USD"], "event_trigger": "bbo"})
    await client.subscribe(params={"channel": "trade", "symbol": ["BTC/USD"], "snapshot": True})
    await client.subscribe(params={"channel": "ohlc", "symbol": ["BTC/USD"], "interval": 1})
    await asyncio.sleep(8)
    await client.close()

    status = [m for m in got if m.get("channel") == "status"]
    check("status on connect", bool(status) and status[0]["data"][0]["system"] == "online", str(status[:1]))
    acks = [m for m in got if m.get("method") == "subscribe"]
    check("one successful ack per symbol", len(acks) == 7 and all(a["success"] for a in acks), json.dumps(acks)[:400])
    check("acks name v2 symbols", {a["result"].get("symbol") for a in acks} >= {"BTC/USD", "ETH/USD"}, json.dumps(acks)[:400])
    check("pong", any(m.get("method") == "pong" for m in got), "no pong to the SDK's ping")
    for channel in ("instrument", "book", "ticker", "trade", "ohlc"):
        snaps = [m for m in got if m.get("channel") == channel and m.get("type") == "snapshot"]
        check(f"{channel} snapshot", bool(snaps), "none")
    books = [m for m in got if m.get("channel") == "book" and m.get("type") == "update"]
    check("book updates from the live market", len(books) >= 3, f"{len(books)} updates")
    check("book updates carry a checksum", all(isinstance(m["data"][0]["checksum"], int) for m in books), "")
    errors = [m for m in got if m.get("error")]
    check("no errors", not errors, json.dumps(errors)[:400])


async def order_books() -> None:
    # SpotOrderBookClient takes no URL: point the SDK's class defaults at Calamari.
    kraken.base_api.SpotClient.URL = URL
    kraken.spot.websocket.SpotWSClientBase.WS_URL = WS
    mismatches: list[str] = []
    updates: dict[str, int] = {}

    async def on_book(pair: str, message: dict) -> None:
        if "error" in message:
            mismatches.append(message["error"])
        else:
            updates[pair] = updates.get(pair, 0) + 1

    client = SpotOrderBookClient(depth=10, callback=on_book)
    await client.start()
    await client.add_book(pairs=["BTC/USD", "ETH/USD"])
    await asyncio.sleep(20)
    book = client.get("BTC/USD") or {}
    alive = not client.exception_occur
    await client.close()
    check("SpotOrderBookClient: no checksum mismatch over 20 s", not mismatches, "; ".join(mismatches[:3]))
    check("SpotOrderBookClient: both books updated", all(updates.get(p, 0) >= 5 for p in ("BTC/USD", "ETH/USD")), str(updates))
    check("SpotOrderBookClient: a full 10-level book", len(book.get("bid", {})) == 10 and len(book.get("ask", {})) == 10, str(book)[:300])
    check("socket alive after 20 s", alive, "the client saw an exception")


async def main() -> None:
    await public_channels()
    await order_books()


asyncio.run(main())
finish()

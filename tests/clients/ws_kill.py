"""Kill -9 with WebSocket clients connected: python-kraken-sdk 3.5.1 (unchanged) reconnects and
resubscribes by itself, and what it rebuilds agrees with REST after the restart.

The script runs its own server (the simulated market on, no call restrictions) on a fresh data
directory, connects a SpotWSClient (book and trade on BTC/USD), a SpotOrderBookClient (BTC/USD,
depth 10; its class defaults pointed at Calamari) and, when the server serves the private
`executions` channel, a private SpotWSClient (executions with snap_orders) for an account holding
an open order. Then it kills the server with SIGKILL, restarts it on the same data directory and
port, and checks: every client resubscribed by itself (a new ack and snapshot after the restart);
the order book client never saw a checksum mismatch (its book, kept across the reconnect and
merged with the new snapshot, shows nothing the restarted server lost); with the simulated traders
paused, its book equals REST Depth's top 10; the executions snapshot after the restart lists the
same open orders as REST OpenOrders.

Usage (tests/clients/run):

    ws_kill.py CALAMARI_BINARY WORK_DIR

Output: `PASS name` / `FAIL name: reason` / `SKIP name: reason` per check, then
`N passed, M failed`; non-zero exit status on any failure.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import kraken.base_api
import kraken.spot.websocket
from kraken.spot import SpotOrderBookClient, SpotWSClient, Trade, User

from common import Server, check, finish, skip, wait_for

BIN, WORK = sys.argv[1], sys.argv[2]
DIR = os.path.join(WORK, "data")
cli = Server(BIN, DIR).cli
server: subprocess.Popen | None = None


def start(listen: str, n: int) -> tuple[str, float]:
    """Starts the server on DIR (output in WORK/server-N.log); its URL and seconds to listen."""
    global server
    os.makedirs(DIR, exist_ok=True)
    if os.path.exists(f"{DIR}/server.json"):
        os.remove(f"{DIR}/server.json")
    path = os.path.join(WORK, f"server-{n}.log")
    log = open(path, "w")
    t0 = time.monotonic()
    server = subprocess.Popen(
        [BIN, "--data-dir", DIR, "serve", "--listen", listen, "--limits", "off", "--market", "on"], stdout=log, stderr=log
    )
    while time.monotonic() - t0 < 30:
        text = open(path).read()
        m = re.search(r"listening on (http://\S+)", text)
        if m:
            return m.group(1), time.monotonic() - t0
        if server.poll() is not None:
            raise SystemExit(f"the server exited: {text[-2000:]}")
        time.sleep(0.05)
    raise SystemExit("the server did not start within 30 s")


def depth(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/0/public/Depth?pair=XBTUSD&count=10") as r:
        return json.load(r)["result"]["XXBTZUSD"]


async def main() -> None:
    os.makedirs(WORK, exist_ok=True)
    url, _ = start("127.0.0.1:0", 1)
    ws = url.replace("http://", "ws://")
    k = re.search(r"API key:\s+(\S+)\s+API secret:\s+(\S+)", open(os.path.join(WORK, "server-1.log")).read())
    key, secret = k.group(1), k.group(2)
    await wait_for(lambda: bool(depth(url)["bids"]), 15)

    # An open order far from the market, for the executions snapshot.
    bid = float(depth(url)["bids"][0][0])
    Trade(key=key, secret=secret, url=url).create_order(
        ordertype="limit", side="buy", pair="XBTUSD", volume="0.001", price=str(round(bid * 0.8))
    )

    got: list[dict] = []

    async def on_public(msg: dict) -> None:
        got.append(msg)

    public = SpotWSClient(callback=on_public, rest_url=url, ws_url=ws)
    await public.start()
    await public.subscribe(params={"channel": "book", "symbol": ["BTC/USD"], "depth": 10})
    await public.subscribe(params={"channel": "trade", "symbol": ["BTC/USD"]})

    kraken.base_api.SpotClient.URL = url
    kraken.spot.websocket.SpotWSClientBase.WS_URL = ws
    mismatches: list[str] = []

    async def on_book(pair: str, message: dict) -> None:
        if "error" in message:
            mismatches.append(message["error"])

    books = SpotOrderBookClient(depth=10, callback=on_book)
    await books.start()
    await books.add_book(pairs=["BTC/USD"])

    private_got: list[dict] = []
    private: SpotWSClient | None = None
    try:
        User(key=key, secret=secret, url=url).request(method="POST", uri="/0/private/GetWebSocketsToken")
        tokens = True
    except Exception as e:  # noqa: BLE001
        tokens, why = False, f"no WebSocket tokens ({type(e).__name__})"

    async def on_private(msg: dict) -> None:
        private_got.append(msg)

    if tokens:
        private = SpotWSClient(key=key, secret=secret, callback=on_private, rest_url=url, ws_url=ws, auth_ws_url=ws, no_public=True)
        await private.start()
        await private.subscribe(params={"channel": "executions", "snap_orders": True})
        await wait_for(lambda: any(m.get("method") == "subscribe" for m in private_got), 5)
        acks = [m for m in private_got if m.get("method") == "subscribe"]
        if not (acks and acks[0].get("success")):
            why = f"executions not served: {json.dumps(acks[:1])[:200]}"
            await private.close()
            private = None

    def snapshots(channel: str) -> int:
        return sum(1 for m in got if m.get("channel") == channel and m.get("type") == "snapshot")

    await wait_for(lambda: snapshots("book") >= 1 and bool(books.get("BTC/USD")), 10)
    await asyncio.sleep(3)
    before = {"book": snapshots("book"), "acks": sum(1 for m in got if m.get("method") == "subscribe"), "private": len(private_got)}

    # SIGKILL, then the same data directory on the same port.
    port = url.rsplit(":", 1)[1]
    server.kill()
    server.wait()
    killed_at = time.monotonic()
    url2, took = start(f"127.0.0.1:{port}", 2)
    check("restarted on the same port", url2 == url, f"{url2} != {url}")
    print(f"# restart: listening {took:.2f} s after start", flush=True)

    resubscribed = await wait_for(
        lambda: snapshots("book") > before["book"] and sum(1 for m in got if m.get("method") == "subscribe") >= before["acks"] + 2, 30
    )
    print(f"# SpotWSClient resubscribed {time.monotonic() - killed_at:.1f} s after the kill", flush=True)
    check("SpotWSClient reconnects and resubscribes (book and trade acks, a new book snapshot)", resubscribed, f"{before} -> {len(got)} messages")
    new_acks = [m for m in got if m.get("method") == "subscribe"][before["acks"] :]
    check("the resubscriptions succeed", bool(new_acks) and all(a.get("success") for a in new_acks), json.dumps(new_acks)[:300])

    # Pause the simulated traders so REST and the feed hold still, then compare.
    await asyncio.sleep(2)
    cli("market", "off")
    await asyncio.sleep(2)
    book = books.get("BTC/USD") or {}
    rest = depth(url)
    diff = []
    for side, rside in (("bid", "bids"), ("ask", "asks")):
        mine = sorted(((float(p), float(v[0] if isinstance(v, (tuple, list)) else v)) for p, v in book.get(side, {}).items()), reverse=(side == "bid"))
        theirs = [(float(p), float(v)) for p, v, _ in rest[rside]]
        if len(mine) != len(theirs):
            diff.append(f"{side}: {len(mine)} levels vs REST {len(theirs)}")
        diff += [f"{side} {m} vs REST {t}" for m, t in zip(mine, theirs) if m[0] != t[0] or abs(m[1] - t[1]) > 0.001 + 1e-9]
    check("SpotOrderBookClient: book equal to REST Depth after the restart", not diff, "; ".join(diff[:4]))
    check("SpotOrderBookClient: no checksum mismatch across the kill", not mismatches, "; ".join(mismatches[:3]))
    check("SpotOrderBookClient: no exception", not books.exception_occur, "the client saw an exception")

    if private is None:
        skip("executions resubscribed and equal to REST OpenOrders after the restart", why)
    else:
        ok = await wait_for(lambda: any(m.get("channel") == "executions" and m.get("type") == "snapshot" for m in private_got[before["private"] :]), 15)
        snaps_after = [m for m in private_got[before["private"] :] if m.get("channel") == "executions" and m.get("type") == "snapshot"]
        open_rest = set(User(key=key, secret=secret, url=url).get_open_orders()["open"].keys())
        open_ws = {o["order_id"] for m in snaps_after for o in m["data"] if o.get("exec_type") != "trade"}
        check("executions resubscribed after the restart", ok, "no executions snapshot after the restart")
        check("executions snapshot equal to REST OpenOrders", open_ws == open_rest and bool(open_rest), f"WS {open_ws} REST {open_rest}")
        await private.close()

    await public.close()
    await books.close()
    with urllib.request.urlopen(f"{url}/metrics") as r:
        panics = [l for l in r.read().decode().splitlines() if l.startswith("calamari_panics_total")]
    check("no panics", bool(panics) and all(l.split()[-1] in ("0", "0.0") for l in panics), str(panics))


try:
    asyncio.run(main())
finally:
    if server is not None and server.poll() is None:
        server.terminate()
        server.wait(timeout=30)
finish()

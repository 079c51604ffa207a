"""The executions events the engine reports itself, and `ratecounter`, as a real client sees them.

python-kraken-sdk 3.5.1, installed unchanged from PyPI: an authenticated SpotWSClient (pointed at
Calamari by its `rest_url`, `ws_url` and `auth_ws_url` only) subscribes to `executions` with
`ratecounter: true` on a server with Kraken's call restrictions; the SDK's REST Trade client then
places an iceberg that a second account takes from (one refill) and amends another order twice.
Checks: the ack's `maxratecount` (Intermediate: 125), `iceberg_refill` between the two fills with
`display_qty_remain`, one `amended` per AmendOrder with its own quantity, and every update's
`ratecount` (the account's trading counter on XBTUSD: never above the threshold, rising with the
amends). The SDK strips `maxratecount` before it replays a subscription, so the ack must carry it
only there.

Usage (tests/clients/run passes the `trading` server's data directory, after restrictions.py):

    ws_exec_events.py CALAMARI_BINARY DATA_DIR

Output: `PASS name` / `FAIL name: reason` per check, then `N passed, M failed`; non-zero exit
status on any failure.
"""
from __future__ import annotations

import asyncio
import json

from kraken.spot import Trade

from common import Server, check, execs, finish, wait_for_message

srv = Server.from_argv()
URL = srv.url


async def main() -> None:
    alice = srv.trader("execev-alice", ("USD", "100000"), ("XBT", "10"), key_name="ws")
    bob = srv.trader("execev-bob", ("USD", "100000"), ("XBT", "10"), key_name="ws")
    client, got = await srv.private_ws(alice)
    await client.subscribe(params={"channel": "executions", "snap_orders": False, "ratecounter": True})
    await wait_for_message(got, lambda m: m.get("method") == "subscribe")
    ack = next((m for m in got if m.get("method") == "subscribe"), {})
    check("ack: success, ratecounter, maxratecount 125 (Intermediate)",
          ack.get("success") is True and ack["result"].get("ratecounter") is True and ack["result"].get("maxratecount") == 125,
          json.dumps(ack))

    trade_a, trade_b = Trade(key=alice[0], secret=alice[1], url=URL), Trade(key=bob[0], secret=bob[1], url=URL)
    ice = trade_a.create_order(ordertype="iceberg", side="sell", pair="XBTUSD", volume="1", price="60000", displayvol="0.1")["txid"][0]
    trade_b.create_order(ordertype="limit", side="buy", pair="XBTUSD", volume="0.15", price="60000")
    await wait_for_message(got, lambda m: len([e for e in execs(got, ice) if e["exec_type"] == "trade"]) == 2)
    ev = execs(got, ice)
    check("iceberg: pending_new, new, trade, iceberg_refill, trade",
          [e["exec_type"] for e in ev] == ["pending_new", "new", "trade", "iceberg_refill", "trade"], json.dumps(ev)[:800])
    refill = next((e for e in ev if e["exec_type"] == "iceberg_refill"), {})
    check("the refill: display_qty 0.1, display_qty_remain 0.1, cum_qty 0.1, partially_filled",
          (refill.get("display_qty"), refill.get("display_qty_remain"), refill.get("cum_qty"), refill.get("order_status"))
          == (0.1, 0.1, 0.1, "partially_filled"), json.dumps(refill))

    txid = trade_a.create_order(ordertype="limit", side="buy", pair="XBTUSD", volume="0.01", price="50000")["txid"][0]
    trade_a.amend_order(txid=txid, order_qty="0.02")
    trade_a.amend_order(txid=txid, order_qty="0.03", limit_price="50100")
    await wait_for_message(got, lambda m: len([e for e in execs(got, txid) if e["exec_type"] == "amended"]) == 2)
    am = [e for e in execs(got, txid) if e["exec_type"] == "amended"]
    check("one amended per AmendOrder, each with its own figures",
          [(e.get("order_qty"), e.get("limit_price")) for e in am] == [(0.02, 50000), (0.03, 50100)], json.dumps(am)[:600])
    counts = [e.get("ratecount") for m in got if m.get("channel") == "executions" and m.get("type") == "update" for e in m["data"]]
    check("every update carries ratecount, an integer within the threshold",
          counts and all(isinstance(c, int) and 0 <= c <= 125 for c in counts), json.dumps(counts))
    check("the amends raise the counter (+1 and the young-order penalty each)",
          am and am[-1]["ratecount"] >= 4, json.dumps(am)[:600])
    errors = [m for m in got if m.get("error")]
    check("no errors", not errors, json.dumps(errors)[:400])
    await client.close()


asyncio.run(main())
finish()

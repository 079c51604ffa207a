"""WebSocket API v2 private channels as a real third-party client sees them.

python-kraken-sdk 3.5.1, installed unchanged from PyPI: an authenticated SpotWSClient (pointed at
Calamari by its `rest_url`, `ws_url` and `auth_ws_url` only; it fetches its token from REST
GetWebSocketsToken by itself) subscribes to `executions` (open orders and last fills in the
snapshot) and `balances` while orders are placed, filled and canceled through the SDK's REST
Trade client: the exec sequence, the fill's figures and the balance updates must match REST.

Usage (tests/clients/run starts a quiet server, market off, and passes its data directory):

    ws_private.py CALAMARI_BINARY DATA_DIR

Output: `PASS name` / `FAIL name: reason` per check, then `N passed, M failed`; non-zero exit
status on any failure.
"""
from __future__ import annotations

import asyncio
import json

from kraken.spot import Trade, User

from common import Server, check, execs, finish, wait_for_message

srv = Server.from_argv()
URL = srv.url


async def main() -> None:
    alice = srv.trader("alice", ("USD", "10000"), ("XBT", "1"), key_name="ws")
    bob = srv.trader("bob", ("USD", "10000"), ("XBT", "1"), key_name="ws")
    client, got = await srv.private_ws(alice)
    await client.subscribe(params={"channel": "executions", "snap_orders": True, "snap_trades": True})
    await client.subscribe(params={"channel": "balances"})
    ok = await wait_for_message(got, lambda m: m.get("channel") == "balances" and m.get("type") == "snapshot")
    acks = [m for m in got if m.get("method") == "subscribe"]
    check("private acks succeed", len(acks) == 2 and all(a["success"] for a in acks), json.dumps(acks)[:400])
    check("acks never echo the token", all("token" not in a.get("result", {}) for a in acks), json.dumps(acks)[:400])
    snaps = [m for m in got if m.get("channel") == "executions" and m.get("type") == "snapshot"]
    check("executions snapshots: orders, then trades (empty)", [len(s["data"]) for s in snaps] == [0, 0], json.dumps(snaps)[:400])
    bal = next((m for m in got if m.get("channel") == "balances"), {})
    by_asset = {d["asset"]: d["balance"] for d in bal.get("data", [])}
    check("balances snapshot", ok and by_asset == {"USD": 10000, "BTC": 1}, json.dumps(bal)[:400])

    trade_a, trade_b = Trade(key=alice[0], secret=alice[1], url=URL), Trade(key=bob[0], secret=bob[1], url=URL)
    r = trade_a.create_order(ordertype="limit", side="buy", volume="0.01", pair="XBTUSD", price="50000")
    txid = r["txid"][0]
    await wait_for_message(got, lambda m: any(e["exec_type"] == "new" for e in execs([m], txid)))
    check("pending_new then new", [e["exec_type"] for e in execs(got, txid)] == ["pending_new", "new"],
          json.dumps(execs(got, txid))[:400])
    trade_b.create_order(ordertype="market", side="sell", volume="0.01", pair="XBTUSD")
    await wait_for_message(got, lambda m: any(e["exec_type"] == "filled" for e in execs([m], txid)))
    await asyncio.sleep(0.5)
    ev = execs(got, txid)
    check("trade then filled", [e["exec_type"] for e in ev] == ["pending_new", "new", "trade", "filled"], json.dumps(ev)[:600])
    fill = next((e for e in ev if e["exec_type"] == "trade"), {})
    rest = User(key=alice[0], secret=alice[1], url=URL).get_trades_history()["trades"]
    tid, t = next(iter(rest.items()))
    check("the fill is REST's trade", fill.get("exec_id") == tid and fill.get("last_qty") == 0.01
          and fill.get("last_price") == float(t["price"]) and fill.get("liquidity_ind") == "m", json.dumps(fill))
    updates = [d for m in got if m.get("channel") == "balances" and m.get("type") == "update" for d in m["data"]]
    ledgers = User(key=alice[0], secret=alice[1], url=URL).get_ledgers_info(type_="trade")["ledger"]
    check("one balances update per ledger entry, same figures",
          len(updates) == len(ledgers) and all(
              u["ledger_id"] in ledgers and float(ledgers[u["ledger_id"]]["balance"]) == u["balance"] for u in updates),
          json.dumps(updates)[:400] + " vs " + json.dumps(ledgers)[:400])

    r = trade_a.create_order(ordertype="limit", side="buy", volume="0.02", pair="XBTUSD", price="40000")
    second = r["txid"][0]
    await wait_for_message(got, lambda m: any(e["exec_type"] == "new" for e in execs([m], second)))
    trade_a.cancel_order(txid=second)
    await wait_for_message(got, lambda m: any(e["exec_type"] == "canceled" for e in execs([m], second)))
    c = [e for e in execs(got, second) if e["exec_type"] == "canceled"]
    check("canceled with its reason", len(c) == 1 and c[0]["reason"] == "User requested" and c[0]["order_status"] == "canceled",
          json.dumps(execs(got, second))[:400])
    bob_ids = {o for o in User(key=bob[0], secret=bob[1], url=URL).get_closed_orders()["closed"]}
    check("bob's orders never reach alice", not any(d.get("order_id") in bob_ids for m in got for d in m.get("data", [])
                                                    if isinstance(d, dict)), "")
    errors = [m for m in got if m.get("error")]
    check("no errors", not errors, json.dumps(errors)[:400])
    await client.close()


asyncio.run(main())
finish()

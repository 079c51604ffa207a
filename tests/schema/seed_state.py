"""Gives the server something to show before schemathesis runs: a second account rests a sell,
the tested account trades against it (a partial fill, a market order), keeps an open order and
cancels another. So OpenOrders, ClosedOrders, TradesHistory, Ledgers and the public market data
answer with real entries whose shapes the schema checks, and the Query* methods get real ids.

Usage: seed_state.py URL MAKER_KEY MAKER_SECRET IDS_OUT   (the tested key in KRAKEN_KEY/SECRET)
Writes the ids it saw to IDS_OUT (JSON: orders, trades, ledgers) for kraken_hooks.py.
"""

import json
import sys
import urllib.parse

import requests

from kraken_hooks import SIGNER, KrakenSigner

url, maker_key, maker_secret, ids_out = sys.argv[1:5]
MAKER = KrakenSigner(maker_key, maker_secret)


def call(signer, method, **fields):
    body = urllib.parse.urlencode({**fields, "nonce": "0"})  # the signer sets the nonce
    r = requests.post(f"{url}/0/private/{method}", data=body, auth=signer, timeout=30,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    answer = r.json()
    if answer.get("error"):
        sys.exit(f"seed: {method} {fields}: {answer['error']}")
    return answer["result"]


call(MAKER, "AddOrder", pair="XBTUSD", type="sell", ordertype="limit", price="30000.0", volume="0.01")
call(SIGNER, "AddOrder", pair="XBTUSD", type="buy", ordertype="limit", price="30000.0", volume="0.004")
call(SIGNER, "AddOrder", pair="XBTUSD", type="buy", ordertype="market", volume="0.002", oflags="fcib")
call(SIGNER, "AddOrder", pair="XBTUSD", type="buy", ordertype="limit", price="20000.0", volume="0.001", userref="42",
     cl_ord_id="seed-open")
gone = call(SIGNER, "AddOrder", pair="XBTUSD", type="buy", ordertype="limit", price="21000.0", volume="0.001")["txid"][0]
call(SIGNER, "CancelOrder", txid=gone)

orders = list(call(SIGNER, "OpenOrders")["open"]) + list(call(SIGNER, "ClosedOrders")["closed"])
trades = list(call(SIGNER, "TradesHistory")["trades"])
ledgers = list(call(SIGNER, "Ledgers")["ledger"])
json.dump({"orders": orders, "trades": trades, "ledgers": ledgers}, open(ids_out, "w"))
print(f"# seeded: {len(orders)} orders, {len(trades)} trades, {len(ledgers)} ledger entries")

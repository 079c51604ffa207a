"""Gives the server something to show before schemathesis runs: a second account rests a sell,
the tested account trades against it (a partial fill, a market order), keeps an open order and
cancels another. So OpenOrders, ClosedOrders, TradesHistory, Ledgers and the public market data
answer with real entries whose shapes the schema checks, and the Query* methods get real ids.
With CALAMARI_BIN and CALAMARI_DATA set (tests/schema/run sets them) it also plays the chain and
the operator through the CLI: a deposit waiting for confirmations, an address-book entry, a
withdrawal and a canceled one, and a ledger export, so that DepositStatus, WithdrawStatus,
WithdrawAddresses and ExportStatus answer with records too.

Usage: seed_state.py URL MAKER_KEY MAKER_SECRET IDS_OUT   (the tested key in KRAKEN_KEY/SECRET)
Writes the ids it saw to IDS_OUT (JSON: orders, trades, ledgers) for kraken_hooks.py.
"""

import json
import os
import subprocess
import sys
import time
import urllib.parse

import requests

from kraken_hooks import SIGNER, KrakenSigner

url, maker_key, maker_secret, ids_out = sys.argv[1:5]
MAKER = KrakenSigner(maker_key, maker_secret)


def call(signer, method, /, **fields):  # positional: DepositAddresses has a `method` field
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
# userref and cl_ord_id are mutually exclusive (Kraken's rule): one open order with each.
call(SIGNER, "AddOrder", pair="XBTUSD", type="buy", ordertype="limit", price="20000.0", volume="0.001", userref="42")
call(SIGNER, "AddOrder", pair="XBTUSD", type="buy", ordertype="limit", price="20000.0", volume="0.001", cl_ord_id="seed-open")
# The order flags' shapes in the views: an iceberg, a GTD order, a pending (scheduled) one.
call(SIGNER, "AddOrder", pair="XBTUSD", type="sell", ordertype="iceberg", price="40000.0", volume="0.15", displayvol="0.01")
call(SIGNER, "AddOrder", pair="XBTUSD", type="buy", ordertype="limit", price="19000.0", volume="0.001", timeinforce="GTD",
     expiretm="+3600")
call(SIGNER, "AddOrder", pair="XBTUSD", type="buy", ordertype="limit", price="19000.0", volume="0.001", starttm="+3600")
# Triggered orders' shapes: an untriggered trailing stop (its offset in descr.price), a
# stop-loss-limit buy, and an order with a conditional close (descr.close).
call(SIGNER, "AddOrder", pair="XBTUSD", type="sell", ordertype="trailing-stop", price="+5%", volume="0.001")
call(SIGNER, "AddOrder", pair="XBTUSD", type="buy", ordertype="stop-loss-limit", price="90000.0", price2="90100.0",
     volume="0.001", trigger="index")
call(SIGNER, "AddOrder", pair="XBTUSD", type="buy", ordertype="limit", price="20000.0", volume="0.001",
     **{"close[ordertype]": "take-profit", "close[price]": "+1000"})
gone = call(SIGNER, "AddOrder", pair="XBTUSD", type="buy", ordertype="limit", price="21000.0", volume="0.001")["txid"][0]
call(SIGNER, "CancelOrder", txid=gone)

calamari, data = os.environ.get("CALAMARI_BIN"), os.environ.get("CALAMARI_DATA")
if calamari and data:
    def cli(*args):
        subprocess.run([calamari, "--data-dir", data, *args], check=True, capture_output=True)

    address = call(SIGNER, "DepositAddresses", asset="XBT", method="Bitcoin")[0]["address"]
    cli("chain", "deposit", address, "0.1")
    cli("address-book", "add", "schema", "seed", "--asset", "XBT", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")
    call(SIGNER, "Withdraw", asset="XBT", key="seed", amount="0.02")
    canceled = call(SIGNER, "Withdraw", asset="XBT", key="seed", amount="0.01")["refid"]
    call(SIGNER, "WithdrawCancel", asset="XBT", refid=canceled)
    call(SIGNER, "AddExport", report="ledgers", description="seed")
    time.sleep(0.5)

orders = list(call(SIGNER, "OpenOrders")["open"]) + list(call(SIGNER, "ClosedOrders")["closed"])
trades = list(call(SIGNER, "TradesHistory")["trades"])
ledgers = list(call(SIGNER, "Ledgers")["ledger"])
json.dump({"orders": orders, "trades": trades, "ledgers": ledgers}, open(ids_out, "w"))
print(f"# seeded: {len(orders)} orders, {len(trades)} trades, {len(ledgers)} ledger entries")

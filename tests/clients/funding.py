"""Funding and exports as real third-party Kraken clients see them.

python-kraken-sdk 3.5.1 (its `Funding` client, and `User` for exports and subaccounts) and
krakenex 2.2.2, installed unchanged from PyPI, pointed at Calamari by their base URL only. The
server runs on its test clock (`CALAMARI_TEST_CLOCK=1`): the script moves it with the admin
interface's `/admin/clock/advance`, and plays the chain and the operator with the `calamari` CLI
(`chain deposit`, `chain fail`, `address-book add`).

Usage (tests/clients/run starts the server and passes its data directory):

    funding.py CALAMARI_BINARY DATA_DIR

Output: `PASS name` / `FAIL name: reason` per check, then `N passed, M failed`; non-zero exit
status on any failure.
"""
from __future__ import annotations

import io
import time
import warnings
import zipfile

from kraken.exceptions import (KrakenInvalidAmountError, KrakenMaxFeeExceededError, KrakenPermissionDeniedError,
                               KrakenUnknownReferenceIdError, KrakenUnknownWithdrawKeyError)
from kraken.spot import Funding, User

from common import Server, check, finish, raises

warnings.simplefilter("ignore")  # the SDK marks its legacy funding wrappers deprecated

srv = Server.from_argv()
URL, cli, advance = srv.url, srv.cli, srv.advance

srv.open_account("fz", ("XBT", "1"))
sdk_key = srv.key("fz", "sdk")
kx_key = srv.key("fz", "kx")
funding = Funding(key=sdk_key[0], secret=sdk_key[1], url=URL)
user = User(key=sdk_key[0], secret=sdk_key[1], url=URL)
kx = srv.krakenex(kx_key)
state: dict = {}
DEST = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


def deposit_methods():
    m = funding.get_deposit_methods(asset="XBT")
    assert m[0]["method"] == "Bitcoin" and m[0]["gen-address"] is True, m


def deposit_address():
    a = funding.get_deposit_address(asset="XBT", method="Bitcoin")
    assert a[0]["address"].startswith("bc1q"), a
    assert funding.get_deposit_address(asset="XBT", method="Bitcoin") == a, "stable"
    b = funding.get_deposit_address(asset="XBT", method="Bitcoin", new=True)
    assert len(b) == 2 and b[0]["address"] != a[0]["address"], b
    state["address"] = a[0]["address"]


def deposit_confirms():
    cli("chain", "deposit", state["address"], "0.25")
    d = funding.get_recent_deposits_status(asset="XBT")
    assert d[0]["status"] == "Settled" and d[0]["amount"] == "0.2500000000", d
    advance(3 * 600)
    d = funding.get_recent_deposits_status(asset="XBT", cursor=True)
    assert d["deposit"][0]["status"] == "Success", d
    assert user.get_account_balance()["XXBT"] == "1.2500000000"


def address_book():
    cli("address-book", "add", "fz", "cold", "--asset", "XBT", DEST)
    book = funding.withdraw_addresses(asset="XBT")
    assert book == [{"address": DEST, "asset": "XXBT", "method": "Bitcoin", "key": "cold", "verified": True}], book
    info = funding.get_withdrawal_info(asset="XBT", key="cold", amount="0.1")
    assert (info["amount"], info["fee"]) == ("0.0998500000", "0.0001500000"), info
    assert funding.withdraw_methods(asset="XBT")[0]["method"] == "Bitcoin"


def refusals():
    raises(KrakenMaxFeeExceededError, lambda: funding.withdraw_funds(asset="XBT", key="cold", amount="0.1", max_fee="0.0001"))
    raises(KrakenUnknownWithdrawKeyError, lambda: funding.withdraw_funds(asset="XBT", key="nope", amount="0.1"))
    raises(KrakenInvalidAmountError, lambda: funding.withdraw_funds(asset="XBT", key="cold", amount="0.0001"))
    raises(KrakenPermissionDeniedError, lambda: funding.wallet_transfer(asset="XBT", from_="Spot Wallet", to_="Futures Wallet", amount="0.1"))
    raises(KrakenPermissionDeniedError, lambda: user.create_subaccount(username="sub", email="sub@example.com"))


def withdraw_cancel():
    refid = funding.withdraw_funds(asset="XBT", key="cold", amount="0.1", max_fee="0.0002")["refid"]
    w = funding.get_recent_withdraw_status(asset="XBT")
    assert w[0]["refid"] == refid and w[0]["status"] == "Initial", w
    assert user.get_balances()["XXBT"]["hold_trade"] == "0.1000000000"
    assert funding.cancel_withdraw(asset="XBT", refid=refid) is True
    raises(KrakenUnknownReferenceIdError, lambda: funding.cancel_withdraw(asset="XBT", refid=refid))
    w = funding.get_recent_withdraw_status(asset="XBT")[0]
    assert (w["status"], w["status-prop"]) == ("Failure", "canceled"), w


def withdraw_to_failure():
    refid = funding.withdraw_funds(asset="XBT", key="cold", amount="0.2")["refid"]
    advance(60)
    assert funding.get_recent_withdraw_status(asset="XBT")[0]["status"] == "Pending"
    assert user.get_account_balance()["XXBT"] == "1.0500000000"
    advance(60)
    w = funding.get_recent_withdraw_status(asset="XBT")[0]
    assert w["status"] == "Settled" and len(w["txid"]) == 64, w
    cli("chain", "fail", refid)
    assert funding.get_recent_withdraw_status(asset="XBT")[0]["status"] == "Failure"
    assert user.get_account_balance()["XXBT"] == "1.2500000000"


def kxq(method: str, data: dict) -> dict:
    # krakenex's nonce is milliseconds: two calls within one would repeat it (EAPI:Invalid nonce).
    time.sleep(0.002)
    return kx.query_private(method, data)


def krakenex_funding():
    r = kxq("DepositMethods", {"asset": "XBT"})
    assert r.get("error") == [] and r["result"][0]["method"] == "Bitcoin", r
    r = kxq("Withdraw", {"asset": "XBT", "key": "nope", "amount": "0.1"})
    assert r == {"error": ["EFunding:Unknown withdraw key"]}, r
    r = kxq("Withdraw", {"asset": "XBT", "key": "cold", "amount": "0.05"})
    assert r.get("error") == [], r
    refid = r["result"]["refid"]
    r = kxq("WithdrawCancel", {"asset": "XBT", "refid": refid})
    assert r == {"error": [], "result": True}, r
    r = kxq("WithdrawStatus", {"asset": "XBT", "cursor": "true", "limit": "1"})
    assert r.get("error") == [] and r["result"]["withdrawals"][0]["refid"] == refid and "next_cursor" in r["result"], r


def exports():
    id_ = user.request_export_report(report="ledgers", description="funding run")["id"]
    for _ in range(200):
        st = [r for r in user.get_export_report_status(report="ledgers") if r["id"] == id_][0]
        if st["status"] == "Processed":
            break
        time.sleep(0.05)
    assert st["status"] == "Processed", st
    resp = user.retrieve_export(id_=id_)
    with zipfile.ZipFile(io.BytesIO(resp.content)) as z:
        text = z.read(z.namelist()[0]).decode()
    lines = text.strip().splitlines()
    assert lines[0] == '"txid","refid","time","type","subtype","aclass","asset","wallet","amount","fee","balance"', lines[0]
    ledger = user.get_ledgers_info()
    assert len(lines) - 1 == ledger["count"], (len(lines), ledger["count"])
    assert user.delete_export_report(id_=id_, type_="delete") == {"delete": True}


for name, fn in [("deposit methods", deposit_methods), ("deposit address", deposit_address),
                 ("deposit confirms on the clock", deposit_confirms), ("address book and WithdrawInfo", address_book),
                 ("Withdraw refusals", refusals), ("withdraw, hold, cancel", withdraw_cancel),
                 ("withdraw to Settled, then failure", withdraw_to_failure), ("krakenex funding", krakenex_funding),
                 ("exports", exports)]:
    check(name, fn)
finish()

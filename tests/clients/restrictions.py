"""Kraken's call restrictions as real third-party Kraken clients see them.

krakenex 2.2.2 and python-kraken-sdk 3.5.1, installed unchanged from PyPI, are pointed at
Calamari by their base URL only (`krakenex.API.uri`, `url=` for python-kraken-sdk). For each
restriction the check drives the server over the limit with the library's own calls and asserts
what the library hands back: python-kraken-sdk must raise ITS OWN exception class for the string
(class and exact string both checked), krakenex must return the exact `error` list.

Usage (tests/clients/run starts the servers and passes their data directories):

    restrictions.py CALAMARI_BINARY MAIN_DATA_DIR TRADING_DATA_DIR

Both servers run the `kraken` limits profile. MAIN lowers the Starter open-order cap to 3 (the
cap check then needs four orders); TRADING raises it to 1000, so that there the trading counter,
not the cap, is what refuses the 61st order. Accounts and keys are made with the admin CLI
(`calamari --data-dir DIR account create ...`); every check makes its own, so one failure does
not cascade. The lockout checks run last on MAIN (they lock 127.0.0.1 and lift it again).

Output follows ../shared/conformance: `PASS name` / `FAIL name: reason` per check (`# ...` lines
are notes: counts and timings), then `N passed, M failed`; the exit status is non-zero on any
failure.
"""
from __future__ import annotations

import ast
import base64
import math
import re
import secrets
import sys
import time
from decimal import ROUND_CEILING, Decimal

import krakenex
from kraken.exceptions import (KrakenApiLimitExceededError, KrakenInvalidAPIKeyError, KrakenInvalidNonceError,
                               KrakenInvalidSignatureError, KrakenOrderLimitsExceededError, KrakenRateLimitExceededError,
                               KrakenTemporaryLockoutError)
from kraken.spot import Market, Trade, User

import common
from common import expect

SDK, KX = "python-kraken-sdk", "krakenex"
# Everything but Withdraw Funds (which needs a verified account; these accounts are Starter).
PERMISSIONS = ("Query Funds,Query Open Orders & Trades,Query Closed Orders & Trades,Create & Modify Orders,"
               "Cancel/Close Orders,Query Ledger Entries")
# Kraken's Starter figures (docs.kraken.com, "Spot REST Rate Limits", "Spot Trading Limits").
REST_MAX, REST_DECAY = 15, 0.33
TRADING_MAX, TRADING_DECAY = 60, 1.0
CANCEL_PENALTY_UNDER_5S = 8
OPEN_CAP_MAIN = 3  # MAIN's config: open_orders = { starter = 3 }
PUBLIC_BURST = 15
LOCKOUT_AFTER, LOCKOUT_SECS = 10, 900
ADDRESS = "127.0.0.1"

E_REST = "EAPI:Rate limit exceeded"
E_TRADING = "EOrder:Rate limit exceeded"
E_CAP = "EOrder:Orders limit exceeded"
E_NONCE = "EAPI:Invalid nonce"
E_KEY = "EAPI:Invalid key"
E_SIGN = "EAPI:Invalid signature"
E_LOCKOUT = "EGeneral:Temporary lockout"
E_PUBLIC = "EGeneral:Too many requests"


# ---------------------------------------------------------------- servers and the admin CLI

class Server(common.Server):
    """A running Calamari (common.Server: its URL, its admin CLI) and fresh accounts on it."""

    made = 0

    def __init__(self, binary: str, data_dir: str, label: str):
        super().__init__(binary, data_dir)
        self.label = label
        self.url  # noqa: B018 - read now, so that a server without server.json fails the setup

    def admin(self, *args: str) -> str:
        try:
            return self.cli(*args)
        except AssertionError as e:
            raise AssertionError(f"({self.label}) {e}") from e

    def account(self, what: str, tier: str = "starter", usd: str = "1000") -> tuple[str, str]:
        """A fresh account at `tier` with `usd` and a key; returns (key, secret)."""
        Server.made += 1
        name = f"{what}-{Server.made}"
        self.open_account(name, ("USD", usd), tier=tier)
        return self.key(name, "k", PERMISSIONS)


# ---------------------------------------------------------------- the two libraries

def random_secret() -> str:
    return base64.b64encode(secrets.token_bytes(64)).decode()


def random_key() -> str:
    return base64.b64encode(secrets.token_bytes(42)).decode()


def sdk_errors(exc: Exception) -> list:
    # python-kraken-sdk's message is "<class doc>\nDetails: <response dict>".
    text = str(exc)
    at = text.find("Details: ")
    if at >= 0:
        try:
            return list(ast.literal_eval(text[at + len("Details: "):]).get("error", []))
        except (ValueError, SyntaxError, AttributeError):
            pass
    return [text]


def sdk(what: str, fn, *args, **kw):
    """A python-kraken-sdk call that must succeed; its result."""
    try:
        x = fn(*args, **kw)
    except Exception as e:  # noqa: BLE001 - reported with what was being done
        raise AssertionError(f"{what}: {type(e).__name__}: {e}") from e
    # The library hands back {"error": [...]} unraised when the string is not in its table.
    if isinstance(x, dict) and x.get("error"):
        raise AssertionError(f"{what}: python-kraken-sdk returned an unmapped error {x['error']}")
    return x


def sdk_attempt(cls: type, what: str, fn, *args, **kw) -> tuple:
    """(result, None) on success, (None, errors) when `fn` raises exactly `cls`; anything else fails."""
    try:
        x = fn(*args, **kw)
    except Exception as e:  # noqa: BLE001 - every outcome is judged below
        if type(e) is not cls:
            raise AssertionError(f"{what}: want success or {cls.__name__}, got {type(e).__name__}: {e}") from e
        return None, sdk_errors(e)
    if isinstance(x, dict) and x.get("error"):
        raise AssertionError(f"{what}: python-kraken-sdk returned an unmapped error {x['error']}")
    return x, None


def sdk_raises(cls: type, error: str, what: str, fn, *args, **kw) -> Exception:
    """`fn` must raise exactly `cls` with the error list [error]."""
    try:
        r = fn(*args, **kw)
    except Exception as e:  # noqa: BLE001 - every outcome is judged below
        if type(e) is not cls:
            raise AssertionError(f"{what}: want {cls.__name__} ({error!r}), got {type(e).__name__}: "
                                 f"{' '.join(str(e).split())[:300]}") from e
        errs = sdk_errors(e)
        expect(errs == [error], f"{what}: {cls.__name__} raised, but the errors are {errs}, want [{error!r}]")
        return e
    raise AssertionError(f"{what}: want {cls.__name__} ({error!r}), the call returned {r!r}"[:600])


_last_kx = [0.0]


def kx_api(srv: Server, key: str, secret: str) -> krakenex.API:
    return srv.krakenex((key, secret))


def kx(k: krakenex.API, method: str, data: dict | None = None) -> dict:
    """One private krakenex call; the raw {"error": [...], "result": ...} dict."""
    # krakenex's nonce is whole milliseconds: two calls in one millisecond would share a nonce,
    # which Kraken (and Calamari) refuse. Space the calls just over a millisecond apart, as the
    # conformance suite does; the library is not changed.
    wait = _last_kx[0] + 0.0015 - time.time()
    if wait > 0:
        time.sleep(wait)
    try:
        r = k.query_private(method, dict(data or {}))
    finally:
        _last_kx[0] = time.time()
    expect(k.response.status_code == 200, f"{method}: HTTP {k.response.status_code} (errors must be HTTP 200)")
    return r


def kx_public(k: krakenex.API, method: str, data: dict | None = None) -> dict:
    r = k.query_public(method, dict(data or {}))
    expect(k.response.status_code == 200, f"{method}: HTTP {k.response.status_code}")
    return r


def kx_ok(r: dict, what: str):
    expect(not r.get("error") and "result" in r, f"{what}: {r}")
    return r["result"]


def kx_refused(r: dict, error: str, what: str) -> None:
    expect(r.get("error") == [error] and "result" not in r,
           f"{what}: want error [{error!r}], got {r.get('error')} / result {r.get('result')!r}"[:600])


# ---------------------------------------------------------------- orders that never trade

ORDERS: dict[str, dict] = {}  # pair altname -> {"price", "volume"}, from AssetPairs


def plan_orders(srv: Server) -> None:
    """A post-only limit buy far below any market for XBTUSD and ETHUSD: the pair's ordermin
    and costmin, doubled, at a low price on the pair's tick grid."""
    k = kx_api(srv, "", "")
    prices = {"XBTUSD": Decimal(10000), "ETHUSD": Decimal(100)}
    res = kx_ok(kx_public(k, "AssetPairs", {"pair": ",".join(prices)}), "AssetPairs")
    for p in res.values():
        alt = p["altname"]
        price = prices[alt].quantize(Decimal(1).scaleb(-int(p["pair_decimals"])))
        lot = Decimal(1).scaleb(-int(p["lot_decimals"]))
        need = max(Decimal(p["ordermin"]) * 2, Decimal(p["costmin"]) * 2 / price)
        vol = (need / lot).to_integral_value(ROUND_CEILING) * lot
        ORDERS[alt] = {"price": str(price), "volume": str(vol)}
    expect(set(ORDERS) == set(prices), f"AssetPairs answered {sorted(res)}")


def sdk_add(t: Trade, pair: str = "XBTUSD"):
    """The library's AddOrder, raw: whatever it returns or raises."""
    o = ORDERS[pair]
    return t.create_order(ordertype="limit", side="buy", pair=pair, volume=o["volume"], price=o["price"], oflags="post")


def sdk_buy(t: Trade, pair: str = "XBTUSD") -> str:
    r = sdk(f"AddOrder {pair}", sdk_add, t, pair)
    expect(isinstance(r.get("txid"), list) and len(r["txid"]) == 1, f"AddOrder: {r}")
    return r["txid"][0]


def kx_buy_request(pair: str = "XBTUSD") -> dict:
    o = ORDERS[pair]
    return {"pair": pair, "type": "buy", "ordertype": "limit", "price": o["price"], "volume": o["volume"],
            "oflags": "post"}


def kx_buy(k: krakenex.API, pair: str = "XBTUSD") -> str:
    r = kx_ok(kx(k, "AddOrder", kx_buy_request(pair)), "AddOrder")
    expect(isinstance(r.get("txid"), list) and len(r["txid"]) == 1, f"AddOrder: {r}")
    return r["txid"][0]


# ---------------------------------------------------------------- the registry

class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def run(self, name: str, fn) -> None:
        t0 = time.time()
        try:
            fn()
            self.passed += 1
            print(f"PASS {name}", flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is a reported result
            self.failed += 1
            text = " ".join(str(e).split())
            print(f"FAIL {name}: {type(e).__name__}: {text[:800]}", flush=True)
        note(name, f"{time.time() - t0:.2f} s")


def note(name: str, text: str) -> None:
    print(f"# {name}: {text}", flush=True)


# ---------------------------------------------------------------- 1. the REST call counter

def rest_counter(srv: Server, client: str):
    """A fresh Starter key: exactly 15 Balance calls pass back to back, the 16th is refused with
    EAPI:Rate limit exceeded (15 + floor(0.33 x elapsed) if the calls were slow)."""
    def check():
        key, secret = srv.account(f"rest-{client}")
        if client == SDK:
            u = User(key=key, secret=secret, url=srv.url)
        else:
            k = kx_api(srv, key, secret)
        n, refused = 0, False
        t0 = time.time()
        for _ in range(REST_MAX * 3):
            if client == SDK:
                _, errs = sdk_attempt(KrakenApiLimitExceededError, f"Balance call {n + 1}", u.get_account_balance)
                if errs is not None:
                    expect(errs == [E_REST], f"KrakenApiLimitExceededError with errors {errs}")
                    refused = True
            else:
                r = kx(k, "Balance")
                if r.get("error"):
                    kx_refused(r, E_REST, f"Balance call {n + 1}")
                    refused = True
                else:
                    kx_ok(r, f"Balance call {n + 1}")
            if refused:
                break
            n += 1
        elapsed = time.time() - t0
        expect(refused, f"{n} Balance calls in {elapsed:.2f} s, none refused (Starter max is {REST_MAX})")
        allowed = REST_MAX + math.floor(REST_DECAY * elapsed)
        expect(REST_MAX <= n <= allowed,
               f"{n} calls passed before the refusal in {elapsed:.2f} s, want {REST_MAX}"
               + (f"..{allowed}" if allowed > REST_MAX else ""))
        slow = f" (slow: allowance {REST_MAX} + floor({REST_DECAY} x {elapsed:.2f} s) = {allowed})" if elapsed > 2 else ""
        note(f"{client}:rest_counter", f"{n} Balance calls passed in {elapsed * 1000:.0f} ms, call {n + 1} refused "
             f"with {E_REST}{slow}")
    return check


def rest_counter_drains_and_exempts_trading(srv: Server):
    """python-kraken-sdk: with the REST counter full, AddOrder and CancelOrder still pass (trading
    calls are exempt); 1/0.33 s after the 15th call exactly one more Balance passes."""
    def check():
        key, secret = srv.account("rest-drain-sdk")
        u, t = User(key=key, secret=secret, url=srv.url), Trade(key=key, secret=secret, url=srv.url)
        last_ok = time.time()
        for i in range(REST_MAX):
            sdk(f"Balance call {i + 1}", u.get_account_balance)
            last_ok = time.time()
        sdk_raises(KrakenApiLimitExceededError, E_REST, f"Balance call {REST_MAX + 1}", u.get_account_balance)
        txid = sdk_buy(t)
        r = sdk("CancelOrder", t.cancel_order, txid=txid)
        expect(r.get("count") == 1, f"CancelOrder with the REST counter full: {r}")
        sdk_raises(KrakenApiLimitExceededError, E_REST, "Balance after the trading calls", u.get_account_balance)
        # One call's worth drains in 1/0.33 = 3.03 s after the 15th call was counted.
        wait = last_ok + 1 / REST_DECAY + 0.12 - time.time()
        if wait > 0:
            time.sleep(wait)
        sdk("Balance 3.15 s after the 15th", u.get_account_balance)
        sdk_raises(KrakenApiLimitExceededError, E_REST, "the next Balance at once", u.get_account_balance)
        note(f"{SDK}:rest_counter_drains_and_exempts_trading",
             f"AddOrder+CancelOrder passed with the counter full; slept {max(wait, 0):.2f} s for one call to drain")
    return check


def rest_counter_history_costs_two(srv: Server):
    """python-kraken-sdk: Ledgers costs 2: seven pass (14), the eighth is refused (16 > 15),
    a Balance (cost 1) still fits (15)."""
    def check():
        key, secret = srv.account("rest-history-sdk")
        u = User(key=key, secret=secret, url=srv.url)
        t0 = time.time()
        for i in range(REST_MAX // 2):
            sdk(f"Ledgers call {i + 1}", u.get_ledgers_info)
        sdk_raises(KrakenApiLimitExceededError, E_REST, f"Ledgers call {REST_MAX // 2 + 1} (level 14 + 2 > 15)",
                   u.get_ledgers_info)
        elapsed = time.time() - t0
        expect(elapsed < 1 / REST_DECAY, f"too slow to judge: {elapsed:.2f} s (one call drains in 3.03 s)")
        sdk("Balance (14 + 1 = 15 fits)", u.get_account_balance)
        sdk_raises(KrakenApiLimitExceededError, E_REST, "the next Balance (16 > 15)", u.get_account_balance)
    return check


# ---------------------------------------------------------------- 2. nonces, 3. keys

def invalid_nonce(srv: Server, client: str):
    """The same nonce twice, then a lower one: EAPI:Invalid nonce; a rising nonce still works."""
    def check():
        key, secret = srv.account(f"nonce-{client}")
        if client == SDK:
            u = User(key=key, secret=secret, url=srv.url)
            n = u.get_nonce()
            u.get_nonce = lambda: n  # same nonce every time, on this instance only
            sdk("first use of the nonce", u.get_account_balance)
            sdk_raises(KrakenInvalidNonceError, E_NONCE, "the same nonce again", u.get_account_balance)
            u.get_nonce = lambda: str(int(n) - 1)
            sdk_raises(KrakenInvalidNonceError, E_NONCE, "a lower nonce", u.get_account_balance)
            sdk("a fresh client's rising nonce", User(key=key, secret=secret, url=srv.url).get_account_balance)
        else:
            k = kx_api(srv, key, secret)
            n = k._nonce()
            k._nonce = lambda: n  # same nonce every time, on this instance only
            kx_ok(kx(k, "Balance"), "first use of the nonce")
            kx_refused(kx(k, "Balance"), E_NONCE, "the same nonce again")
            k._nonce = lambda: n - 1
            kx_refused(kx(k, "Balance"), E_NONCE, "a lower nonce")
            del k._nonce  # back to the library's own (millisecond) nonce
            kx_ok(kx(k, "Balance"), "the library's rising nonce")
    return check


def invalid_key(srv: Server, client: str):
    """A made-up key: EAPI:Invalid key. A real key then works (and ends the address's failure run)."""
    def check():
        key, secret = srv.account(f"badkey-{client}")
        if client == SDK:
            bad = User(key=random_key(), secret=secret, url=srv.url)
            sdk_raises(KrakenInvalidAPIKeyError, E_KEY, "made-up key", bad.get_account_balance)
            sdk("the real key", User(key=key, secret=secret, url=srv.url).get_account_balance)
        else:
            kx_refused(kx(kx_api(srv, random_key(), secret), "Balance"), E_KEY, "made-up key")
            kx_ok(kx(kx_api(srv, key, secret), "Balance"), "the real key")
    return check


# ---------------------------------------------------------------- 4. the trading counter

def trading_rate_limit(srv: Server, client: str):
    """A fresh Starter account on a server without an effective open-order cap: post-only orders
    on XBTUSD until refused. 60 pass (60 + floor(1/s x elapsed) if slow), the next is refused with
    EOrder:Rate limit exceeded and not placed."""
    def check():
        key, secret = srv.account(f"trading-{client}")
        if client == SDK:
            t, u = Trade(key=key, secret=secret, url=srv.url), User(key=key, secret=secret, url=srv.url)
        else:
            k = kx_api(srv, key, secret)
        n, refused = 0, False
        t0 = time.time()
        for _ in range(TRADING_MAX * 2):
            if client == SDK:
                _, errs = sdk_attempt(KrakenRateLimitExceededError, f"AddOrder {n + 1}", sdk_add, t)
                if errs is not None:
                    expect(errs == [E_TRADING], f"KrakenRateLimitExceededError with errors {errs}")
                    refused = True
            else:
                r = kx(k, "AddOrder", kx_buy_request())
                if r.get("error"):
                    kx_refused(r, E_TRADING, f"AddOrder {n + 1}")
                    refused = True
                else:
                    kx_ok(r, f"AddOrder {n + 1}")
            if refused:
                break
            n += 1
        elapsed = time.time() - t0
        expect(refused, f"{n} orders in {elapsed:.2f} s, none refused (Starter threshold {TRADING_MAX})")
        allowed = TRADING_MAX + math.floor(TRADING_DECAY * elapsed)
        expect(TRADING_MAX <= n <= allowed, f"{n} orders passed before the refusal in {elapsed:.2f} s, want "
               f"{TRADING_MAX}" + (f"..{allowed}" if allowed > TRADING_MAX else ""))
        if client == SDK:
            open_orders = sdk("OpenOrders", u.get_open_orders)["open"]
        else:
            open_orders = kx_ok(kx(k, "OpenOrders"), "OpenOrders")["open"]
        expect(len(open_orders) == n, f"{len(open_orders)} open orders after {n} accepted (the refused one "
               "must not be placed)")
        slow = f" (slow: allowance {allowed})" if allowed > TRADING_MAX else ""
        note(f"{client}:trading_rate_limit", f"{n} AddOrder passed in {elapsed * 1000:.0f} ms, AddOrder {n + 1} "
             f"refused with {E_TRADING}{slow}")
    return check


def cancel_penalty(srv: Server, client: str):
    """A fresh Starter account places 7 orders and cancels them at once: 7 adds + 6 cancels at
    +8 (orders under 5 s old) = 55; the 7th cancel would make 63 > 60 and is refused with
    EOrder:Rate limit exceeded, leaving the order open; CancelAll (the way out) is not refused."""
    def check():
        key, secret = srv.account(f"cancel-{client}")
        if client == SDK:
            t, u = Trade(key=key, secret=secret, url=srv.url), User(key=key, secret=secret, url=srv.url)
        else:
            k = kx_api(srv, key, secret)
        t0 = time.time()
        ids = [sdk_buy(t) if client == SDK else kx_buy(k) for _ in range(7)]
        for i, txid in enumerate(ids[:6]):
            if client == SDK:
                r = sdk(f"CancelOrder {i + 1}", t.cancel_order, txid=txid)
            else:
                r = kx_ok(kx(k, "CancelOrder", {"txid": txid}), f"CancelOrder {i + 1}")
            expect(r.get("count") == 1, f"CancelOrder {i + 1}: {r}")
        level = 7 + 6 * CANCEL_PENALTY_UNDER_5S
        what = f"CancelOrder 7 (counter {level}, +{CANCEL_PENALTY_UNDER_5S} > {TRADING_MAX})"
        try:
            if client == SDK:
                sdk_raises(KrakenRateLimitExceededError, E_TRADING, what, t.cancel_order, txid=ids[6])
            else:
                kx_refused(kx(k, "CancelOrder", {"txid": ids[6]}), E_TRADING, what)
        except AssertionError as e:
            elapsed = time.time() - t0
            drained = TRADING_DECAY * elapsed
            if level + CANCEL_PENALTY_UNDER_5S - drained <= TRADING_MAX:
                raise AssertionError(f"too slow to judge: {elapsed:.2f} s drained {drained:.1f} from the counter "
                                     f"({e})") from e
            raise
        elapsed = time.time() - t0
        if client == SDK:
            open_orders = sdk("OpenOrders", u.get_open_orders)["open"]
            r = sdk("CancelAll", t.cancel_all_orders)
        else:
            open_orders = kx_ok(kx(k, "OpenOrders"), "OpenOrders")["open"]
            r = kx_ok(kx(k, "CancelAll"), "CancelAll")
        expect(list(open_orders) == [ids[6]], f"open after the refused cancel: {sorted(open_orders)}, want [{ids[6]}]")
        expect(r.get("count") == 1, f"CancelAll over the threshold must not be refused: {r}")
        note(f"{client}:cancel_penalty", f"7 adds + 6 cancels in {elapsed * 1000:.0f} ms, the 7th cancel refused, "
             "CancelAll passed")
    return check


# ---------------------------------------------------------------- 5. the open-order cap

def open_order_cap(srv: Server, client: str):
    """Starter cap lowered to 3: three post-only orders rest, the 4th is refused with
    EOrder:Orders limit exceeded; another pair is not affected; after a cancel there is room."""
    def check():
        key, secret = srv.account(f"cap-{client}")
        if client == SDK:
            t, u = Trade(key=key, secret=secret, url=srv.url), User(key=key, secret=secret, url=srv.url)
            ids = [sdk_buy(t) for _ in range(OPEN_CAP_MAIN)]
            sdk_raises(KrakenOrderLimitsExceededError, E_CAP, f"AddOrder {OPEN_CAP_MAIN + 1}", sdk_add, t)
            open_orders = sdk("OpenOrders", u.get_open_orders)["open"]
            sdk_buy(t, "ETHUSD")
            expect(sdk("CancelOrder", t.cancel_order, txid=ids[0]).get("count") == 1, "CancelOrder")
            sdk_buy(t)
        else:
            k = kx_api(srv, key, secret)
            ids = [kx_buy(k) for _ in range(OPEN_CAP_MAIN)]
            kx_refused(kx(k, "AddOrder", kx_buy_request()), E_CAP, f"AddOrder {OPEN_CAP_MAIN + 1}")
            open_orders = kx_ok(kx(k, "OpenOrders"), "OpenOrders")["open"]
            kx_buy(k, "ETHUSD")
            expect(kx_ok(kx(k, "CancelOrder", {"txid": ids[0]}), "CancelOrder").get("count") == 1, "CancelOrder")
            kx_buy(k)
        expect(set(open_orders) == set(ids), f"open after the refusal: {sorted(open_orders)}, want {sorted(ids)}")
    return check


# ---------------------------------------------------------------- public calls per address

def public_rate_limit(srv: Server):
    """Public calls from one address: a burst of 15 passes, then EGeneral:Too many requests.
    krakenex sees the string. python-kraken-sdk 3.5.1 has no class for it and hands the error
    dict back as if it were a result: asserted, so that a change on either side is noticed."""
    def check():
        k = kx_api(srv, "", "")
        n, last = 0, {}
        t0 = time.time()
        for _ in range(PUBLIC_BURST * 3):
            last = kx_public(k, "Time")
            if last.get("error"):
                break
            n += 1
        elapsed = time.time() - t0
        kx_refused(last, E_PUBLIC, f"public call {n + 1}")
        allowed = PUBLIC_BURST + math.floor(elapsed)
        expect(PUBLIC_BURST <= n <= allowed, f"{n} public calls passed in {elapsed:.2f} s, want {PUBLIC_BURST}"
               + (f"..{allowed}" if allowed > PUBLIC_BURST else ""))
        r = Market(url=srv.url).get_system_status()
        expect(r == {"error": [E_PUBLIC]}, f"python-kraken-sdk Market.get_system_status() over the limit: {r!r} "
               f"(want the unmapped {{'error': [{E_PUBLIC!r}]}})")
        note(f"{KX}:public_rate_limit", f"{n} Time calls passed in {elapsed * 1000:.0f} ms, then {E_PUBLIC}; "
             f"python-kraken-sdk returned {r!r} without raising (no class for it in the library)")
    return check


# ---------------------------------------------------------------- 6. lockouts (last: they lock 127.0.0.1)

def lift_quietly(srv: Server) -> None:
    try:
        srv.admin("lockouts", "--lift", ADDRESS)
    except AssertionError:
        pass


def lockout_run_reset_by_success(srv: Server):
    """python-kraken-sdk: 9 wrong signatures, a right call, 9 wrong signatures: no lockout (a
    successful call ends the run)."""
    def check():
        key, secret = srv.account("lockout-reset-sdk")
        good, bad = User(key=key, secret=secret, url=srv.url), User(key=key, secret=random_secret(), url=srv.url)
        sdk("Balance before", good.get_account_balance)
        try:
            for round_ in (1, 2):
                for i in range(LOCKOUT_AFTER - 1):
                    sdk_raises(KrakenInvalidSignatureError, E_SIGN, f"round {round_}, wrong secret {i + 1}",
                               bad.get_account_balance)
                sdk(f"the right call after {LOCKOUT_AFTER - 1} failures (round {round_})", good.get_account_balance)
        finally:
            lift_quietly(srv)  # whatever happened, the next check starts unlocked
    return check


def lockout(srv: Server, client: str):
    """10 calls with the right key and a wrong secret (EAPI:Invalid signature each); the 11th,
    with the RIGHT credentials, and any other key's call from the address, get EGeneral:Temporary
    lockout; `calamari lockouts` lists 127.0.0.1 for ~900 s; `--lift` ends it and a right call
    passes again."""
    def check():
        key, secret = srv.account(f"lockout-{client}")
        okey, osecret = srv.account(f"lockout-other-{client}")
        if client == SDK:
            good = User(key=key, secret=secret, url=srv.url)
            right = lambda: sdk("Balance", good.get_account_balance)  # noqa: E731
        else:
            gk = kx_api(srv, key, secret)
            right = lambda: kx_ok(kx(gk, "Balance"), "Balance")  # noqa: E731
        right()  # a success first: the address's failure run starts at zero
        lifted = False
        try:
            for i in range(LOCKOUT_AFTER):
                what = f"wrong secret, call {i + 1}"
                if client == SDK:
                    bad = User(key=key, secret=random_secret(), url=srv.url)
                    sdk_raises(KrakenInvalidSignatureError, E_SIGN, what, bad.get_account_balance)
                else:
                    kx_refused(kx(kx_api(srv, key, random_secret()), "Balance"), E_SIGN, what)
            what = f"call {LOCKOUT_AFTER + 1} with the right key and secret"
            if client == SDK:
                sdk_raises(KrakenTemporaryLockoutError, E_LOCKOUT, what, good.get_account_balance)
                sdk_raises(KrakenTemporaryLockoutError, E_LOCKOUT, "another account's right key",
                           User(key=okey, secret=osecret, url=srv.url).get_account_balance)
                sdk_raises(KrakenTemporaryLockoutError, E_LOCKOUT, "AddOrder with the right key",
                           sdk_add, Trade(key=key, secret=secret, url=srv.url))
            else:
                kx_refused(kx(gk, "Balance"), E_LOCKOUT, what)
                kx_refused(kx(kx_api(srv, okey, osecret), "Balance"), E_LOCKOUT, "another account's right key")
                kx_refused(kx(gk, "AddOrder", kx_buy_request()), E_LOCKOUT, "AddOrder with the right key")
            listing = srv.admin("lockouts")
            m = re.search(rf"^{re.escape(ADDRESS)}\s+locked for (\d+) more seconds", listing, re.M)
            expect(m is not None, f"`calamari lockouts` does not list {ADDRESS}: {listing.strip()!r}")
            left = int(m.group(1))
            expect(LOCKOUT_SECS - 60 <= left <= LOCKOUT_SECS, f"lockout has {left} s left, want about {LOCKOUT_SECS}")
            out = srv.admin("lockouts", "--lift", ADDRESS).strip()
            lifted = True
            expect(out == "lifted", f"`calamari lockouts --lift {ADDRESS}` said {out!r}")
        finally:
            if not lifted:  # whatever happened, the next check starts unlocked
                lift_quietly(srv)
        right()
        expect(srv.admin("lockouts").startswith("no lockouts"), "a lockout is still listed after the lift")
        note(f"{client}:lockout", f"locked after {LOCKOUT_AFTER} wrong signatures ({left} s), lifted, right call passed")
    return check


# ---------------------------------------------------------------- main

def main() -> int:
    if len(sys.argv) != 4:
        print(f"usage: {sys.argv[0]} CALAMARI_BINARY MAIN_DATA_DIR TRADING_DATA_DIR", file=sys.stderr)
        return 2
    binary, main_dir, trading_dir = sys.argv[1:]
    checks = Checks()
    try:
        main_srv = Server(binary, main_dir, "main")
        trading_srv = Server(binary, trading_dir, "trading")
        plan_orders(main_srv)
    except Exception as e:  # noqa: BLE001
        print(f"FAIL setup: {type(e).__name__}: {' '.join(str(e).split())[:600]}")
        print("0 passed, 1 failed")
        return 1
    note("setup", f"main {main_srv.url}, trading {trading_srv.url}; orders {ORDERS}")

    for client in (SDK, KX):
        checks.run(f"{client}:rest_counter", rest_counter(main_srv, client))
    checks.run(f"{SDK}:rest_counter_history_costs_two", rest_counter_history_costs_two(main_srv))
    checks.run(f"{SDK}:rest_counter_drains_and_exempts_trading", rest_counter_drains_and_exempts_trading(main_srv))
    for client in (SDK, KX):
        checks.run(f"{client}:invalid_nonce", invalid_nonce(main_srv, client))
    for client in (SDK, KX):
        checks.run(f"{client}:invalid_key", invalid_key(main_srv, client))
    for client in (SDK, KX):
        checks.run(f"{client}:trading_rate_limit", trading_rate_limit(trading_srv, client))
    for client in (SDK, KX):
        checks.run(f"{client}:cancel_penalty", cancel_penalty(trading_srv, client))
    for client in (SDK, KX):
        checks.run(f"{client}:open_order_cap", open_order_cap(main_srv, client))
    checks.run("public_rate_limit", public_rate_limit(trading_srv))
    # Last: these lock 127.0.0.1 out of MAIN (and lift it again).
    checks.run(f"{SDK}:lockout_run_reset_by_success", lockout_run_reset_by_success(main_srv))
    for client in (SDK, KX):
        checks.run(f"{client}:lockout", lockout(main_srv, client))

    print(f"{checks.passed} passed, {checks.failed} failed", flush=True)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())

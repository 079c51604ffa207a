"""What the real-client scripts of tests/clients share, so that each one holds only its checks.

Every script is run as `python tests/clients/NAME.py CALAMARI_BINARY DATA_DIR ...` (see
tests/clients/run), so this folder is on `sys.path` and `import common` finds this file. It holds:

- `Server`: a running Calamari from its data directory: its URL (DATA_DIR/server.json), its admin
  CLI (`cli`), the test clock (`advance`), accounts with deposits, API keys (`trader`: both at
  once), krakenex pointed at it by its base URL only (`krakenex`), and python-kraken-sdk's
  authenticated SpotWSClient collecting what it receives (`private_ws`);
- the report every script prints: `check` (a function run, or a verdict already reached) writes
  `PASS name` / `FAIL name: reason`, `skip` writes `SKIP name: reason`, `finish` writes
  `N passed, M failed` and exits non-zero on any failure;
- the small assertions several scripts make: `expect`, `raises`, `refused`, and `wait_for` /
  `wait_for_message` for the asynchronous (WebSocket) ones, with `execs` picking one order's
  events out of the executions channel's updates.
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from typing import Callable

import krakenex
from kraken.spot import SpotWSClient


class Server:
    """A running Calamari and its admin CLI, found through its data directory."""

    def __init__(self, binary: str, data_dir: str):
        self.binary, self.dir = binary, data_dir

    @property
    def url(self) -> str:
        """The base URL the server wrote in DATA_DIR/server.json when it started listening."""
        with open(os.path.join(self.dir, "server.json"), encoding="utf-8") as f:
            return json.load(f)["url"].rstrip("/")

    @property
    def ws(self) -> str:
        """The same listener's WebSocket base (WebSocket API v2 is its `/v2`)."""
        return self.url.replace("http://", "ws://")

    @classmethod
    def from_argv(cls) -> Server:
        """The server of a script called as `NAME.py CALAMARI_BINARY DATA_DIR`."""
        return cls(sys.argv[1], sys.argv[2])

    def cli(self, *args: str) -> str:
        """`calamari --data-dir DIR ARGS...`: its output; a non-zero exit raises with its message."""
        p = subprocess.run([self.binary, "--data-dir", self.dir, *args], capture_output=True, text=True, timeout=60,
                           check=False)
        if p.returncode != 0:
            raise AssertionError(f"calamari {' '.join(args)}: exit {p.returncode}: {(p.stderr or p.stdout).strip()}")
        return p.stdout

    def advance(self, seconds: int) -> None:
        """Moves the test clock (a server started with CALAMARI_TEST_CLOCK=1) by `seconds`."""
        with open(os.path.join(self.dir, "admin.token"), encoding="utf-8") as f:
            token = f.read().strip()
        req = urllib.request.Request(f"{self.url}/admin/clock/advance", json.dumps({"seconds": seconds}).encode(),
                                     {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        urllib.request.urlopen(req).read()

    def open_account(self, name: str, *deposits: tuple[str, str], tier: str = "intermediate") -> None:
        """A new account at `tier` with the deposits (asset, amount) in order; an amount "0" is none."""
        self.cli("account", "create", name)
        self.cli("account", "tier", name, tier)
        for asset, amount in deposits:
            if amount != "0":
                self.cli("deposit", "--account", name, asset, amount)

    def key(self, account: str, name: str, permissions: str = "all") -> tuple[str, str]:
        """A new API key of `account`: (key, secret)."""
        v = json.loads(self.cli("key", "create", "--account", account, "--name", name, "--permissions", permissions,
                                "--json"))
        return v["key"], v["secret"]

    def trader(self, name: str, *deposits: tuple[str, str], key_name: str = "k") -> tuple[str, str]:
        """A new account (`open_account`: Intermediate, the deposits) and its first API key, with every
        permission: (key, secret)."""
        self.open_account(name, *deposits)
        return self.key(name, key_name)

    def krakenex(self, key: tuple[str, str] = ("", "")) -> krakenex.API:
        """krakenex 2.2.2, unchanged, pointed at this server by its base URL only."""
        api = krakenex.API(key=key[0], secret=key[1])
        api.uri = self.url
        return api

    async def private_ws(self, key: tuple[str, str]) -> tuple[SpotWSClient, list[dict]]:
        """python-kraken-sdk 3.5.1's SpotWSClient authenticated with `key` (it fetches its own token from
        REST GetWebSocketsToken), pointed at this server by `rest_url`, `ws_url` and `auth_ws_url` only,
        started; with it, the list its callback appends every message to."""
        got: list[dict] = []

        async def on_message(msg: dict) -> None:
            got.append(msg)

        client = SpotWSClient(key=key[0], secret=key[1], callback=on_message, rest_url=self.url, ws_url=self.ws,
                              auth_ws_url=self.ws, no_public=True)
        await client.start()
        return client, got


# ---------------------------------------------------------------- the report

results: list[tuple[str, str | None]] = []


def record(name: str, why: str | None) -> None:
    """One result: `PASS name` when `why` is None, else `FAIL name: why`."""
    results.append((name, why))
    print(f"PASS {name}" if why is None else f"FAIL {name}: {why}", flush=True)


def check(name: str, outcome: Callable[[], object] | bool, why: str = "") -> None:
    """`outcome` is a function to run (any exception it raises is the failure, with its text) or a
    verdict already reached (false is the failure, with `why`)."""
    if callable(outcome):
        try:
            outcome()
        except Exception as e:  # noqa: BLE001 - every failure is a FAIL line
            record(name, f"{type(e).__name__}: {e}")
            return
        record(name, None)
    else:
        record(name, None if outcome else why or "false")


def skip(name: str, why: str) -> None:
    print(f"SKIP {name}: {why}", flush=True)


def finish() -> None:
    """`N passed, M failed`, then exit: status 1 on any failure."""
    failed = sum(1 for _, why in results if why is not None)
    print(f"{len(results) - failed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


# ---------------------------------------------------------------- krakenex calls

_last_kx = [0.0]


def kx_call(api: krakenex.API, method: str, data: dict | None = None) -> dict:
    """One private krakenex call: its raw {"error": [...], "result": ...} answer."""
    # krakenex's nonce is whole milliseconds: two calls in one millisecond would share a nonce,
    # which Kraken (and Calamari) refuse. Space the calls just over a millisecond apart, as the
    # conformance suite does; the library is not changed.
    wait = _last_kx[0] + 0.0015 - time.time()
    if wait > 0:
        time.sleep(wait)
    try:
        return api.query_private(method, dict(data or {}))
    finally:
        _last_kx[0] = time.time()


def kx_ok(api: krakenex.API, method: str, data: dict | None = None) -> dict:
    """A private krakenex call that must succeed: its result."""
    r = kx_call(api, method, data)
    assert r.get("error") == [], (method, r)
    return r["result"]


def kx_err(api: krakenex.API, method: str, data: dict | None = None) -> str:
    """A private krakenex call that must fail: its first error."""
    r = kx_call(api, method, data)
    assert r.get("error"), (method, r)
    return r["error"][0]


# ---------------------------------------------------------------- assertions

def expect(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def raises(cls: type, fn: Callable[[], object], text: str = "") -> None:
    """`fn` raises `cls` (or a subclass), whose message contains `text`."""
    try:
        fn()
    except cls as e:
        assert text in str(e), f"{cls.__name__} without {text!r}: {e}"
        return
    raise AssertionError(f"expected {cls.__name__}")


def refused(text: str, fn: Callable[[], object]) -> None:
    """The call raises (any exception class: the SDK maps some strings, not all) naming `text`."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        assert text in f"{e!r} {e}", f"{type(e).__name__}: {e}"
        return
    raise AssertionError(f"expected {text}")


async def wait_for(pred: Callable[[], bool], secs: float = 5.0) -> bool:
    """Polls `pred` every 50 ms for up to `secs`; whether it came true."""
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if pred():
            return True
        await asyncio.sleep(0.05)
    return False


async def wait_for_message(got: list[dict], pred: Callable[[dict], bool], secs: float = 5.0) -> bool:
    """Waits for a message of `got` (a list a callback appends to) that satisfies `pred`."""
    return await wait_for(lambda: any(pred(m) for m in got), secs)


def execs(got: list[dict], order_id: str) -> list[dict]:
    """The entries of the executions channel's updates in `got` that are about `order_id`, in order."""
    return [d for m in got if m.get("channel") == "executions" and m.get("type") == "update"
            for d in m["data"] if d.get("order_id") == order_id]

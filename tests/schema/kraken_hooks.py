"""Schemathesis hooks for Calamari: signs every private call the way a Kraken client does, and
adds the check that every API answer is a Kraken envelope.

Loaded by tests/schema/run through SCHEMATHESIS_HOOKS. The key comes from KRAKEN_KEY and
KRAKEN_SECRET (a key with every permission on a funded account).

Signing happens on the final request (a `requests` auth object added in `before_call`), so it
covers the exact bytes sent: the body's `nonce` is set to a fresh, strictly increasing value
(added if the generated body lacks it), the body is re-encoded in its own content type, and
API-Sign = base64(HMAC-SHA512(base64-decoded secret, path + SHA256(nonce + body))). A body that is
not a JSON object or a form (negative data) is signed as it is, with a fresh nonce it does not
carry, so the server answers it as Kraken would a client that forgot the nonce.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import threading
import time
import urllib.parse

import requests
import schemathesis

KRAKEN_ERROR = re.compile(r"^[EW][A-Za-z]+:.+")


class NonceSource:
    """Strictly increasing nonces (microseconds since the epoch, or the last plus one)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._last = 0

    def next(self):
        with self._lock:
            self._last = max(time.time_ns() // 1000, self._last + 1)
            return self._last


NONCES = NonceSource()


def sign(path, nonce, body, secret):
    digest = hashlib.sha256(nonce.encode() + body).digest()
    mac = hmac.new(secret, path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def with_nonce(content_type, body, nonce):
    """The body with its `nonce` field set to `nonce`, or None if it is not a JSON object / form."""
    if "json" in content_type:
        try:
            obj = json.loads(body)
        except ValueError:
            return None
        if not isinstance(obj, dict):
            return None
        # Kraken's clients send the JSON nonce as a string or a number; keep the generated kind.
        obj["nonce"] = nonce if isinstance(obj.get("nonce"), str) else int(nonce)
        return json.dumps(obj).encode()
    try:
        pairs = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
    except (ValueError, UnicodeDecodeError):
        return None
    pairs = [(k, v) for k, v in pairs if k != "nonce"] + [("nonce", nonce)]
    return urllib.parse.urlencode(pairs).encode()


class KrakenSigner(requests.auth.AuthBase):
    def __init__(self, key, secret_b64):
        self.key = key
        self.secret = base64.b64decode(secret_b64)

    def __call__(self, r):
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        nonce = str(NONCES.next())
        signed = with_nonce(r.headers.get("Content-Type", ""), body, nonce)
        if signed is not None:
            body = signed
        r.body = body
        r.headers["Content-Length"] = str(len(body))
        r.headers["API-Key"] = self.key
        r.headers["API-Sign"] = sign(urllib.parse.urlsplit(r.url).path, nonce, body, self.secret)
        return r


SIGNER = KrakenSigner(os.environ["KRAKEN_KEY"], os.environ["KRAKEN_SECRET"])


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path.startswith("/0/private/"):
        kwargs["auth"] = SIGNER


@schemathesis.check
def kraken_envelope(ctx, response, case):
    """Every answer of a Kraken method is HTTP 200 and `{"error":[…],"result":…}`: `error` a list of
    Kraken error strings, `result` present exactly when there is no error, nothing else."""
    if not case.operation.path.startswith("/0/"):
        return None
    if case.method.upper() != case.operation.method.upper():
        return None  # an undocumented method: tests/numbers.rs checks its envelope
    if response.status_code != 200:
        raise AssertionError(f"Kraken answers API errors with HTTP 200, got {response.status_code}")
    try:
        body = json.loads(response.content)
    except ValueError as e:
        raise AssertionError(f"not JSON: {e}: {response.content[:200]!r}")
    if not isinstance(body, dict):
        raise AssertionError(f"the envelope is not an object: {body!r:.200}")
    if set(body) - {"error", "result"}:
        raise AssertionError(f"unexpected top-level keys {sorted(set(body) - {'error', 'result'})}")
    errors = body.get("error")
    if not isinstance(errors, list):
        raise AssertionError(f"`error` is not a list: {errors!r:.200}")
    for e in errors:
        if not isinstance(e, str) or not KRAKEN_ERROR.match(e):
            raise AssertionError(f"not a Kraken error string: {e!r}")
    if errors and "result" in body:
        raise AssertionError(f"`result` beside errors {errors}")
    if not errors and "result" not in body:
        raise AssertionError("no `result` and no error")
    return None


# What the server answered, per operation: successes and each error string (the run prints it,
# so a run whose private calls all failed authentication cannot pass unnoticed).
TALLY_PATH = os.environ.get("SCHEMA_TALLY")
TALLY = {}
TALLY_LOCK = threading.Lock()


@schemathesis.hook
def after_call(context, case, response):
    if TALLY_PATH is None or case.method.upper() != case.operation.method.upper():
        return
    label = f"{case.operation.method.upper()} {case.operation.path}"
    try:
        body = json.loads(response.content)
        errors = body.get("error") if isinstance(body, dict) else None
        outcome = "ok" if errors == [] else (errors[0].split(":")[0] + ":" + errors[0].split(":")[1] if errors else f"HTTP {response.status_code}")
    except (ValueError, AttributeError, IndexError, TypeError):
        outcome = f"HTTP {response.status_code} (not JSON)"
    if case.operation.path.startswith("/0/") and case.media_type:
        label += " " + case.media_type.split("/")[-1]
    with TALLY_LOCK:
        TALLY.setdefault(label, {}).setdefault(outcome, 0)
        TALLY[label][outcome] += 1
        with open(TALLY_PATH, "w") as f:
            json.dump(TALLY, f, indent=1, sort_keys=True)


# Real ids from seed_state.py, offered to the Query* methods beside the generated ones.
IDS = json.load(open(os.environ["SCHEMA_IDS"])) if os.environ.get("SCHEMA_IDS") else {}
ID_FIELDS = {"/0/private/QueryOrders": ("txid", "orders"), "/0/private/QueryTrades": ("txid", "trades"), "/0/private/QueryLedgers": ("id", "ledgers")}


@schemathesis.hook
def flatmap_body(context, body):
    from hypothesis import strategies as st

    field, kind = ID_FIELDS.get(context.operation.path if context.operation else "", (None, None))
    if field is None or not isinstance(body, dict) or not IDS.get(kind):
        return st.just(body)
    real = st.lists(st.sampled_from(IDS[kind]), min_size=1, max_size=3, unique=True).map(lambda ids: {**body, field: ",".join(ids)})
    return st.one_of(st.just(body), real)

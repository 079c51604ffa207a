#!/usr/bin/env python3
"""Writes the hand-written seed inputs of every fuzz target into corpus/<target>/seed-*.
Seeds are real Kraken request bodies (Kraken's docs, krakenex, python-kraken-sdk, ccxt), JSON
bodies, signed requests and decimal edge cases. Run once; the fuzzer grows the corpora from here."""
import os, re

here = os.path.dirname(os.path.abspath(__file__))
pairs = re.findall(r'^altname = "([A-Z0-9]+)"', open(os.path.join(here, "../config/default.toml")).read(), re.M)
pair_names = [p for p in pairs if len(p) > 4][:12] or ["XBTUSD"]

def write(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)

bodies = {
    "kraken-doc-addorder": "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25",
    "krakenex-addorder": "pair=XBTUSD&type=buy&ordertype=limit&volume=0.0001&price=1000&oflags=post&nonce=1795468702010",
    "krakenex-queryorders": "txid=OABCDE-FGHIJ-KLMNOP&trades=True&nonce=1795468702054",
    "balance": "nonce=1795468701966",
    "percent-and-plus": "pair=XBT%2FUSD&price=%2B5%25&userref=-12&cl_ord_id=a+b",
    "repeated-key": "nonce=1&nonce=2&pair=XBTUSD&pair=ETHUSD",
    "no-value": "validate&flag=&=empty&&x",
    "invalid-utf8-escape": "a=%FF%FE&b=%C3%A9&c=%zz&d=%4",
    "json-string-nonce": '{"nonce":"1795468547122","pair":"XBTUSD","type":"buy","ordertype":"limit","volume":"0.0001","price":"1000"}',
    "json-number-nonce": '{"nonce": 21, "pair": "XBTUSD", "validate": true, "userref": null}',
    "json-batch": '{"nonce":"1","orders":[{"type":"buy","ordertype":"limit","volume":"1","price":"1"}],"pair":"XXBTZUSD"}',
    "json-cancel-batch": '{"nonce":"1","orders":["OABCDE-FGHIJ-KLMNOP","OQRSTU-VWXYZ-ABCDEF"]}',
    "json-list-mixed": '{"txid":["A",1,true,null,2.5e3],"n":-0.0,"big":1e400,"u":"\\u00e9\\ud83d\\ude00"}',
    "json-duplicate": '{"a":"1","a":"2","b":[]}',
    "json-not-object": '[1,2,3]',
    "json-whitespace": ' \n\t{"nonce" : "5" }  ',
}
for name, b in bodies.items():
    write("request_body", name, b)
write("request_body", "many-fields", "&".join(f"k{i}=v" for i in range(70)))
write("request_body", "long-value", "a=" + "x" * 8200)

orders = {
    "kraken-doc": "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25",
    "market-sell": "pair=XXBTZUSD&type=sell&ordertype=market&volume=0.5",
    "post-only": "pair=XBTUSD&type=buy&ordertype=limit&volume=0.0001&price=1000&oflags=post&nonce=1",
    "all-options": "pair=XBT/USD&type=buy&ordertype=limit&volume=0.01&price=50000.1&oflags=fciq,post&timeinforce=IOC&stptype=cancel-both&userref=42&cl_ord_id=my-order-1&leverage=none&starttm=0&expiretm=0&reduce_only=false&validate=true",
    "too-many-decimals": "pair=XBTUSD&type=buy&ordertype=limit&volume=1&price=37500.123",
    "below-ordermin": "pair=XBTUSD&type=buy&ordertype=limit&volume=0.00000001&price=37500",
    "below-costmin": "pair=XBTUSD&type=buy&ordertype=limit&volume=0.0001&price=0.1",
    "unknown-pair": "pair=NOPE&type=buy&ordertype=limit&volume=1&price=1",
    "json": '{"pair":"XBTUSD","type":"sell","ordertype":"limit","volume":"2","price":"40000","oflags":["post","fcib"]}',
    "huge": "pair=XBTUSD&type=buy&ordertype=limit&volume=999999999999&price=999999999999",
}
for name, b in orders.items():
    write("new_order", name, b)
for p in pair_names:
    write("new_order", f"limit-{p}", f"pair={p}&type=buy&ordertype=limit&volume=10&price=1.5&nonce=1")
    write("new_order", f"market-{p}", f"pair={p}&type=sell&ordertype=market&volume=0.1")

for i, d in enumerate(["0", "1", "0.5", ".5", "5.", "12.340", "00012.3400000", "1000000000000000000", "1000000000000000001",
                       "999999999999999999.9", "0.0000000001", "0.00000000001", "0.10000000", " 7 ", "-1", "+1", "1e5",
                       "1.2.3", ".", "", "1,5", "١٢", "0x10", "99999999999999999999999999999999999999999",
                       "0." + "0" * 58, "1" * 61, "170141183460469231731687303715884105727"]):
    write("decimal", f"{i:02}", d)

key = "FUZZKEY"
signed = {
    "doc-body-real-sign": f"{key}\n=\n1616492376594\n/0/private/AddOrder\nnonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25",
    "nonce-from-body": f"{key}\n=\n*\n/0/private/Balance\nnonce=1795468701966",
    "json-nonce-from-body": f'{key}\n=\n*\n/0/private/AddOrder\n{{"nonce":"1795468547122","pair":"XBTUSD"}}',
    "body-with-newlines": f"{key}\n=\n42\n/0/private/Balance\nnonce=42\n\nmore\nlines",
    "wrong-sign": f"{key}\n4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==\n1616492376594\n/0/private/AddOrder\nnonce=1616492376594",
    "unknown-key": "OTHERKEY\n=\n5\n/0/private/Balance\nnonce=5",
    "padded-key": f"  {key} \n=\n5\n/0/private/Balance\nnonce=5",
    "nonce-zero": f"{key}\n=\n0\n/0/private/Balance\nnonce=0",
    "nonce-max": f"{key}\n=\n18446744073709551615\n/0/private/Balance\nnonce=18446744073709551615",
    "nonce-overflow": f"{key}\n=\n18446744073709551616\n/0/private/Balance\n",
    "nonce-signs": f"{key}\n=\n+5\n/0/private/Balance\n",
    "no-signature": f"{key}\n\n5\n/0/private/Balance\nnonce=5",
    "bad-base64": f"{key}\n%%%not base64\n5\n/0/private/Balance\nnonce=5",
    "empty": "",
}
for name, s in signed.items():
    write("signed_request", name, s)

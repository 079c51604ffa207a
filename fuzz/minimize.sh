#!/usr/bin/env bash
# Keeps, of a grown corpus, the inputs that cover every edge it covers (libFuzzer merge without
# hit counters), then puts the hand-written seeds back. Run after `cargo fuzz run` / cmin.
set -euo pipefail
cd "$(dirname "$0")"
for t in "${@:-request_body signed_request decimal new_order}"; do
  for t in $t; do
    tmp="$(mktemp -d)"
    "target/x86_64-unknown-linux-gnu/release/$t" -merge=1 -use_counters=0 "$tmp" "corpus/$t" 2>&1 | grep -E 'MERGE-OUTER: [0-9]+ new files'
    rm -rf "corpus/$t" && mv "$tmp" "corpus/$t"
  done
done
python3 make_seeds.py

#!/usr/bin/env bash
# The recorded fuzz runs: each target for SECONDS (default 360) on one job with its dictionary,
# then `cargo fuzz cmin` and minimize.sh; prints one line of figures per target for README.md.
# Needs nightly and cargo-fuzz (cargo install cargo-fuzz --locked).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-360}"
shift || true
targets=("${@:-request_body signed_request decimal new_order}")
mkdir -p logs
for t in ${targets[@]}; do
  before=$(ls "corpus/$t" | wc -l)
  cargo +nightly fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -dict="dict/$t.dict" -print_final_stats=1 >"logs/$t.log" 2>&1 || true
  last=$(grep -E '^#[0-9]+' "logs/$t.log" | tail -1)
  execs=$(grep -E 'stat::number_of_executed_units' "logs/$t.log" | awk '{print $2}')
  crashes=$(ls "artifacts/$t" 2>/dev/null | wc -l)
  cargo +nightly fuzz cmin -O "$t" "corpus/$t" -- -dict="dict/$t.dict" >"logs/$t.cmin.log" 2>&1
  ./minimize.sh "$t" >/dev/null
  after=$(ls "corpus/$t" | wc -l)
  size=$(du -sk "corpus/$t" | cut -f1)
  echo "$t: ${secs}s, execs $execs, last: $last, corpus $before -> $after files kept (${size} KiB), artifacts $crashes"
done

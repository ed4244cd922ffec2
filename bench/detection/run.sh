#!/usr/bin/env bash
# Detection benchmark: simulated venues (28 days x 20 locations, injected incidents), the detector vs "3 bad in 10 minutes".
#
# Usage: bench/detection/run.sh [BIN_DIR]   (default: build/bin; env SEEDS, HEADLINE, DAYS, LOCATIONS, INCIDENTS, OUT)
# Prints the headline seed's table (realistic incidents), seeds SEEDS pooled, the oracle bound on
# the pooled realistic runs (oracle.py: a detector that knows the usual rates), and the same for the
# older "weak" incident model as a sensitivity line. Builds nothing: run
# `cmake --build <build> --target kiosk-sim kiosk-replay` first. Pooling needs python3.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-${KIOSK_BIN_DIR:-$here/../../build/bin}}"
seeds="${SEEDS:-1 2 3 4 5 6 7}"
headline="${HEADLINE:-1}"
days="${DAYS:-28}"
locations="${LOCATIONS:-20}"
incidents="${INCIDENTS:-48}"
out="${OUT:-$(mktemp -d)}"

for tool in kiosk-sim kiosk-replay; do
  if [[ ! -x "$bin/$tool" ]]; then
    echo "error bench: $bin/$tool not found; build it (cmake --build <build> --target $tool) or pass BIN_DIR" >&2
    exit 1
  fi
done
command -v python3 >/dev/null || { echo "error bench: python3 is needed to pool the seeds (apt install python3)" >&2; exit 1; }
mkdir -p "$out"

run_one() {  # model seed
  local m="$1" s="$2" d="$out/$1-$2"
  mkdir -p "$d"
  "$bin/kiosk-sim" --days "$days" --locations "$locations" --incidents "$incidents" --seed "$s" \
    --incident-model "$m" --out "$d/presses.csv" --truth "$d/truth.csv" --rates "$d/rates.csv" 2>/dev/null
  "$bin/kiosk-replay" --csv "$d/presses.csv" > "$d/detector.jsonl" 2>/dev/null
  "$bin/kiosk-replay" --csv "$d/presses.csv" --rule naive --naive-bad 3 --naive-minutes 10 > "$d/naive-3in10.jsonl" 2>/dev/null
  # The same rule made strict enough to come near the detector's false-alert rate, for a fair delay comparison.
  "$bin/kiosk-replay" --csv "$d/presses.csv" --rule naive --naive-bad 5 --naive-minutes 10 > "$d/naive-5in10.jsonl" 2>/dev/null
  # And loosened to its least: how many incidents leave even two bad presses to see, at any cost.
  "$bin/kiosk-replay" --csv "$d/presses.csv" --rule naive --naive-bad 2 --naive-minutes 10 > "$d/naive-2in10.jsonl" 2>/dev/null
  local alerts=(--alerts "detector=$d/detector.jsonl" --alerts "3-in-10=$d/naive-3in10.jsonl"
                --alerts "5-in-10=$d/naive-5in10.jsonl" --alerts "2-in-10=$d/naive-2in10.jsonl")
  "$bin/kiosk-replay" --evaluate "$d/truth.csv" --csv "$d/presses.csv" --grace-minutes 10 "${alerts[@]}" --json > "$d/eval.json"
  "$bin/kiosk-replay" --evaluate "$d/truth.csv" --csv "$d/presses.csv" --grace-minutes 10 "${alerts[@]}" > "$d/eval.txt"
}

for m in realistic weak; do
  for s in $seeds; do run_one "$m" "$s"; done
done

echo "detection on $days days x $locations locations, $incidents incidents per seed (files in $out)"
echo
echo "== seed $headline, realistic incidents (the headline)"
cat "$out/realistic-$headline/eval.txt"
echo
python3 "$here/pool.py" "== seeds ${seeds// /,} pooled, realistic incidents" $(for s in $seeds; do echo "$out/realistic-$s/eval.json"; done)
echo
echo "== bound: seeds ${seeds// /,} pooled, realistic incidents, a detector that knows the usual rates (oracle.py)"
python3 "$here/oracle.py" $(for s in $seeds; do echo "$out/realistic-$s"; done)
echo
echo "== sensitivity: the weak incident model (kiosk-sim --incident-model weak), seed $headline"
cat "$out/weak-$headline/eval.txt"
echo
python3 "$here/pool.py" "== sensitivity: weak incident model, seeds ${seeds// /,} pooled" $(for s in $seeds; do echo "$out/weak-$s/eval.json"; done)
echo
echo "detected: an alert opened at the location between incident start and end + 10 min (all incidents count);"
echo "detectable: incidents with >= 3 bad presses by then; evident: incidents whose own presses are"
echo "significant (P < 1e-3) against the location's usual share; delays: medians over detected incidents,"
echo "bad presses since the start (inclusive) and seconds; false: alerts overlapping no incident (10 min grace)."

#!/usr/bin/env bash
# Soak: 20 terminals (real kiosk-firmware), mosquitto and kiosk-hub under steady pressing for a long
# time, no faults; VmRSS and open fds of the hub, the broker and terminal t-00 sampled every 10 s
# into a CSV; verdict = every press stored exactly once AND growth within the stated bounds.
#
# usage: bench/soak/run.sh [--minutes M] [--rate R] [--terminals N] [--build DIR] [--out DIR]
#   --minutes M     pressing time (default 30)
#   --rate R        presses per second, all terminals together (default 200)
#   --terminals N   simulated terminals (default 20)
#   --build DIR     build directory with bin/kiosk-faults, kiosk-hub, kiosk-firmware (default build)
#   --out DIR       where samples.csv and report.json go (default: a fresh temp dir)
# Bounds (after a 2-minute warm-up, against the first sample after it): hub RSS +20 MB, broker RSS
# +20 MB, terminal RSS +5 MB, open fds of each within +-5.
# Exit codes: 0 pass, 1 failed, 2 usage.
set -euo pipefail

MINUTES=30 RATE=200 TERMINALS=20 BUILD=build OUT=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --minutes) MINUTES=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --terminals) TERMINALS=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
BIN=$BUILD/bin
for b in kiosk-faults kiosk-hub kiosk-firmware; do
  [[ -x $BIN/$b ]] || { echo "run.sh: $BIN/$b is missing; build it first (cmake --build $BUILD --target $b)" >&2; exit 1; }
done
[[ -n $OUT ]] || OUT=$(mktemp -d "${TMPDIR:-/tmp}/kiosk-soak-XXXXXX")
mkdir -p "$OUT"
CSV=$OUT/samples.csv
WARMUP_S=120
HUB_MB=20 BROKER_MB=20 FW_MB=5 FD_SPREAD=5

echo "soak: $TERMINALS terminals, $RATE presses/s, $MINUTES min; samples in $CSV"
status=0
"$BIN/kiosk-faults" --duration $((MINUTES * 60)) --rate "$RATE" --terminals "$TERMINALS" --no-faults \
  --samples "$CSV" --sample-every 10 --drain-timeout 180 --json --quiet --work "$OUT/work" \
  >"$OUT/report.json" 2>"$OUT/summary.txt" || status=1
cat "$OUT/summary.txt"

# start = first sample at or after the warm-up (the first one if the run is shorter).
awk -F, -v warm=$WARMUP_S -v hub_mb=$HUB_MB -v broker_mb=$BROKER_MB -v fw_mb=$FW_MB -v spread=$FD_SPREAD '
  NR == 1 { next }
  { n++; t[n] = $1; h[n] = $2; hf[n] = $3; b[n] = $4; bf[n] = $5; f[n] = $6; ff[n] = $7 }
  END {
    if (n == 0) { print "soak: no samples"; exit 1 }
    s = 1; for (i = 1; i <= n; i++) if (t[i] >= warm) { s = i; break }
    split("hub broker t-00", names, " ")
    ok = 1
    for (k = 1; k <= 3; k++) {
      maxr = 0; minfd = 1e9; maxfd = 0
      for (i = s; i <= n; i++) {
        r = (k == 1 ? h[i] : k == 2 ? b[i] : f[i]); d = (k == 1 ? hf[i] : k == 2 ? bf[i] : ff[i])
        if (r > maxr) maxr = r; if (d < minfd) minfd = d; if (d > maxfd) maxfd = d
      }
      r0 = (k == 1 ? h[s] : k == 2 ? b[s] : f[s]); r1 = (k == 1 ? h[n] : k == 2 ? b[n] : f[n])
      d0 = (k == 1 ? hf[s] : k == 2 ? bf[s] : ff[s]); d1 = (k == 1 ? hf[n] : k == 2 ? bf[n] : ff[n])
      first = (k == 1 ? h[1] : k == 2 ? b[1] : f[1])
      bound = (k == 1 ? hub_mb : k == 2 ? broker_mb : fw_mb) * 1024
      grow = r1 - r0
      verdict = (grow <= bound && maxfd - minfd <= spread) ? "ok" : "FAIL"
      if (verdict != "ok") ok = 0
      printf "soak: %-6s RSS kB first %d, after warm-up (t=%ds) %d, end (t=%ds) %d, max %d, growth %+d (bound +%d); fds %d..%d (start %d, end %d, bound +-%d): %s\n",
        names[k], first, t[s], r0, t[n], r1, maxr, grow, bound, minfd, maxfd, d0, d1, spread, verdict
    }
    exit ok ? 0 : 1
  }' "$CSV" || status=1
echo "soak: verdict $([[ $status -eq 0 ]] && echo PASS || echo FAIL) (report: $OUT/report.json)"
exit $status

#!/usr/bin/env bash
# Builds the protocol's libFuzzer targets with clang and runs each for a while, seeded from protocol/vectors.
set -uo pipefail

ALL_TARGETS=(press ack status telemetry config alert alert_ack hub_status topic time time_zone)

usage() {
  cat <<USAGE
usage: tools/fuzz.sh [--seconds N] [--build-dir DIR] [target...]

Configures DIR (default: build-fuzz) with clang++ and -DKIOSK_FUZZ=ON, builds the fuzz
targets, then runs each one for N seconds (default 60), one after the other, with a seed
corpus taken from protocol/vectors/*.json. Targets: ${ALL_TARGETS[*]} (default: all).

Prints one line per target:
  fuzz <name>: <runs> runs in <s>s, clean
or, when the fuzzer finds a crash, the reproducer path and the end of its log.
Corpora grow in DIR/fuzz/corpus/<name>, logs in DIR/fuzz/logs/<name>.log.

Exit status: 0 every target clean, 1 a crash or a build failure, 2 usage error.
USAGE
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds=60
build_dir="$root/build-fuzz"
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --seconds)
      [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || { echo "error: fuzz.sh: --seconds needs a positive integer; see --help" >&2; exit 2; }
      seconds="$2"; shift 2 ;;
    --build-dir)
      [[ $# -ge 2 ]] || { echo "error: fuzz.sh: --build-dir needs a directory; see --help" >&2; exit 2; }
      build_dir="$2"; shift 2 ;;
    -*) echo "error: fuzz.sh: unknown option $1; see --help" >&2; exit 2 ;;
    *)
      if [[ " ${ALL_TARGETS[*]} " != *" $1 "* ]]; then
        echo "error: fuzz.sh: unknown target '$1' (choose from: ${ALL_TARGETS[*]})" >&2; exit 2
      fi
      targets+=("$1"); shift ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=("${ALL_TARGETS[@]}")

for tool in clang++ cmake jq; do
  command -v "$tool" >/dev/null || { echo "error: fuzz.sh: $tool not found; install it (clang-14, cmake, jq)" >&2; exit 1; }
done

mkdir -p "$build_dir"
echo "info fuzz: configuring $build_dir"
if ! cmake -S "$root" -B "$build_dir" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DKIOSK_TESTS=OFF -DKIOSK_FUZZ=ON >"$build_dir/fuzz-configure.log" 2>&1; then
  echo "error: fuzz.sh: configure failed; see $build_dir/fuzz-configure.log" >&2; exit 1
fi
build_targets=()
for t in "${targets[@]}"; do build_targets+=("fuzz_$t"); done
echo "info fuzz: building ${build_targets[*]}"
if ! cmake --build "$build_dir" --target "${build_targets[@]}" -j2 >"$build_dir/fuzz-build.log" 2>&1; then
  echo "error: fuzz.sh: build failed; see $build_dir/fuzz-build.log" >&2; exit 1
fi

work="$build_dir/fuzz"
mkdir -p "$work/logs" "$work/crashes"

# Seeds: every payload/topic/text of the matching vector file, one file each.
seed() {
  local target="$1" dir="$2" file field
  case "$target" in
    topic) file=topics.json; field=topic ;;
    time) file=time.json; field=text ;;
    *) file="$target.json"; field=payload ;;
  esac
  rm -rf "$dir"; mkdir -p "$dir"
  if [[ $target == time_zone ]]; then  # a few real zones and rules from the tz database
    local z
    for z in Europe/Berlin Australia/Lord_Howe America/Santiago Asia/Kolkata UTC; do
      cp "/usr/share/zoneinfo/$z" "$dir/${z//\//-}" || return 1
      tail -n 1 "/usr/share/zoneinfo/$z" >"$dir/rule-${z//\//-}"
    done
    return 0
  fi
  local n i
  n="$(jq '.vectors | length' "$root/protocol/vectors/$file")" || return 1
  for ((i = 0; i < n; i++)); do
    jq -j ".vectors[$i].$field" "$root/protocol/vectors/$file" >"$dir/vector-$i" || return 1
  done
}

failed=0
for t in "${targets[@]}"; do
  corpus="$work/corpus/$t"
  seeds="$work/seeds/$t"
  log="$work/logs/$t.log"
  mkdir -p "$corpus"
  if ! seed "$t" "$seeds"; then
    echo "fuzz $t: could not build the seed corpus from protocol/vectors"; failed=1; continue
  fi
  start=$(date +%s)
  "$build_dir/bin/fuzz_$t" "$corpus" "$seeds" \
      -dict="$root/tests/fuzz/protocol.dict" -max_len=9000 -timeout=10 -rss_limit_mb=2048 \
      -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$work/crashes/$t-" >"$log" 2>&1
  status=$?
  elapsed=$(( $(date +%s) - start ))
  runs="$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)"
  if [[ $status -eq 0 && -n "$runs" ]]; then
    echo "fuzz $t: $runs runs in ${elapsed}s, clean"
  else
    failed=1
    artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)"
    echo "fuzz $t: CRASH (exit $status) after ${elapsed}s; reproducer: ${artifact:-none}; log: $log"
    grep -E "kiosk fuzz:|  input:|  detail:|ERROR: |SUMMARY: |runtime error" "$log" | head -12 | sed 's/^/  /'
  fi
done
exit "$failed"

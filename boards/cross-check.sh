#!/usr/bin/env bash
# Cross-builds kiosk-firmware for 64-bit ARM and runs that binary under qemu-user against a real
# mosquitto on 127.0.0.1: one simulated press must be published, acknowledged and leave the outbox.
#
# Usage: boards/cross-check.sh [--install] [--build-dir DIR]
#   --install        first install the cross compiler, qemu-user-static and the :arm64 -dev
#                    packages (Debian multiarch; refuses if apt would remove any package)
#   --build-dir DIR  where to build (default: build-arm64)
# Exit: 0 the arm64 firmware works end to end, 1 it does not (the logs are printed), 2 usage.
set -euo pipefail

cd "$(dirname "$0")/.."
build=build-arm64
install=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --install) install=1 ;;
    --build-dir) [[ $# -ge 2 ]] || { echo "error cross-check: --build-dir needs a value" >&2; exit 2; }; build="$2"; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error cross-check: unknown option $1 (see boards/cross-check.sh --help)" >&2; exit 2 ;;
  esac
  shift
done

packages=(g++-aarch64-linux-gnu qemu-user-static
          libboost1.81-dev:arm64 libboost-json1.81-dev:arm64 libpaho-mqttpp-dev:arm64 libpaho-mqtt-dev:arm64
          libssl-dev:arm64 libsqlite3-dev:arm64 libgpiod-dev:arm64)
if [[ $install -eq 1 ]]; then
  tools/setup.sh
  export DEBIAN_FRONTEND=noninteractive
  dpkg --add-architecture arm64
  apt-get update -qq
  # A :arm64 library must be the same version as its amd64 twin; when the machine's packages are
  # older than the archive's, apt "solves" that by removing the amd64 ones (the compiler included).
  if apt-get install -s --no-install-recommends "${packages[@]}" | grep -q '^Remv'; then
    echo "error cross-check: installing the arm64 packages would remove installed ones; run apt-get upgrade first" >&2
    exit 1
  fi
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
for tool in aarch64-linux-gnu-g++ qemu-aarch64-static mosquitto mosquitto_sub mosquitto_pub ss; do
  command -v "$tool" >/dev/null || { echo "error cross-check: $tool not found (run with --install)" >&2; exit 1; }
done

cmake --no-warn-unused-cli -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=boards/toolchains/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
  -DKIOSK_TESTS=OFF -DKIOSK_BENCH=OFF >/dev/null
cmake --build "$build" --target kiosk-firmware -j"$(nproc)" >/dev/null
firmware="$build/bin/kiosk-firmware"

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port=0
for _ in $(seq 50); do  # a free port on 127.0.0.1
  p=$((20000 + RANDOM % 10000))
  ss -ltn "sport = :$p" | grep -q LISTEN || { port=$p; break; }
done
[[ $port -ne 0 ]] || { echo "error cross-check: no free port found" >&2; exit 1; }
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" > "$work/mosquitto.conf"
[[ $(id -u) -eq 0 ]] && echo "user root" >> "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" > "$work/broker.log" 2>&1 & pids+=($!)

# Wait for a line in a file, at most $2 seconds.
wait_for() {
  local pattern="$1" file="$2" seconds="$3"
  for _ in $(seq $((seconds * 10))); do grep -q "$pattern" "$file" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
wait_for "running" "$work/broker.log" 10 || { cat "$work/broker.log"; exit 1; }
mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -t 'kiosk/v1/check/device/#' -v > "$work/wire.log" 2>&1 & pids+=($!)
wait_for "New client connected" "$work/broker.log" 10 || true
qemu-aarch64-static "$firmware" --device arm-1 --site check --broker "tcp://127.0.0.1:$port" --board sim-4 \
  --data-dir "$work/fw" --sim-input "$work/buttons.fifo" --telemetry-s 1 > "$work/firmware.log" 2>&1 & fw=$!
pids+=("$fw")

ok=1
if wait_for '/status {"state":"online"' "$work/wire.log" 60; then
  echo "press 0" > "$work/buttons.fifo"
  if wait_for '/press ' "$work/wire.log" 30; then
    seq=$(grep '/press ' "$work/wire.log" | head -1 | sed 's/.*"seq":\([0-9]*\).*/\1/')
    mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t kiosk/v1/check/device/arm-1/ack -m "{\"seqs\":[$seq]}"
    # A telemetry message after the ack reports an empty outbox.
    after=$(wc -l < "$work/wire.log")
    for _ in $(seq 300); do
      tail -n +"$((after + 1))" "$work/wire.log" | grep -q '/telemetry {"uptime_s":[0-9]*,"queued":0' && { ok=0; break; }
      sleep 0.1
    done
  fi
fi
kill -TERM "$fw" 2>/dev/null || true
wait "$fw" 2>/dev/null && grep -q "stopped; 0 presses kept" "$work/firmware.log" || ok=1
echo "== on the wire"; grep -v telemetry "$work/wire.log" | head -5
echo "== firmware (aarch64 under qemu)"; cat "$work/firmware.log"
if [[ $ok -eq 0 ]]; then
  echo "cross-check: ok: the arm64 firmware stored, published and forgot an acknowledged press"
else
  echo "cross-check: FAILED (broker log follows)" >&2; cat "$work/broker.log" >&2
fi
exit $ok

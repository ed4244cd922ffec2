#!/usr/bin/env bash
# Hub ingest benchmark: mosquitto on a free loopback port, a hub with a temp db and pre-registered
# devices, then kiosk-loadgen in hub mode (stored + acked end to end) and in bare mode (a plain
# subscriber on the same broker, same settings) and the ratio of the two.
#
# usage: bench/hub/run.sh [--build DIR] [--devices N] [--rate R] [--duration S] [--clients C] [--ack-qos 0|1] [--keep]
# Exit codes: 0 ok, 1 failed, 2 usage.
set -euo pipefail

BUILD=build DEVICES=1000 RATE=10000 DURATION=10 CLIENTS=4 KEEP=0 ACK_QOS=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --devices) DEVICES=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --ack-qos) ACK_QOS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
BIN=$BUILD/bin
for b in kiosk-hub kiosk-loadgen; do
  [[ -x $BIN/$b ]] || { echo "run.sh: $BIN/$b is missing; build it first (cmake --build $BUILD --target $b)" >&2; exit 1; }
done

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $KEEP == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

command -v python3 >/dev/null || { echo "error bench: python3 is needed (apt-get install python3)" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
# The broker may hold a backlog for a slow subscriber instead of dropping QoS 1 messages at the
# default 1000, and pipeline more than 20 unacknowledged deliveries per client. Same for both modes.
cat > "$WORK/mosquitto.conf" <<CONF
listener $PORT 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 1000
max_queued_messages 1000000
CONF
mosquitto -c "$WORK/mosquitto.conf" > "$WORK/mosquitto.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done

"$BIN/kiosk-hub" --broker "tcp://127.0.0.1:$PORT" --site bench --db "$WORK/data/hub.db" --http 127.0.0.1:0 \
  --port-file "$WORK/hub.port" --register-devices "lg:$DEVICES:bench" --ack-qos "$ACK_QOS" > "$WORK/hub.log" 2>&1 &
HUB=$!
PIDS+=($HUB)
for _ in $(seq 200); do [[ -s $WORK/hub.port ]] && break; sleep 0.05; done
HTTP=$(cat "$WORK/hub.port")
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$HTTP/health" > /dev/null && break; sleep 0.05; done
curl -sf "http://127.0.0.1:$HTTP/health" > /dev/null || { echo "run.sh: the hub did not become healthy:" >&2; cat "$WORK/hub.log" >&2; exit 1; }

COMMON=(--broker "tcp://127.0.0.1:$PORT" --devices "$DEVICES" --rate "$RATE" --duration "$DURATION" --clients "$CLIENTS" --json)
HUB_JSON=$("$BIN/kiosk-loadgen" --site bench --mode hub "${COMMON[@]}")
BARE_JSON=$("$BIN/kiosk-loadgen" --site bench-bare --mode bare "${COMMON[@]}")
STORED=$(sqlite3 "file:$WORK/data/hub.db?mode=ro" "SELECT COUNT(*) FROM presses" 2>/dev/null || echo "?")

python3 - "$HUB_JSON" "$BARE_JSON" "$STORED" "$ACK_QOS" <<'PY'
import json, sys
hub, bare, stored = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
print(f"ack QoS {sys.argv[4]}; devices {hub['devices']} on {hub['clients']} connections, target {hub['rate_target']:.0f}/s for {hub['duration_s']:.0f} s")
print(f"hub : sent {hub['sent']} ({hub['sent_per_s']:.0f}/s), stored+acked {hub['acked']} ({hub['acked_per_s']:.0f}/s), "
      f"missing {hub['missing']}, ack latency p50 {hub['latency_p50_ms']:.1f} ms p99 {hub['latency_p99_ms']:.1f} ms; rows in db {stored}")
print(f"bare: sent {bare['sent']} ({bare['sent_per_s']:.0f}/s), received {bare['received']} ({bare['received_per_s']:.0f}/s), "
      f"missing {bare['missing']}, latency p50 {bare['latency_p50_ms']:.1f} ms p99 {bare['latency_p99_ms']:.1f} ms")
ratio = hub['acked_per_s'] / bare['received_per_s'] if bare['received_per_s'] else 0
print(f"ratio hub/bare {ratio:.2f}")
print(json.dumps({"hub": hub, "bare": bare, "ratio": round(ratio, 3), "rows_in_db": stored}))
PY
curl -s "http://127.0.0.1:$HTTP/metrics" | grep -E '^kiosk_(presses|commit_batches|acks|rejected)' || true

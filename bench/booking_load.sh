#!/usr/bin/env bash
# Booking load over HTTP (issue 7): start `yiwei serve` on a fresh SQLite data folder on
# 127.0.0.1, drive it with `yiwei bench booking-http` (a Rust client: phones booking with
# `POST /fhir/Appointment` and their bearer tokens), check the invariants in the database,
# print a markdown table, stop the server and delete the folder.
#
#   bench/booking_load.sh [rate] [seconds]      (default 1000 bookings/s offered for 10 s)
#
# Phases (see crates/yiwei/src/bench_booking_http.rs): 200 clients closed loop against
# 50 slots × 2 seats (contention), 200 clients closed loop against 50 × 200 (throughput),
# then an open loop at the fixed rate. Bounded: at most 10,000 requests a phase, 10 s per
# request, 5 minutes a phase, and the whole run under `timeout 900`.
#
# Environment: BENCH_YIWEI names the binary (default: $CARGO_TARGET_DIR/release/yiwei, or
# target/release/yiwei; built here when missing or when BENCH_BUILD=1); BENCH_PORT the port
# (default 18097); BENCH_CLIENTS, BENCH_SLOTS, BENCH_SEATS the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE="${1:-1000}"
SECONDS_OPEN="${2:-10}"
PORT="${BENCH_PORT:-18097}"
BENCH_YIWEI="${BENCH_YIWEI:-${CARGO_TARGET_DIR:-target}/release/yiwei}"
WORK="$(mktemp -d /tmp/yiwei-booking-load.XXXXXX)"

if [ ! -x "$BENCH_YIWEI" ] || [ "${BENCH_BUILD:-0}" = 1 ]; then
  cargo build --release -p yiwei
fi

cleanup() {
  status=$?
  if [ "$status" != 0 ]; then
    echo "failed (exit $status); the server's log:" >&2
    tail -n 20 "$WORK/serve.log" >&2 || true
  fi
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# The server: quiet log (warnings only), its own fresh database.
YIWEI_LOG_FILTER=warn "$BENCH_YIWEI" --data-dir "$WORK/data" serve --listen "127.0.0.1:$PORT" \
  >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "yiwei serve exited" >&2
    exit 1
  fi
  sleep 0.5
done

echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB; load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo
timeout 900 "$BENCH_YIWEI" --data-dir "$WORK/data" bench booking-http \
  --url "http://127.0.0.1:$PORT" --rate "$RATE" --seconds "$SECONDS_OPEN" \
  --clients "${BENCH_CLIENTS:-200}" --slots "${BENCH_SLOTS:-50}" --seats "${BENCH_SEATS:-2}"
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

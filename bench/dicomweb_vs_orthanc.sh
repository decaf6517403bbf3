#!/usr/bin/env bash
# DICOMweb side by side: yiwei and Orthanc (with its DICOMweb plugin) on 127.0.0.1, the same
# generated instances, independent clients (pydicom, dicomweb-client). Measures STOW-RS and
# WADO-RS instances per second and QIDO-RS latency for both in one run, and checks that
# every instance comes back byte for byte. Issue 8; results go into docs/benchmarks.md.
#
#   bench/dicomweb_vs_orthanc.sh [instances]        (default 500)
#
# Installs what it needs itself: Debian `orthanc orthanc-dicomweb` (as root) and PyPI
# `pydicom dicomweb-client` into a virtual environment. BENCH_YIWEI names the yiwei binary
# (default: target/release/yiwei, built here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-500}"
WORK="$(mktemp -d /tmp/yiwei-vs-orthanc.XXXXXX)"
VENV="${BENCH_VENV:-/tmp/yiwei-bench-venv}"
BENCH_YIWEI="${BENCH_YIWEI:-${CARGO_TARGET_DIR:-target}/release/yiwei}"
YIWEI_PORT=18080
ORTHANC_PORT=18042

if ! command -v Orthanc >/dev/null || [ ! -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq orthanc orthanc-dicomweb python3-venv >/dev/null
  else
    echo "install the Debian packages orthanc and orthanc-dicomweb first (needs root)" >&2
    exit 2
  fi
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q pydicom dicomweb-client requests
if [ ! -x "$BENCH_YIWEI" ]; then
  cargo build --release -p yiwei
fi

cleanup() {
  status=$?
  if [ "$status" != 0 ]; then
    echo "failed (exit $status); the servers' logs:" >&2
    tail -n 20 "$WORK"/*.log >&2 || true
  fi
  [ -n "${YIWEI_PID:-}" ] && kill "$YIWEI_PID" 2>/dev/null || true
  [ -n "${ORTHANC_PID:-}" ] && kill "$ORTHANC_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Orthanc: local only, no authentication, storage in the scratch folder.
mkdir -p "$WORK/orthanc-db"
PLUGIN=/usr/share/orthanc/plugins/libOrthancDicomWeb.so
cat > "$WORK/orthanc.json" <<JSON
{
  "Name": "bench",
  "StorageDirectory": "$WORK/orthanc-db",
  "IndexDirectory": "$WORK/orthanc-db",
  "HttpPort": $ORTHANC_PORT,
  "DicomPort": 0,
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false,
  "Plugins": ["$PLUGIN"],
  "DicomWeb": {"Enable": true, "Root": "/dicom-web/"}
}
JSON
Orthanc "$WORK/orthanc.json" > "$WORK/orthanc.log" 2>&1 &
ORTHANC_PID=$!

# yiwei: a small demo county, a radiologist's token, serve on 127.0.0.1.
"$BENCH_YIWEI" --data-dir "$WORK/yiwei" demo --no-serve --residents-per-village 1 > "$WORK/yiwei-demo.log" 2>&1
TOKEN="$("$BENCH_YIWEI" --data-dir "$WORK/yiwei" user token radiology 2>/dev/null | tail -1)"
YIWEI_LOG__LEVEL=warn "$BENCH_YIWEI" --data-dir "$WORK/yiwei" serve --listen "127.0.0.1:$YIWEI_PORT" > "$WORK/yiwei.log" 2>&1 &
YIWEI_PID=$!

for url in "http://127.0.0.1:$ORTHANC_PORT/system" "http://127.0.0.1:$YIWEI_PORT/healthz"; do
  for _ in $(seq 1 100); do
    curl -sf "$url" >/dev/null && break
    sleep 0.2
  done
done

"$VENV/bin/python" bench/dicomweb_vs_orthanc.py \
  --instances "$N" \
  --yiwei "http://127.0.0.1:$YIWEI_PORT/dicom-web" --token "$TOKEN" \
  --orthanc "http://127.0.0.1:$ORTHANC_PORT/dicom-web" \
  --yiwei-pid "$YIWEI_PID" --orthanc-pid "$ORTHANC_PID"

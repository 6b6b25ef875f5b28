#!/usr/bin/env bash
# sendmessage throughput: wxlink's ilink crate vs WeiLink 0.6.2's SDK, side by side on the same
# fake iLink server (wxlink sandbox, its own process) in one run. Prints both and the ratios.
#
#   bench/send.sh [COUNT] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-5000}
CONC=${2:-16}
VENV=$(bash tests/interop/setup-venv.sh | tail -n 1)
cargo build --release -q -p wxlink
cargo build --release -q -p ilink --example send_bench
TARGET=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
BIN=$TARGET/release/wxlink
"$BIN" sandbox --port 0 --json --hold-ms 100 >"${TMPDIR:-/tmp}/wxlink-bench-sandbox.json" &
SANDBOX=$!
trap 'kill $SANDBOX 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  [ -s "${TMPDIR:-/tmp}/wxlink-bench-sandbox.json" ] && break
  sleep 0.1
done
BASE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["base_url"])' "${TMPDIR:-/tmp}/wxlink-bench-sandbox.json")
echo "fake iLink at $BASE ($(nproc) cores)"
RUST=$("$TARGET/release/examples/send_bench" "$BASE" "$COUNT" "$CONC")
PY=$("$VENV/bin/python" bench/weilink_send.py "$BASE" "$(( COUNT < 2000 ? COUNT : 2000 ))")
python3 - "$RUST" "$PY" <<'PYEOF'
import json, sys
r, w = json.loads(sys.argv[1]), json.loads(sys.argv[2])
rs, ws, rc = r["sequential"], w["sequential"], r["concurrent"]
print(f"{'client':<28}{'sends':>8}{'sends/s':>12}{'p50 ms':>10}{'p99 ms':>10}")
print(f"{'WeiLink 0.6.2, sequential':<28}{ws['count']:>8}{ws['per_sec']:>12.0f}{ws['p50_ms']:>10.3f}{ws['p99_ms']:>10.3f}")
print(f"{'wxlink ilink, sequential':<28}{rs['count']:>8}{rs['per_sec']:>12.0f}{rs['p50_ms']:>10.3f}{rs['p99_ms']:>10.3f}")
print(f"{'wxlink ilink, ' + str(rc['concurrency']) + ' in flight':<28}{rc['count']:>8}{rc['per_sec']:>12.0f}{'':>10}{'':>10}")
print(f"ratio sequential: {rs['per_sec']/ws['per_sec']:.1f}x; concurrent vs WeiLink: {rc['per_sec']/ws['per_sec']:.1f}x; p50 latency: {ws['p50_ms']/rs['p50_ms']:.1f}x lower")
PYEOF

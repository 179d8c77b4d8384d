#!/usr/bin/env bash
# Cold start to /readyz of the all-in-one, compiled (what the image runs: node dist/server/main.js)
# against TypeScript through SWC (scripts/run-ts.cjs, what the image ran before), same machine,
# alternating, N runs each (default 3). Each run: a fresh data dir (so a fresh embedded
# nats-server and first-start token), the process started, /readyz polled every 50 ms.
#   bash bench/startup/cold-start.sh [runs]
# The image's own figure (buildah run of the built image) is printed by e2e/src/image.e2e-spec.ts.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
node scripts/build.cjs server >/dev/null
measure() { # label port cmd...
  local label=$1 port=$2; shift 2
  local d; d=$(mktemp -d)
  local t0; t0=$(date +%s%N)
  FIRN_PORT=$port FIRN_DATA_DIR=$d FIRN_LOG_LEVEL=warn "$@" >"$d/log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 2400); do
    if curl -sf "localhost:$port/readyz" >/dev/null; then break; fi
    sleep 0.05
  done
  echo "$label $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  kill -TERM $pid; wait $pid || true
  rm -rf "$d"
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$runs"); do
  measure compiled 17170 node dist/server/main.js all-in-one
  measure swc 17171 node scripts/run-ts.cjs apps/all-in-one/src/main.ts
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

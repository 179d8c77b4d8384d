#!/usr/bin/env bash
# Compiles the agent's BPF program into the cache the agent reads (node_modules/.cache/firn-agent).
# Optional: the agent does the same on start when the object is missing or its source changed.
set -euo pipefail
cd "$(dirname "$0")/../../.."
node scripts/run-ts.cjs libs/agent/bpf/build.ts

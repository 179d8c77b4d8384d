#!/usr/bin/env bash
# The whole test suite, as CI runs it: types, lint (incl. module boundaries), then every unit,
# integration (real NATS, Redis, S3-compatible server, debuginfod) and e2e test.
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false

echo "== typecheck"
npx tsc -p tsconfig.json --noEmit

echo "== lint"
# The module-boundary rule needs the project graph; without it the rule silently skips itself.
npx nx show projects >/dev/null
npx eslint --max-warnings=0 .

echo "== tests"
npx vitest run "$@"

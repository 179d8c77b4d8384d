#!/usr/bin/env bash
# The whole test suite, as CI runs it: types, lint (incl. module boundaries), then every unit,
# integration (real NATS, Redis, S3-compatible server, debuginfod) and e2e test.
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false

echo "== typecheck"
npx tsc -p tsconfig.json --noEmit
npx tsc -p apps/web/tsconfig.json --noEmit
# The Grafana plugin is browser code (DOM, JSX): its own tsconfig.
npx tsc -p plugins/grafana-datasource/tsconfig.json --noEmit

echo "== lint"
# The module-boundary rule needs the project graph; without it the rule silently skips itself.
npx nx show projects >/dev/null
npx eslint --max-warnings=0 .

echo "== format (Prettier; npm run format fixes it)"
npx prettier --check --log-level warn .

echo "== build (the Grafana plugin's dist/ and zip, which its tests load)"
npx nx run grafana-datasource:build --output-style=stream

echo "== tests"
mkdir -p tmp
rc=0
npx vitest run --reporter=default --reporter=json --outputFile.json=tmp/vitest-results.json "$@" || rc=$?
# One plain closing line that any CI log reader understands.
node -e '
  const r = require("./tmp/vitest-results.json");
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' || true
exit $rc

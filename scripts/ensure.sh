#!/usr/bin/env bash
# Makes a fresh Debian machine with Node 20 ready to run Firn: checks Node, installs npm
# dependencies when missing or stale, and the Debian packages the chosen mode needs.
#   scripts/ensure.sh          what `npm start` needs (nats-server for the embedded JetStream)
#   scripts/ensure.sh --test   what `npm test` needs (every server the test harness starts)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'firn setup: %s\n' "$*"; }

node_major=$(node -p 'process.versions.node.split(".")[0]')
node_minor=$(node -p 'process.versions.node.split(".")[1]')
if (( node_major < 20 || (node_major == 20 && node_minor < 19) )); then
  say "Node $(node -v) is too old: Firn needs Node >= 20.19"; exit 1
fi

# Install when node_modules is missing or older than the lockfile (a fresh clone, or a pull that
# changed dependencies). `npm install --no-save` installs exactly the locked versions without
# rewriting the lockfile; `npm ci` is not used because this registry omits other platforms'
# optional binary packages (swc, buf, duckdb), which makes `npm ci` refuse the lockfile.
# npm 11 skips dependencies' install scripts; we only use packages that ship prebuilt binaries,
# so nothing needs approving.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "installing npm dependencies"
  npm install --no-save --no-audit --no-fund --loglevel=error
else
  say "npm dependencies up to date"
fi

# The web UI the gateway serves at / (dist/web), rebuilt only when its sources changed.
node scripts/build-web.cjs

if [[ "${1:-}" == "--test" ]]; then
  bash scripts/install-system-deps.sh --all
  # helm and kubectl for the chart tests (extracted once into .firn/tools)
  node scripts/k8s-tools.cjs >/dev/null
else
  # nats-server (embedded JetStream), binutils + elfutils (symbolizer), clang + libbpf-dev (local agent),
  # llvm (llvm-symbolizer for the PGO export)
  bash scripts/install-system-deps.sh nats-server binutils elfutils clang libbpf-dev llvm
fi

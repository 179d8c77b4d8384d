#!/usr/bin/env bash
# Regenerates the TypeScript for every contract in proto/ into libs/proto/src/gen.
# Lints first so a contract that breaks our rules never reaches generated code. The old
# output is removed before generating, so files for deleted .proto files disappear too.
# Output is reproducible: buf and protoc-gen-es come from node_modules (versions pinned in
# package-lock.json) and neither writes timestamps or machine paths into the files.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

buf="node_modules/.bin/buf"
plugin="node_modules/.bin/protoc-gen-es"
for tool in "$buf" "$plugin"; do
  if [[ ! -x "$tool" ]]; then
    echo "proto-gen: $tool is missing; install dependencies first (npm ci)" >&2
    exit 1
  fi
done

"$buf" lint proto
rm -rf libs/proto/src/gen
"$buf" generate proto --template proto/buf.gen.yaml
echo "proto-gen: regenerated libs/proto/src/gen"

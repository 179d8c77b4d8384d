#!/usr/bin/env bash
# Regenerates ./gen: TypeScript clients for Pyroscope's public APIs, built from Pyroscope's own
# .proto files (grafana/pyroscope, api/), not from Firn's proto/. Test-only: the e2e tests use
# them to talk to Firn exactly as a client compiled from upstream would.
#
# Usage: generate.sh <grafana/pyroscope git dir or checkout> [commit]   (default commit: the one
# recorded in README.md). Example, with the repository tools of this project's sessions:
#   generate.sh /work/.mirror/grafana+pyroscope/repo
#
# The only change made to the upstream files: the gnostic OpenAPI annotations (an import and
# `(gnostic.openapi.v3.*)` options, documentation metadata that never reaches the wire) are
# removed, because their proto dependency lives in the Buf registry, which is not reachable
# offline. Messages, fields, numbers, enums and services are untouched.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
src="${1:?usage: generate.sh <grafana/pyroscope git dir> [commit]}"
commit="${2:-$(sed -n 's/^upstream commit: `\([0-9a-f]*\)`.*/\1/p' "$here/README.md")}"
git_dir="$src"
[[ -d "$src/.git" ]] && git_dir="$src/.git"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for f in querier/v1/querier.proto types/v1/types.proto google/v1/profile.proto push/v1/push.proto; do
  mkdir -p "$tmp/$(dirname "$f")"
  git --git-dir "$git_dir" show "$commit:api/$f" |
    sed -e '/^import "gnostic\/openapi\/v3\/annotations.proto";$/d' \
        -e '/^[[:space:]]*option (gnostic\.openapi\.v3\.[a-z]*)[^;]*;$/d' \
        -e 's/ \[(gnostic\.openapi\.v3\.property)\.example = {yaml: ".*"}\];$/;/' >"$tmp/$f"
  if grep -q gnostic "$tmp/$f"; then
    echo "generate.sh: a gnostic annotation in $f was not removed; extend the sed rules" >&2
    exit 1
  fi
done
cat >"$tmp/buf.gen.yaml" <<YAML
version: v2
clean: true
plugins:
  - local: $root/node_modules/.bin/protoc-gen-es
    out: $here/gen
    opt: [target=ts, import_extension=none]
YAML
(cd "$tmp" && "$root/node_modules/.bin/buf" generate . --template buf.gen.yaml)
echo "generate.sh: regenerated $here/gen from grafana/pyroscope $commit"

#!/usr/bin/env bash
# `npm run image`: builds Firn's images from the Dockerfile with whichever of docker, podman or
# buildah this machine has (docker only when its engine answers).
#   scripts/image.sh [--target server|agent|all] [--tag TAG] [--push] [-- extra build flags]
# Images: ${FIRN_IMAGE:-firn}:<tag> (servers) and ${FIRN_IMAGE:-firn}-agent:<tag> (the agent);
# TAG defaults to package.json's version. Build args pass through after `--`, e.g.
#   scripts/image.sh -- --build-arg NODE_IMAGE=registry.example.com/node:20-bookworm-slim
# buildah runs with BUILDAH_ISOLATION (default chroot, which works inside unprivileged containers).
set -euo pipefail
cd "$(dirname "$0")/.."

target=all
tag=$(node -p 'require("./package.json").version')
push=0
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --target) target="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --push) push=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "image: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
repo="${FIRN_IMAGE:-firn}"

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  tool=(docker build)
  pusher=(docker push)
elif command -v podman >/dev/null 2>&1; then
  tool=(podman build --layers)
  pusher=(podman push)
elif command -v buildah >/dev/null 2>&1; then
  tool=(buildah bud --layers --isolation "${BUILDAH_ISOLATION:-chroot}")
  pusher=(buildah push)
else
  echo "image: none of docker (with a running engine), podman or buildah found; on Debian: apt-get install buildah" >&2
  exit 1
fi

build() { # target image
  echo "image: ${tool[0]}: $2 (target $1)"
  "${tool[@]}" --target "$1" -t "$2" -f Dockerfile "${extra[@]}" .
  if [[ $push -eq 1 ]]; then "${pusher[@]}" "$2"; fi
}

case "$target" in
  server) build server "$repo:$tag" ;;
  agent) build agent "$repo-agent:$tag" ;;
  all) build server "$repo:$tag"; build agent "$repo-agent:$tag" ;;
  *) echo "image: --target must be server, agent or all" >&2; exit 2 ;;
esac

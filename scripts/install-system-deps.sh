#!/usr/bin/env bash
# Installs the Debian packages Firn's tests and tools need (servers the test harness starts,
# debuginfod, the eBPF toolchain, Chromium for the web UI's browser tests). Idempotent: only missing packages are installed, and
# apt-get runs only when something is missing.
#
# Usage: scripts/install-system-deps.sh            # the default (test) set
#        scripts/install-system-deps.sh --all      # same as the default set today
#        scripts/install-system-deps.sh pkg...     # just these packages
#
# The Debian redis-server / nats-server / debuginfod packages start system services on
# install. Firn never uses them (the harness starts its own on free ports), so services this
# script just installed are stopped and disabled where that is cheap; failures there are ignored.
set -euo pipefail

# chromium: the web UI's browser tests and benchmark drive Debian's build through playwright-core
# (never a downloaded browser); fonts-dejavu-core gives its screenshots readable text.
# tini, buildah, mmdebstrap: the image and its test.
# python3.11, python3.11-dev: the agent's CPython 3.11 frames are checked against the interpreter
# and its headers (structure offsets).
DEFAULT_PKGS=(nats-server redis-server debuginfod elfutils clang llvm libbpf-dev bpftool gcc g++ binutils rustc golang-go linux-perf tini buildah mmdebstrap chromium fonts-dejavu-core python3.11 python3.11-dev)
# From <codename>-backports (Debian bookworm only): a Go ≥ 1.20 toolchain, so the .gopclntab
# reader is tested on real binaries of the Go 1.20+ layout (bookworm's golang-go is 1.19).
# Backports have pin priority 100: adding the suite upgrades nothing else.
BACKPORTS_PKGS=(golang-1.23-go)
# Packages that ship a system service we do not want running.
SERVICE_PKGS=(redis-server nats-server debuginfod)

log() { printf 'install-system-deps: %s\n' "$*"; }
die() { printf 'install-system-deps: ERROR: %s\n' "$*" >&2; exit 1; }

pkgs=()
if [[ $# -eq 0 || "${1:-}" == "--all" ]]; then
  pkgs=("${DEFAULT_PKGS[@]}")
else
  for arg in "$@"; do
    case "$arg" in
      -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
      -*) die "unknown option '$arg' (use --all or package names)" ;;
      *) pkgs+=("$arg") ;;
    esac
  done
fi

command -v dpkg >/dev/null 2>&1 || die "dpkg not found: this script supports Debian/Ubuntu only; install manually: ${pkgs[*]}"

backports=()
if [[ $# -eq 0 || "${1:-}" == "--all" ]]; then backports=("${BACKPORTS_PKGS[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
  # 'install ok installed' distinguishes a configured package from a removed one with configs left.
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    log "ok: $p already installed"
  else
    missing+=("$p")
  fi
done

bp_missing=()
for p in "${backports[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    log "ok: $p already installed"
  else
    bp_missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 && ${#bp_missing[@]} -eq 0 ]]; then
  log "nothing to install"
  exit 0
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || die "not root and sudo not found; as root run: apt-get install -y --no-install-recommends ${missing[*]}"
  SUDO=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
codename=$( . /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}" )
if [[ ${#bp_missing[@]} -gt 0 ]]; then
  if [[ "$codename" == "bookworm" ]]; then
    list=/etc/apt/sources.list.d/firn-bookworm-backports.list
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      log "adding bookworm-backports to apt sources ($list)"
      echo 'deb http://deb.debian.org/debian bookworm-backports main' | "${SUDO[@]}" tee "$list" >/dev/null
    fi
  else
    log "note: not Debian bookworm ($codename): skipping ${bp_missing[*]} (tests of the Go 1.20+ layout then use synthetic tables only)"
    bp_missing=()
  fi
fi
log "apt-get update"
"${SUDO[@]}" apt-get update -q >/dev/null || die "apt-get update failed (network or apt sources?)"
if [[ ${#missing[@]} -gt 0 ]]; then
  log "installing: ${missing[*]}"
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install failed for: ${missing[*]} (run it by hand to see why)"
fi
if [[ ${#bp_missing[@]} -gt 0 ]]; then
  log "installing from bookworm-backports: ${bp_missing[*]}"
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends -t bookworm-backports "${bp_missing[@]}" >/dev/null \
    || die "apt-get install -t bookworm-backports failed for: ${bp_missing[*]} (run it by hand to see why)"
  missing+=("${bp_missing[@]}")
fi

for svc in "${SERVICE_PKGS[@]}"; do
  for m in "${missing[@]}"; do
    [[ "$m" == "$svc" ]] || continue
    stopped=0
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
      "${SUDO[@]}" systemctl disable --now "$svc" >/dev/null 2>&1 && stopped=1
    else
      # No systemd (containers): stop the SysV instance, if the package started one.
      if [[ -x "/etc/init.d/$svc" ]]; then
        "${SUDO[@]}" "/etc/init.d/$svc" stop >/dev/null 2>&1 && stopped=1
      fi
      if command -v update-rc.d >/dev/null 2>&1; then
        "${SUDO[@]}" update-rc.d "$svc" disable >/dev/null 2>&1 || true
      fi
    fi
    if [[ $stopped -eq 1 ]]; then
      log "stopped and disabled the system $svc service (tests start their own)"
    else
      log "note: left the system $svc service as is (tests never use it)"
    fi
  done
done

for p in "${missing[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
    || die "$p is still not installed after apt-get install"
done
log "installed: ${missing[*]}"

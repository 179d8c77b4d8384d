#!/usr/bin/env bash
# Installs the Debian packages Firn's tests and tools need (servers the test harness starts,
# debuginfod, the eBPF toolchain). Idempotent: only missing packages are installed, and
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

DEFAULT_PKGS=(nats-server redis-server debuginfod elfutils clang libbpf-dev bpftool gcc g++ binutils rustc golang-go linux-perf chromium)
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

missing=()
for p in "${pkgs[@]}"; do
  # 'install ok installed' distinguishes a configured package from a removed one with configs left.
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    log "ok: $p already installed"
  else
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  log "nothing to install"
  exit 0
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || die "not root and sudo not found; as root run: apt-get install -y --no-install-recommends ${missing[*]}"
  SUDO=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
log "apt-get update"
"${SUDO[@]}" apt-get update -q >/dev/null || die "apt-get update failed (network or apt sources?)"
log "installing: ${missing[*]}"
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
  || die "apt-get install failed for: ${missing[*]} (run it by hand to see why)"

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

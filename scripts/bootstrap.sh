#!/usr/bin/env bash
# Installs everything `make` needs on a fresh Debian/Ubuntu machine, idempotently:
# Debian packages (only the missing ones), uv, and the locked Python environment.
#
# Usage: scripts/bootstrap.sh [apt-group ...]
#   groups: base (always), test (servers the test suite starts), lab (the nspawn lab)
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A APT_GROUPS=(
  [base]="ca-certificates curl git make python3 python3-venv python3-dev gcc libpq-dev"
  [test]="postgresql-15 postgresql-contrib pgbackrest redis-server prometheus prometheus-alertmanager wrk nginx libnginx-mod-http-modsecurity modsecurity-crs chromium libnss3-tools"
  [lab]="debootstrap systemd-container nftables iproute2 openssh-client sshpass rsync"
)

log() { printf '[bootstrap] %s\n' "$*"; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: installing Debian packages needs root (run as root or through sudo)" >&2
    exit 1
  fi
}

install_apt() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  need_root
  log "apt: installing ${missing[*]}"
  # Packages such as redis-server start their service on install; the test suite starts its own servers
  # on loopback, so block service starts for the duration of the install (policy-rc.d exit 101).
  local created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  trap '[ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' RETURN
  if [ ! -f /var/lib/apt/periodic/maestro-updated ] || [ -n "$(find /var/lib/apt/periodic/maestro-updated -mmin +720)" ]; then
    apt-get update -qq
    mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/maestro-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

groups=(base "$@")
pkgs=()
for g in "${groups[@]}"; do
  [ -n "${APT_GROUPS[$g]+x}" ] || { echo "bootstrap: unknown group '$g' (base, test, lab)" >&2; exit 2; }
  read -r -a more <<< "${APT_GROUPS[$g]}"
  pkgs+=("${more[@]}")
done
install_apt "${pkgs[@]}"

# uv: from PyPI into a private venv (no network installer scripts, no system pip changes).
UV_VERSION=0.13.9
UV="$PWD/.tools/bin/uv"
if [ ! -x "$UV" ] || ! "$UV" --version | grep -q "$UV_VERSION"; then
  log "uv: installing $UV_VERSION into .tools/"
  python3 -m venv .tools
  .tools/bin/pip install -q "uv==$UV_VERSION"
fi

# Python: the machine's interpreter only (uv must not try to download one). Bytecode is compiled at install
# time: the Pulumi provider SDKs are huge and, where PYTHONDONTWRITEBYTECODE is set, every evaluation of a stack
# would otherwise recompile them (most of a stack evaluation's time).
export UV_PYTHON_DOWNLOADS=never
export UV_COMPILE_BYTECODE=1
"$UV" sync --frozen --all-packages --all-groups --quiet
log "ready ($("$UV" --version), $(.venv/bin/python --version))"

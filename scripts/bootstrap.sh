#!/usr/bin/env bash
# Prepare this machine for ofm.rollback (Debian 12, Python 3.11): Debian packages, the project's
# virtual environment (.venv) with every Python dependency, and the collection path
# .collections/ansible_collections/ofm/rollback. Idempotent and quick when nothing changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Debian packages the lab and the tests run for real (docker-registry: the planned rollback tests' registry;
# ansible-test sanity lints the shell scripts with shellcheck, and skips that test without it; redis-server: the flag cache;
# pdns-server and pdns-backend-sqlite3: the lab's authoritative DNS; prometheus-alertmanager: the SLO alerts; chromium: the incident report's browser test; openjdk-17-jre-headless: ansible-rulebook's
# rule engine, Drools). Add a component's package here.
DEBIAN_PACKAGES=(haproxy prometheus prometheus-alertmanager postgresql-15 pgbackrest docker-registry shellcheck redis-server pdns-server pdns-backend-sqlite3 chromium
  openjdk-17-jre-headless)

log() { printf '[bootstrap] %s\n' "$*"; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_debian_packages() {
  local missing=()
  for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  # The lab runs these programs itself: keep their packaged services from starting during the install.
  local policy=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null && as_root chmod 755 "$policy" && created=1
  fi
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$created" -eq 1 ] && as_root rm -f "$policy"
  return 0
}

python_bin() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
      command -v "$candidate"; return 0
    fi
  done
  echo "bootstrap: Python 3.10+ is required" >&2; return 1
}

setup_venv() {
  local stamp=.venv/.requirements.sha256 wanted
  wanted="$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)"
  if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    "$(python_bin)" -m venv .venv || { as_root apt-get install -y -qq python3-venv >/dev/null; "$(python_bin)" -m venv .venv; }
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    log "installing Python dependencies into .venv"
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -r requirements-dev.txt
    echo "$wanted" > "$stamp"
  fi
}

link_collection() {
  mkdir -p .collections/ansible_collections/ofm
  ln -sfn ../../.. .collections/ansible_collections/ofm/rollback
  # The collection's bytecode, which its finder reads (plugins/plugin_utils/bytecode.py) even where
  # PYTHONDONTWRITEBYTECODE keeps Python from writing it: compiling it on every run is ~80 ms of the emergency path.
  .venv/bin/python -m compileall -q plugins >/dev/null
}

install_debian_packages
setup_venv
link_collection
scripts/install-helm.sh
scripts/install-unleash.sh
scripts/install-awx-collection.sh
log "ready: $root/.venv (ansible-core $(.venv/bin/python -c 'import ansible; print(ansible.__version__)'))"

#!/usr/bin/env bash
# Install the awx.awx collection (the modules of extensions/awx/controller_setup.yml) under .tools/collections, and link it
# into .collections where ansible.cfg, ansible-doc and ansible-lint find it. Galaxy is out of reach here: awx.awx is taken
# from the PyPI wheel of the `ansible` package (which bundles it), downloaded without dependencies; only
# ansible_collections/awx/awx is extracted. Idempotent: a matching install is left alone.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

ANSIBLE_PACKAGE_VERSION="12.3.0"
prefix=.tools/collections
stamp="$prefix/.awx-from-ansible-$ANSIBLE_PACKAGE_VERSION"
log() { printf '[install-awx-collection] %s\n' "$*"; }

link() {
  mkdir -p .collections/ansible_collections
  ln -sfn "../../$prefix/ansible_collections/awx" .collections/ansible_collections/awx
}

if [ -f "$stamp" ] && [ -f "$prefix/ansible_collections/awx/awx/MANIFEST.json" ]; then
  link
  exit 0
fi
log "extracting awx.awx from the ansible $ANSIBLE_PACKAGE_VERSION wheel into $prefix"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "ansible==$ANSIBLE_PACKAGE_VERSION"
rm -rf "$prefix/ansible_collections/awx"
mkdir -p "$prefix"
.venv/bin/python - "$tmp" "$prefix" <<'PY'
import glob, sys, zipfile
wheel, = glob.glob(sys.argv[1] + '/ansible-*.whl')
with zipfile.ZipFile(wheel) as archive:
    members = [name for name in archive.namelist() if name.startswith('ansible_collections/awx/awx/')]
    if not members:
        sys.exit('no ansible_collections/awx/awx in ' + wheel)
    archive.extractall(sys.argv[2], members)
PY
rm -f "$prefix"/.awx-from-ansible-*
touch "$stamp"
link
log "awx.awx $(.venv/bin/python -c "import json; print(json.load(open('$prefix/ansible_collections/awx/awx/MANIFEST.json'))['collection_info']['version'])")"

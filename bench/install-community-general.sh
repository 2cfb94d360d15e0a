#!/usr/bin/env bash
# The benchmarks' baseline: community.general (nsupdate, haproxy modules) from the `ansible` package on PyPI, unpacked into
# .tools/bench-collections (only the community.general collection; benchmark use only, the collection never imports it).
# Prints the collections path to put in ANSIBLE_COLLECTIONS_PATH.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$root/.tools/bench-collections"
if [ ! -f "$target/ansible_collections/community/general/galaxy.yml" ] && [ ! -f "$target/ansible_collections/community/general/MANIFEST.json" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  "$root/.venv/bin/python" -m pip download -q --no-deps -d "$work" "ansible>=10,<13" >&2
  mkdir -p "$target"
  "$root/.venv/bin/python" - "$work" "$target" <<'PY'
import sys, zipfile, pathlib
work, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(work.glob("ansible-*.whl"))
with zipfile.ZipFile(wheel) as archive:
    members = [name for name in archive.namelist() if name.startswith("ansible_collections/community/general/")]
    archive.extractall(target, members)
PY
fi
echo "$target"

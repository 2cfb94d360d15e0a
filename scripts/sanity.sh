#!/usr/bin/env bash
# Run `ansible-test sanity` on a copy of the collection at ansible_collections/ofm/rollback/.
# ansible-test fetches a pip bootstrap script from a host this network cannot reach; it looks in its
# cache first, so a stand-in there installs pip with ensurepip and then the packages it was asked for.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="$root/.venv/bin/python"
# A directory of its own per run (two checkouts sanity-testing at once must not share one), removed at the end.
if [[ -n "${OFM_SANITY_DIR:-}" ]]; then
  work="$OFM_SANITY_DIR"
else
  work="$(mktemp -d "${TMPDIR:-/tmp}/ofm-rollback-sanity.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
fi
dest="$work/ansible_collections/ofm/rollback"

ansible_test_dir="$("$python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')"
pip_version="$(grep -oP "pip='\K[0-9.]+" "$ansible_test_dir/_internal/python_requirements.py" || echo 24.2)"
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$cache")"
cat > "$cache" <<'PY'
"""Offline stand-in for get-pip.py: ensurepip, then pip install the requested packages."""
import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install", *args])
PY

rm -rf "$work"
mkdir -p "$dest"
cd "$root"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf - | tar -xf - -C "$dest"
cd "$dest"
git init -q && git add -A && git -c user.email=sanity@local -c user.name=sanity commit -qm sanity
PATH="$root/.venv/bin:$PATH" ansible-test sanity --python 3.11 --requirements --color no "$@"

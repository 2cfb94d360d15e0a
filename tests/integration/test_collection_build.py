"""The collection builds into a tarball that installs, and every plugin's documentation renders from the install."""
from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest
from labtest import ansible_bin

from lab.config import REPO_ROOT

MODULES = sorted(path.stem for path in (REPO_ROOT / "plugins" / "modules").glob("*.py") if path.stem != "__init__")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Build and install with an empty ansible.cfg, as a user elsewhere would; the tarball and the environment to use it."""
    work = tmp_path_factory.mktemp("collection")
    (work / "ansible.cfg").write_text("[defaults]\n")
    env = {**os.environ, "ANSIBLE_CONFIG": str(work / "ansible.cfg"), "ANSIBLE_COLLECTIONS_PATH": str(work / "collections")}
    build = subprocess.run([ansible_bin("ansible-galaxy"), "collection", "build", str(REPO_ROOT), "--output-path", str(work)],
                           capture_output=True, text=True, env=env, check=False)
    assert build.returncode == 0, build.stderr
    tarball = next(work.glob("ofm-rollback-*.tar.gz"))
    install = subprocess.run([ansible_bin("ansible-galaxy"), "collection", "install", str(tarball), "-p", str(work / "collections"),
                              "--offline"], capture_output=True, text=True, env=env, check=False)
    assert install.returncode == 0, install.stderr
    return tarball, env


def test_tarball_holds_the_collection_and_not_the_lab(installed):
    tarball, _env = installed
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    assert {"MANIFEST.json", "FILES.json", "meta/runtime.yml", "playbooks/emergency_rollback.yml", "README.md"} - names == set()
    assert {f"plugins/modules/{module}.py" for module in MODULES} <= names
    assert not [name for name in names if name.split("/")[0] in {"lab", ".venv", ".collections", "scripts", ".ci", "bench", ".lab",
                                                                 ".tools", "tests", "inventories", "marketing", "ansible.cfg"}]
    assert "playbooks/emergency-rollback.yml" not in names  # the checkout's name, which imports emergency_rollback.yml


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders_every_module_from_the_install(installed, module):
    _tarball, env = installed
    doc = subprocess.run([ansible_bin("ansible-doc"), f"ofm.rollback.{module}"], capture_output=True, text=True, env=env, check=False)
    assert doc.returncode == 0, doc.stderr
    assert f"ofm.rollback.{module}" in doc.stdout and "EXAMPLES" in doc.stdout and "RETURN VALUES" in doc.stdout
    assert "WARNING" not in doc.stderr


def test_ansible_doc_renders_the_audit_callback(installed):
    _tarball, env = installed
    doc = subprocess.run([ansible_bin("ansible-doc"), "-t", "callback", "ofm.rollback.audit"], capture_output=True, text=True,
                         env=env, check=False)
    assert doc.returncode == 0 and "log_path" in doc.stdout, doc.stderr

# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The built collection holds what a user installs, and nothing of the checkout's development side; installed, it runs
every procedure by its collection name (``ansible-playbook ofm.rollback.emergency_rollback``).

``ansible-galaxy collection build`` runs for real (into tmp_path, about a second): once on this checkout as it is, and
once on a copy of it that also holds what bootstrap, the lab and the tools leave behind (.tools with helm and the
benchmark's ansible, .venv, .collections, lab state, caches, an old tarball), as a bootstrapped checkout has them.
The first tarball is installed offline into a collections path of its own, the only one the installed runs see.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(sys.executable).parent

# What a user installs: these directories whole, and these top-level files.
# extensions/: the AWX objects, the execution environment's definition and the EDA rulebook and event source, where
# ansible-rulebook and validated-content users look for them in an installed collection.
SHIPPED_DIRS = ("changelogs", "extensions", "meta", "playbooks", "plugins", "roles")
SHIPPED_FILES = ("README.md", "LICENSE", "requirements.txt", "bindep.txt")
# Parts of the shipped directories that stay in the checkout: the molecule scenarios (they run against the lab).
CHECKOUT_ONLY = ("extensions/molecule/",)
# ansible-galaxy's own files in every tarball.
GALAXY_FILES = ("MANIFEST.json", "FILES.json")
# The checkout's development side: never in the tarball, at any depth.
NEVER = (".tools", ".venv", ".collections", ".lab", ".lab-test", ".lab-build", ".ci", ".git", ".gitignore", ".ansible-lint",
         ".pytest_cache", "__pycache__", "ansible.cfg", "requirements-dev.txt", "pytest.ini", "bench", "lab", "scripts", "tests",
         "inventories", "marketing", "molecule")
MAX_BYTES = 1024 * 1024
# The procedures, by collection name; in a checkout also by their dashed names (playbooks/<name>.yml), not shipped.
PROCEDURES = ("emergency_rollback", "planned_rollback", "database_rollback", "config_rollback", "config_snapshot", "external_rollback",
              "post_rollback_validation", "incident_comms", "incident_report")
CHECKOUT_NAMES = {"emergency-rollback": "emergency_rollback", "planned-rollback": "planned_rollback",
                  "database-rollback": "database_rollback", "config-rollback": "config_rollback", "config-snapshot": "config_snapshot",
                  "external-rollback": "external_rollback", "post-rollback-validation": "post_rollback_validation",
                  "incident-comms": "incident_comms", "incident-report": "incident_report"}
MAX_FILES = 600

# What a bootstrapped checkout holds besides its sources (path -> content; a content starting with "->" is a symlink).
LEFTOVERS = {
    ".tools/helm/linux-amd64/helm": "\x7fELF helm",
    ".tools/bench-ansible/lib/python3.11/site-packages/ansible/__init__.py": "# the community ansible package\n",
    ".venv/bin/python": "#!/bin/sh\n",
    ".venv/lib/python3.11/site-packages/requests/__init__.py": "\n",
    ".collections/ansible_collections/ofm/rollback": "->../../..",
    ".lab/credentials.json": "{}\n",
    ".lab-test/logs/haproxy.log": "log\n",
    ".lab-build/pg/data/PG_VERSION": "15\n",
    ".build/ofm-rollback-0.0.9.tar.gz": "old",
    ".pytest_cache/v/cache/nodeids": "[]\n",
    ".ansible/tmp/x": "ansible-lint cache\n",
    ".vscode/settings.json": "{}\n",
    "roles/incident/.DS_Store": "finder\n",
    "plugins/modules/__pycache__/slo_check.cpython-311.pyc": "bytecode",
    "plugins/module_utils/errors.pyc": "bytecode",
    "tests/output/junit/sanity.xml": "<xml/>\n",
    "ofm-rollback-0.0.9.tar.gz": "old",
    "roles/incident/tasks/open.yml~": "editor backup\n",
}


def sources(root: Path) -> list[str]:
    """The checkout's files as git sees them: tracked, plus untracked ones .gitignore does not ignore."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                             capture_output=True, check=True).stdout.decode()
    return sorted(name for name in listing.split("\0") if name and os.path.lexists(root / name))


def shipped(names: list[str]) -> set[str]:
    """The files of a source listing that the tarball must hold (not the checkout's dashed playbook names)."""
    return {name for name in names if (name.split("/")[0] in SHIPPED_DIRS or name in SHIPPED_FILES)
            and not re.fullmatch(r"playbooks/[^/]*-[^/]*\.yml", name) and not name.startswith(CHECKOUT_ONLY)}


def build(collection: Path, output: Path) -> Path:
    """``ansible-galaxy collection build`` of ``collection`` into ``output``, with an empty ansible.cfg."""
    output.mkdir(parents=True, exist_ok=True)
    (output / "ansible.cfg").write_text("[defaults]\n")
    env = {**os.environ, "ANSIBLE_CONFIG": str(output / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    run = subprocess.run([str(BIN_DIR / "ansible-galaxy"), "collection", "build", str(collection), "--output-path", str(output)],
                         capture_output=True, text=True, env=env, check=False, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "WARNING" not in run.stderr, run.stderr
    return next(output.glob("ofm-rollback-*.tar.gz"))


def files_of(tarball: Path) -> set[str]:
    with tarfile.open(tarball) as archive:
        return {member.name for member in archive.getmembers() if not member.isdir()}


@pytest.fixture(scope="module", name="checkout_tarball")
def fixture_checkout_tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tarball built from this checkout as it is."""
    return build(REPO_ROOT, tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="module", name="bootstrapped")
def fixture_bootstrapped(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path]:
    """A copy of this checkout's sources plus LEFTOVERS; its source listing and the tarball built from it."""
    copy = tmp_path_factory.mktemp("checkout") / "ofm.rollback"
    # Not links out of the checkout: in a git worktree .venv and .tools are links to the main checkout's, and writing
    # LEFTOVERS through them would change that checkout.
    root = REPO_ROOT.resolve()
    names = [name for name in sources(REPO_ROOT)
             if not (REPO_ROOT / name).is_symlink() or (REPO_ROOT / name).resolve().is_relative_to(root)]
    for name in names:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, copy / name, follow_symlinks=False)
    for name, content in LEFTOVERS.items():
        path = copy / name
        path.parent.mkdir(parents=True, exist_ok=True)
        assert path.parent.resolve().is_relative_to(copy.resolve()), f"{name} would be written outside the copy"
        if content.startswith("->"):
            path.symlink_to(content[2:])
        else:
            path.write_text(content)
    return names, build(copy, tmp_path_factory.mktemp("build-bootstrapped"))


def test_the_tarball_holds_exactly_the_shipped_files_of_the_checkout(checkout_tarball):
    names = files_of(checkout_tarball)
    assert names - set(GALAXY_FILES) == shipped(sources(REPO_ROOT))


def test_leftovers_of_bootstrap_the_lab_and_the_tools_stay_out(bootstrapped):
    source_names, tarball = bootstrapped
    names = files_of(tarball)
    assert names - set(GALAXY_FILES) == shipped(source_names)
    with tarfile.open(tarball) as archive:
        everything = archive.getnames()
    assert not [name for name in everything if set(name.split("/")) & set(NEVER) or name.endswith((".pyc", "~", ".tar.gz"))]


def test_every_plugin_role_and_playbook_is_in_the_tarball(checkout_tarball):
    names = files_of(checkout_tarball)
    plugins = {str(path.relative_to(REPO_ROOT)) for path in (REPO_ROOT / "plugins").rglob("*.py") if "__pycache__" not in path.parts}
    assert plugins and plugins <= names
    roles = sorted(path.name for path in (REPO_ROOT / "roles").iterdir() if path.is_dir())
    assert roles and all(f"roles/{role}/meta/main.yml" in names for role in roles)
    assert {"meta/runtime.yml", "meta/execution-environment.yml", "README.md", "LICENSE", "requirements.txt", "bindep.txt"} <= names


def test_the_tarball_stays_small(checkout_tarball):
    assert checkout_tarball.stat().st_size < MAX_BYTES, f"{checkout_tarball.stat().st_size} bytes"
    assert len(files_of(checkout_tarball)) < MAX_FILES


@pytest.fixture(scope="module", name="installed")
def fixture_installed(checkout_tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a run that sees only the collection installed from the tarball (no dependencies: galaxy.yml)."""
    work = tmp_path_factory.mktemp("installed")
    (work / "ansible.cfg").write_text("[defaults]\n")
    env = {**os.environ, "ANSIBLE_CONFIG": str(work / "ansible.cfg"), "ANSIBLE_COLLECTIONS_PATH": str(work / "collections"),
           "ANSIBLE_NOCOLOR": "1"}
    run = subprocess.run([str(BIN_DIR / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(work / "collections"),
                          str(checkout_tarball)], capture_output=True, text=True, env=env, check=False, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (work / "collections" / "ansible_collections" / "ofm" / "rollback" / "MANIFEST.json").is_file()
    return env


def test_the_playbooks_are_the_procedures_by_collection_name(checkout_tarball):
    names = files_of(checkout_tarball)
    # The procedures; the connection settings their module_defaults read are the defaults of the role ofm.rollback.connections.
    assert sorted(name for name in names if name.startswith("playbooks/")) == sorted(f"playbooks/{p}.yml" for p in PROCEDURES)
    assert "roles/connections/defaults/main.yml" in names
    for dashed, procedure in CHECKOUT_NAMES.items():
        assert f"ansible.builtin.import_playbook: {procedure}.yml" in (REPO_ROOT / "playbooks" / f"{dashed}.yml").read_text()


@pytest.mark.parametrize("procedure", PROCEDURES)
def test_every_procedure_runs_by_its_collection_name_from_the_install(installed, procedure, tmp_path):
    # From an empty directory, so nothing of the checkout (ansible.cfg, playbooks/, .collections) can be found.
    run = subprocess.run([str(BIN_DIR / "ansible-playbook"), f"ofm.rollback.{procedure}", "--syntax-check"], cwd=tmp_path,
                         capture_output=True, text=True, env=installed, check=False, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    installed_path = Path(installed["ANSIBLE_COLLECTIONS_PATH"]) / "ansible_collections" / "ofm" / "rollback"
    assert f"playbook: {installed_path}/playbooks/{procedure}.yml" in run.stdout

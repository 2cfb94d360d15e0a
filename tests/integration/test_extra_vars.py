"""Stray words in the extra vars: every procedure refuses, as its first task, a run whose -e key=value lost words.

``-e rollback_reason='api 2.4.0 doubles the DB load'`` reaches Ansible as ``rollback_reason=api 2.4.0 doubles the DB load``;
Ansible splits it at spaces, sets rollback_reason to ``api`` and puts the rest in ``_raw_params``. The runs are real (no
--check, no --syntax-check) and need no lab: the refusal comes before any connection to any system, which the run
against a host that does not exist shows. The audit log (the repository's ansible.cfg enables the audit callback) shows
that the refusal was the only task.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from ansible.parsing.splitter import parse_kv
from labtest import ansible_bin

from lab.config import REPO_ROOT

# (checkout playbook, the -e as ansible-playbook receives it once the shell removed the quotes, the stray words)
CASES = [
    ("emergency-rollback.yml", "rollback_force_reason=canary 5xx at 12 percent", "5xx at 12 percent"),
    ("planned-rollback.yml", "rollback_reason=api 2.4.0 doubles the DB load", "2.4.0 doubles the DB load"),
    ("database-rollback.yml", "rollback_db_pitr_target=2026-11-28 03:00:00", "03:00:00"),
    ("config-snapshot.yml", "rollback_change_id=deploy 2.4.0", "2.4.0"),
    ("config-rollback.yml", "rollback_config_snapshot=cfg-20261204T073900Z-1a2b3c the good one", "the good one"),
    ("external-rollback.yml", "rollback_external_snapshot=cfg-20261204T073900Z-1a2b3c before the cut-over", "before the cut-over"),
    ("post-rollback-validation.yml", "validation_since=2026-12-04 14:05:00", "14:05:00"),
    ("incident-comms.yml", "comms_known_issue=publishing failed for some creators", "failed for some creators"),
    ("incident-report.yml", "report_config_diff=/tmp/config diff.json", "diff.json"),
]


def run(tmp_path: Path, playbook: str, *args: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """A real run of playbooks/<playbook> with the repository's ansible.cfg; the result and the audit log's records."""
    audit = tmp_path / "audit.jsonl"
    # No lab state: had the refusal not come first, the run would stop at the lab inventory's lookups, touching no lab.
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "OFM_AUDIT_LOG": str(audit), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0", "OFM_LAB_STATE_DIR": str(tmp_path / "no-lab")}
    command = [ansible_bin("ansible-playbook"), str(REPO_ROOT / "playbooks" / playbook), "-e",
               json.dumps({"ofm_incident_record_dir": str(tmp_path / "records"), "db_pitr_results_dir": str(tmp_path / "results")}),
               *args]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=120, check=False)
    records = [json.loads(line) for line in audit.read_text().splitlines()] if audit.exists() else []
    return result, records


def flat(output: str) -> str:
    """The output with the YAML callback's line wrapping and quote doubling undone."""
    return re.sub(r"\n\s+(?=\S)", " ", output).replace("''", "'")


def assert_refused_first(result: subprocess.CompletedProcess, records: list[dict], stray: str) -> None:
    output = flat(result.stdout + result.stderr)
    assert result.returncode != 0, output
    assert f"the extra vars hold the stray words '{stray}'" in output, output
    assert f"-e \"<variable>='<its first word> {stray}'\"" in output, output
    # Nothing ran after it: one task in the output, the procedure's input check (the stray words are its first check),
    # failed, and the audit log records that one task only.
    shown = re.findall(r"^TASK \[(.*?)\]", result.stdout, re.MULTILINE)
    assert len(shown) == 1 and shown[0].startswith("ofm.rollback.preflight : Preflight | "), output
    assert re.search(r"ok=0\s+changed=0\s+unreachable=0\s+failed=1", result.stdout), output
    tasks = [record for record in records if record.get("type") == "task"]
    assert [(task["task"], task["module"], task["status"]) for task in tasks] == [
        (shown[0].split(" : ", 1)[1], "ofm.rollback.input_check", "failed")], records


PROCEDURES = {"emergency-rollback.yml": "emergency", "planned-rollback.yml": "planned", "database-rollback.yml": "database",
              "config-snapshot.yml": "config", "config-rollback.yml": "config", "external-rollback.yml": "external",
              "post-rollback-validation.yml": "validation", "incident-comms.yml": "comms", "incident-report.yml": "report"}


@pytest.mark.parametrize("playbook, extra, stray", [
    pytest.param(*case, id=case[0], marks=pytest.mark.reliability(
        "bad-input", procedure=PROCEDURES[case[0]], case=f"-e {case[1]} (unquoted: words lost to _raw_params)", expected="refused before any change"))
    for case in CASES])
def test_every_procedure_refuses_stray_words_before_anything_runs(tmp_path, reliability, playbook, extra, stray):
    result, records = run(tmp_path, playbook, "-e", extra)
    assert_refused_first(result, records, stray)
    assert not (tmp_path / "records").exists() and not (tmp_path / "results").exists()
    reliability.observed(f"refused as the first task, nothing else ran: names the stray words '{stray}' and the quoting that keeps them")


def test_the_refusal_comes_before_any_connection(tmp_path):
    """Against a host that does not exist: refused, never unreachable."""
    result, records = run(tmp_path, "planned-rollback.yml", "-i", "rollback-target.invalid,", "-e",
                          "rollback_hosts=rollback-target.invalid", "-e", "rollback_reason=api 2.4.0 doubles the DB load")
    assert_refused_first(result, records, "2.4.0 doubles the DB load")
    assert "UNREACHABLE" not in result.stdout + result.stderr


def test_the_refusal_cannot_be_skipped_by_tags(tmp_path):
    result, records = run(tmp_path, "emergency-rollback.yml", "--tags", "never_a_tag", "-e", "rollback_force_reason=a b")
    assert_refused_first(result, records, "b")


def documented_extra_vars() -> list[tuple[str, str]]:
    """Every -e argument of a command in the README (bash blocks, inline code) and in the playbooks' header comments."""
    snippets: list[tuple[str, str]] = []
    readme = (REPO_ROOT / "README.md").read_text()
    for block in re.findall(r"```bash\n(.*?)```", readme, re.DOTALL):
        snippets += [("README.md", line) for line in block.splitlines() if "-e " in line]
    prose = re.sub(r"```.*?```", "", readme, flags=re.DOTALL)
    snippets += [("README.md", span) for span in re.findall(r"`([^`\n]*-e [^`\n]*)`", prose)]
    for playbook in sorted((REPO_ROOT / "playbooks").glob("*.yml")):
        snippets += [(playbook.name, line.lstrip("# ")) for line in playbook.read_text().splitlines()
                     if line.startswith("#") and "-e " in line]
    found = []
    for where, snippet in snippets:
        words = [word.strip("[]") for word in shlex.split(snippet.rstrip("\\"))]
        found += [(where, value) for option, value in zip(words, words[1:]) if option == "-e"]
    return found


# The README's example of the mistake, once, in the paragraph that explains it.
WRONG_EXAMPLE = ("README.md", "rollback_reason=api 2.4.0 doubles the DB load")


def test_the_documented_extra_vars_keep_their_spaces():
    """Each documented -e, as the shell hands it over, holds no stray words (JSON and @file are never split)."""
    documented = documented_extra_vars()
    assert ("README.md", "rollback_reason='api 2.4.0 doubles the DB load'") in documented  # the planned rollback's command
    stray = [(where, value) for where, value in documented
             if not value.startswith(("{", "@")) and value != "..." and "_raw_params" in parse_kv(value, check_raw=False)]
    assert stray == [WRONG_EXAMPLE]

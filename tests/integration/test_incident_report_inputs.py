"""The incident report and comms playbooks given an incident that has no record: a clear error naming what was looked for,
nothing written, nothing sent (they read no shared state, so this runs beside the shared-lab tests)."""
from __future__ import annotations

from labtest import flat, run_playbook


def test_an_incident_without_a_record_is_refused_clearly_and_nothing_is_written(lab, tmp_path):
    records = tmp_path / "incidents"
    run = run_playbook("incident-report.yml", extra_vars={"incident_id": "INC-999999", "ofm_incident_record_dir": str(records)},
                       audit_log=tmp_path / "audit.jsonl", timeout=300)
    output = flat(run.stdout)
    assert run.returncode != 0
    assert f"No incident record of INC-999999 in {records}" in output and "Nothing was written." in output
    assert not (records / "INC-999999").exists()

#!/usr/bin/env bash
# The main job against the lab: set up, bring the lab up, make the canary bad, wait until the breach
# is sustained (the lab inventory's short window), then run the emergency rollback playbook.
# OFM_DEMO_FAULT picks the fault (slow, errors, webhooks, db, publish); extra arguments go to ansible-playbook.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/scripts/bootstrap.sh"
export PATH="$root/.venv/bin:$root/scripts:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"
export OFM_AUDIT_LOG="${OFM_AUDIT_LOG:-$root/.lab/audit.jsonl}"
fault="${OFM_DEMO_FAULT:-errors}"

lab up
lab reset
lab canary bad "$fault"
echo "Waiting until Prometheus shows the canary's breach sustained over the lab's window..."
ANSIBLE_CALLBACK_RESULT_FORMAT=json ansible localhost -m ofm.rollback.slo_check -a '{"prometheus_url": "{{ ofm_prometheus_url }}", "scope": "canary",
  "window": "{{ ofm_slo_window }}", "sustain": "{{ ofm_slo_sustain }}", "resolution": "1s",
  "wait_for": "breach", "wait_timeout": "3m", "wait_interval": "1s"}' | grep '"msg"'
ansible-playbook playbooks/emergency-rollback.yml "$@"
echo
lab traffic
python - <<'PY'
import json, urllib.request
from lab.config import load_config
messages = json.load(urllib.request.urlopen(load_config().url("slack") + "/__lab/messages"))["messages"]
print(f"Slack stand-in holds {len(messages)} message(s):")
for message in messages:
    print(f"  {message.get('channel') or '-'}: {(message.get('text') or '')[:150]}")
PY

#!/usr/bin/env bash
# The main job against the lab: set up, bring the lab up, make the canary bad, wait until the breach
# is sustained, then run the emergency rollback playbook.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/scripts/bootstrap.sh"
export PATH="$root/.venv/bin:$root/scripts:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"
fault="${OFM_DEMO_FAULT:-errors}"

lab up
lab reset
lab canary bad "$fault"
ansible-playbook playbooks/lab-smoke.yml -e "lab_fault=$fault" "$@"

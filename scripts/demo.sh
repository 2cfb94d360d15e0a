#!/usr/bin/env bash
# One procedure against the lab, after setting everything up and bringing the lab up:
#
#   ./scripts/demo.sh [emergency|planned|database|config|external] [ansible-playbook options]
#
# emergency (default): make the canary bad, wait until the breach is sustained (the lab inventory's short window), then run
#   the emergency rollback. OFM_DEMO_FAULT picks the fault (slow, errors, webhooks, db, publish).
# planned: the planned rollback once per method the playbook offers, each from the lab's bad release 2.4.0 (a lab reset
#   before each): ops_api (the canary's traffic back to stable through the ops API), helm (the Helm release ofm-social-os
#   back to revision 5 of its six, as the README's command), kubectl (kubectl rollout undo of the Deployment
#   ofm-social-os-api, revision 2 -> 1) and argo (the Rollout's canary aborted and undone). OFM_DEMO_METHODS picks some.
# config: take a configuration snapshot (as a deploy pipeline does), make the bad release's configuration change
#   (`lab config bad`: a flag the canary suffers from, a wrong webhook URL, a rate limit, an Unleash toggle), wait until the
#   canary's success rate breaches, then run the configuration rollback from the snapshot. The vault password that seals
#   the Secrets' values is generated into the lab's state directory (OFM_DEMO_VAULT_PASSWORD_FILE to use your own).
# external: take a snapshot (the configuration and the services in front of the API), make a bad external change
#   (`lab external bad`: DNS answers, HAProxy, Route and ALB weights, the CloudFront distribution, the platforms' webhook
#   and OAuth settings), then run the external-service rollback from the snapshot.
# database: restore the lab's PostgreSQL as of a minute ago into a sandbox, validate it and report RTO/RPO (the checklist's
#   command; the lab's history is minutes long, so not "2 hours ago").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
procedure="emergency"
case "${1:-}" in
  emergency|planned|database|config|external) procedure="$1"; shift ;;
  -*|"") ;;
  *) echo "usage: $0 [emergency|planned|database|config|external] [ansible-playbook options]" >&2; exit 2 ;;
esac
"$root/scripts/bootstrap.sh"
export PATH="$root/.venv/bin:$root/scripts:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"
export OFM_AUDIT_LOG="${OFM_AUDIT_LOG:-$root/.lab/audit.jsonl}"

lab up
lab reset
case "$procedure" in
  planned)
    recap=() failed=0
    for method in ${OFM_DEMO_METHODS:-ops_api helm kubectl argo}; do
      target=()
      if [[ "$method" == helm ]]; then target=(-e rollback_to_revision=5); fi
      lab reset >/dev/null
      echo "================ planned rollback, method $method ================"
      if ansible-playbook playbooks/planned-rollback.yml -e "rollback_reason='the demo: release 2.4.0 doubles the DB load'" \
          -e "planned_rollback_method=$method" "${target[@]}" "$@"; then
        recap+=("  $method: ok")
      else
        recap+=("  $method: FAILED (see its summary above)") failed=1
      fi
    done
    echo "Planned rollback on the lab, by method:"
    printf '%s\n' "${recap[@]}"
    exit "$failed" ;;
  config|external)
    vault="${OFM_DEMO_VAULT_PASSWORD_FILE:-${OFM_LAB_STATE_DIR:-$root/.lab}/demo-vault-password}"
    if [[ ! -s "$vault" ]]; then (umask 077; mkdir -p "$(dirname "$vault")"; python -c 'import secrets; print(secrets.token_hex(24))' > "$vault"); fi
    if [[ "$procedure" == external ]]; then
      ansible-playbook playbooks/config-snapshot.yml --vault-password-file "$vault" -e rollback_change_id=demo-cutover "$@"
      lab external bad
      exec ansible-playbook playbooks/external-rollback.yml --vault-password-file "$vault" "$@"
    fi
    ansible-playbook playbooks/config-snapshot.yml --vault-password-file "$vault" -e rollback_change_id=demo-deploy-2.4.0 "$@"
    lab config bad
    echo "Waiting until Prometheus shows the canary's success rate breached by the configuration change..."
    ANSIBLE_CALLBACK_RESULT_FORMAT=json ansible localhost -m ofm.rollback.slo_check -a '{"prometheus_url": "{{ ofm_prometheus_url }}", "ca_path": "{{ ofm_ca_path }}", "scope": "canary",
      "window": "{{ ofm_slo_window }}", "sustain": "{{ ofm_slo_sustain }}", "resolution": "1s",
      "wait_for": "breach", "wait_timeout": "3m", "wait_interval": "1s"}' | grep '"msg"'
    exec ansible-playbook playbooks/config-rollback.yml --vault-password-file "$vault" "$@" ;;
  database)
    cd marketing/dr/scripts
    exec ./dr-restore-sandbox.sh --environment "rollback-demo-$(date +%Y%m%d%H%M%S)" \
      --pitr-target "$(date -d '1 minute ago' '+%Y-%m-%d %H:%M:%S')" --source production --reason data_corruption -- "$@" ;;
esac

fault="${OFM_DEMO_FAULT:-errors}"
lab canary bad "$fault"
echo "Waiting until Prometheus shows the canary's breach sustained over the lab's window..."
ANSIBLE_CALLBACK_RESULT_FORMAT=json ansible localhost -m ofm.rollback.slo_check -a '{"prometheus_url": "{{ ofm_prometheus_url }}", "ca_path": "{{ ofm_ca_path }}", "scope": "canary",
  "window": "{{ ofm_slo_window }}", "sustain": "{{ ofm_slo_sustain }}", "resolution": "1s",
  "wait_for": "breach", "wait_timeout": "3m", "wait_interval": "1s"}' | grep '"msg"'
ansible-playbook playbooks/emergency-rollback.yml "$@"
echo
lab traffic
python - <<'PY'
import json, ssl, urllib.request
from lab.config import load_config
cfg = load_config()
messages = json.load(urllib.request.urlopen(cfg.url("slack") + "/__lab/messages", context=ssl.create_default_context(cafile=cfg.ca_file)))["messages"]
print(f"Slack stand-in holds {len(messages)} message(s):")
for message in messages:
    print(f"  {message.get('channel') or '-'}: {(message.get('text') or '')[:150]}")
PY

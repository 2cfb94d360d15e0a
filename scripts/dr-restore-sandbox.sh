#!/usr/bin/env bash
# The runbook's DR restore: point-in-time recovery of a source database into a new sandbox (never over the source),
# validated, with an RTO/RPO report. Runs playbooks/database-rollback.yml; the checklist's command works as written:
#
#   cd marketing/dr/scripts
#   ./dr-restore-sandbox.sh --environment rollback-$(date +%Y%m%d) \
#     --pitr-target "$(date -d '2 hours ago' '+%Y-%m-%d %H:%M:%S')" --source production
#
# A --pitr-target without an offset is a time of this shell's time zone (TZ, else the system's), as `date` prints it; the
# script shows it in that zone and in UTC before anything starts, and refuses a time the zone skips or shows twice
# (daylight saving). With an offset or Z it is taken as given. Anything after -- goes to ansible-playbook (for example
# -i inventories/production). Exit status: 0 when restored, validated and within the RTO/RPO targets; 2 for bad input.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"

usage() {
  cat <<USAGE
usage: dr-restore-sandbox.sh --pitr-target 'YYYY-MM-DD HH:MM:SS' [options] [-- ansible-playbook options]
  --environment NAME     the sandbox's name (default rollback-<UTC date>)
  --pitr-target TIME     the point in time to restore to: 'YYYY-MM-DD HH:MM:SS' in this shell's time zone (TZ, else the
                         system's), or with an offset ('...+01:00', '...Z'); 'latest' for the newest state
  --target-type TYPE     time (default), lsn, name, xid or latest
  --source NAME          the source database, a key of ofm_db_sources (default production)
  --dry-run              plan only: the backup chosen and the commands; nothing is created
  --no-cleanup           keep the sandbox after the run, for inspection
  --results-dir DIR      where the JSON and Markdown report go
  --rto-target DURATION  e.g. 30m (default 30m)
  --rpo-target DURATION  e.g. 15m (default 15m)
  --reason REASON        schema_change, data_corruption, migration_performance or data_format
  --incident-id ID       the incident (INC-1234): a run killed half-way is resumed by running again with the same id
USAGE
}

vars=()
add() { vars+=(-e "$(python3 -c 'import json,sys; print(json.dumps({sys.argv[1]: sys.argv[2]}))' "$1" "$2")"); }
need() { [[ $# -ge 2 && -n "$2" ]] || { echo "dr-restore-sandbox.sh: $1 needs a value" >&2; usage >&2; exit 2; }; }
target_given="" target="" target_type="time"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --environment) need "$@"; add db_pitr_environment "$2"; shift 2 ;;
    --pitr-target) need "$@"; add rollback_db_pitr_target "$2"; target_given=1; target="$2"; shift 2 ;;
    --target-type) need "$@"; add db_pitr_target_type "$2"; target_type="$2"; shift 2 ;;
    --source) need "$@"; add rollback_db_source "$2"; shift 2 ;;
    --dry-run) vars+=(-e '{"db_pitr_dry_run": true}'); shift ;;
    --no-cleanup) vars+=(-e '{"db_pitr_cleanup": false}'); shift ;;
    --results-dir) need "$@"; add db_pitr_results_dir "$(readlink -m "$2")"; shift 2 ;;
    --rto-target) need "$@"; add db_pitr_rto_target "$2"; shift 2 ;;
    --rpo-target) need "$@"; add db_pitr_rpo_target "$2"; shift 2 ;;
    --reason) need "$@"; add rollback_db_reason "$2"; shift 2 ;;
    --incident-id) need "$@"; add rollback_incident_id "$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) echo "dr-restore-sandbox.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
if [[ -z "$target_given" ]]; then
  echo "dr-restore-sandbox.sh: --pitr-target is required" >&2; usage >&2; exit 2
fi

cd "$root"
if [[ -x "$root/.venv/bin/ansible-playbook" ]]; then
  export PATH="$root/.venv/bin:$PATH"
fi
if [[ ! -e "$root/.collections/ansible_collections/ofm/rollback" ]]; then
  mkdir -p "$root/.collections/ansible_collections/ofm" && ln -sfn ../../.. "$root/.collections/ansible_collections/ofm/rollback"
fi
if [[ "$target" == "latest" && "$target_type" == "time" ]]; then
  target_type=latest; add db_pitr_target_type latest
fi
# A time: read in this shell's zone (the same module the playbook's filter uses), shown before anything starts.
if [[ "$target_type" == "time" ]]; then
  if ! zoned="$(python3 "$root/scripts/zoned_time.py" "$target")"; then
    exit 2
  fi
  add db_pitr_target_timezone "$(head -n 1 <<<"$zoned")"
  echo "restoring to $(tail -n 1 <<<"$zoned")"
fi
export ANSIBLE_CONFIG="${ANSIBLE_CONFIG:-$root/ansible.cfg}"
exec ansible-playbook playbooks/database-rollback.yml "${vars[@]}" "$@"

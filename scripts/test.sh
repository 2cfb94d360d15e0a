#!/usr/bin/env bash
# The whole test suite on a fresh machine: sets everything up, starts a lab of its own (ports shifted
# by OFM_LAB_PORT_OFFSET, state in .lab-test/, so a demo lab can stay up), runs unit tests, sanity,
# lint and integration tests, stops the lab, and exits non-zero if any part failed or ran no test.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
"$root/scripts/bootstrap.sh" || exit 1

export PATH="$root/.venv/bin:$root/scripts:$PATH"
export OFM_LAB_STATE_DIR="${OFM_LAB_STATE_DIR:-$root/.lab-test}"
export OFM_LAB_PORT_OFFSET="${OFM_LAB_PORT_OFFSET:-1000}"
# Short SLI windows make breaches and recoveries show within seconds.
export OFM_LAB_SLI_WINDOW="${OFM_LAB_SLI_WINDOW:-15s}"
export ANSIBLE_CONFIG="$root/ansible.cfg"

failed=()
step() {
  local name="$1"; shift
  printf '\n===== %s: %s\n' "$name" "$*"
  local started=$SECONDS
  if "$@"; then
    printf '===== %s: ok (%ss)\n' "$name" $((SECONDS - started))
  else
    printf '===== %s: FAILED (%ss)\n' "$name" $((SECONDS - started))
    failed+=("$name")
  fi
}

only="${OFM_TEST_ONLY:-lab unit sanity lint integration}"
has() { case " $only " in *" $1 "*) return 0;; *) return 1;; esac; }

if has lab || has integration; then
  lab down --purge >/dev/null 2>&1 || true
  trap 'lab down >/dev/null 2>&1 || true' EXIT
  # Started first so that Prometheus gathers history while the other steps run.
  step lab lab up
fi
has unit && step unit pytest tests/unit -q -p no:cacheprovider
has sanity && step sanity scripts/sanity.sh
has lint && step lint ansible-lint --profile production -q
# -ra: the summary lists every skip with its reason (e.g. the real-cluster target without KUBECONFIG), and every
# failure; a later -rs alone would replace it and drop the failures.
# Two pytest processes at once, against the same lab: the modules marked shared_lab (they change or read the shared state of
# the lab's HTTP side: canary faults, HAProxy weights, stand-in message stores, injected faults, the seeded Kubernetes objects)
# run in file order in one; every other module (own test servers, own sandboxes, the lab's PostgreSQL) in the other. A module
# places itself with `pytestmark = pytest.mark.shared_lab`.
integration() {
  local logs; logs="$(mktemp -d)"
  pytest tests/integration -m shared_lab -q -p no:cacheprovider -ra --durations=15 > "$logs/shared-lab.log" 2>&1 &
  local shared_pid=$!
  pytest tests/integration -m "not shared_lab" -q -p no:cacheprovider -ra --durations=15 > "$logs/others.log" 2>&1
  local others_rc=$?
  wait "$shared_pid"
  local shared_rc=$?
  printf -- '--- integration, modules sharing the lab (exit %s)\n' "$shared_rc"; cat "$logs/shared-lab.log"
  printf -- '--- integration, the other modules (exit %s)\n' "$others_rc"; cat "$logs/others.log"
  rm -rf "$logs"
  [[ $shared_rc -eq 0 && $others_rc -eq 0 ]]
}
has integration && step integration integration

printf '\n'
if [ "${#failed[@]}" -gt 0 ]; then
  echo "test suite FAILED: ${failed[*]}"
  exit 1
fi
echo "test suite passed: $only"

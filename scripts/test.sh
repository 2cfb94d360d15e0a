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
step() {  # name, command...: run in the foreground
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

# A second lab (ports shifted 1000 further, state in .lab-test-b/) for half of the shared-lab modules: those modules mostly wait for
# the lab (breaches, recoveries, watches), so two labs side by side halve the critical path of the suite on 2 cores.
lab_b=(env OFM_LAB_STATE_DIR="$root/.lab-test-b" OFM_LAB_PORT_OFFSET="$((OFM_LAB_PORT_OFFSET + 1000))")
# The shared-lab modules that run against the second lab (the longest ones: each needs sustained breaches of its own).
LAB_B_MODULES="${OFM_LAB_B_MODULES-tests/integration/test_emergency_rollback.py tests/integration/test_incident_comms_report.py
  tests/integration/test_post_rollback_validation.py tests/integration/test_metrics_validation.py tests/integration/test_lab_slis.py
  tests/integration/test_eda_rulebook.py tests/integration/test_molecule.py}"
if has lab || has integration; then
  lab down --purge >/dev/null 2>&1 || true
  if [ -n "$LAB_B_MODULES" ]; then "${lab_b[@]}" lab down --purge >/dev/null 2>&1 || true; fi
  trap 'lab down >/dev/null 2>&1 || true; "${lab_b[@]}" lab down >/dev/null 2>&1 || true' EXIT
  # Started first so that Prometheus gathers history while the other steps run; the second lab comes up beside the first.
  rm -f "$root/.lab-b-up.log" "$root/.lab-b-up.rc"
  if [ -n "$LAB_B_MODULES" ]; then ( "${lab_b[@]}" lab up > "$root/.lab-b-up.log" 2>&1; echo $? > "$root/.lab-b-up.rc" ) & fi
  step lab lab up
fi
# The steps overlap, so that the suite stays well under 40 minutes on 2 cores: the shared-lab integration tests (the longest
# part, mostly waiting for the lab: breaches, rollbacks, watches) start once the lab has a little history, while the unit
# tests, sanity and lint run beside them at the lowest CPU priority (they are not timed; the lab and the playbooks under test
# are); the other integration modules follow those. Each step's output is printed whole, in order, when it is done.
# -ra: the summary lists every skip with its reason (e.g. the real-cluster target without KUBECONFIG), and every failure.
# Two pytest processes against the same lab: the modules marked shared_lab (they change or read the shared state of the lab's
# HTTP side: canary faults, HAProxy weights, stand-in message stores, injected faults, the seeded Kubernetes objects, the
# Alertmanager's alerts) run in file order in one; every other module (own test servers, own sandboxes, the lab's
# PostgreSQL) in the other. A module places itself with `pytestmark = pytest.mark.shared_lab`.
logs="$(mktemp -d)"
# Every test with the reliability marker appends its row here; docs/reliability.md must be what these rows make (below).
export OFM_RELIABILITY_RESULTS="$logs/reliability.jsonl"
: > "$OFM_RELIABILITY_RESULTS"
background() {  # name, command...: run in the background, output and exit status under $logs
  local name="$1"; shift
  ( local started=$SECONDS; "$@" > "$logs/$name.log" 2>&1; echo "$? $((SECONDS - started))" > "$logs/$name.rc" ) &
}
report() {  # name, description: print a background step's output and record its result
  local name="$1" description="$2" rc seconds
  wait_for "$name"
  read -r rc seconds < "$logs/$name.rc"
  printf '\n===== %s: %s\n' "$name" "$description"
  cat "$logs/$name.log"
  if [ "$rc" -eq 0 ]; then printf '===== %s: ok (%ss)\n' "$name" "$seconds"; else printf '===== %s: FAILED (%ss)\n' "$name" "$seconds"; failed+=("$name"); fi
}
wait_for() { while [ ! -f "$logs/$1.rc" ]; do sleep 2; done; }
ignore_b=()
for module in $LAB_B_MODULES; do ignore_b+=("--ignore=$module"); done
if has integration; then
  # shellcheck disable=SC2016  # expanded by the inner bash
  background integration-shared bash -c 'sleep 30; exec pytest tests/integration -m shared_lab -q -p no:cacheprovider -ra --durations=25 "$@"' _ "${ignore_b[@]}"
  if [ -n "$LAB_B_MODULES" ]; then
    # shellcheck disable=SC2086,SC2016  # the module list is split at its spaces on purpose; the script is single-quoted on purpose
    background integration-shared-b bash -c 'while [ ! -f .lab-b-up.rc ]; do sleep 2; done; cat .lab-b-up.log; [ "$(cat .lab-b-up.rc)" = 0 ] || exit 1
      sleep 30; exec "$@"' _ "${lab_b[@]}" pytest $LAB_B_MODULES -m shared_lab -q -p no:cacheprovider -ra --durations=15
  fi
fi
has unit && background unit nice -n 19 pytest tests/unit -q -p no:cacheprovider
has sanity && background sanity nice -n 19 scripts/sanity.sh
has lint && background lint nice -n 19 ansible-lint --profile production -q
has unit && report unit "pytest tests/unit -q -p no:cacheprovider"
has sanity && report sanity "scripts/sanity.sh"
has lint && report lint "ansible-lint --profile production -q"
if has integration; then
  background integration-others pytest tests/integration -m "not shared_lab" -q -p no:cacheprovider -ra --durations=15
  report integration-others "pytest tests/integration -m 'not shared_lab' (own servers, sandboxes, the lab's PostgreSQL)"
  report integration-shared "pytest tests/integration -m shared_lab (in file order, sharing the lab; not the second lab's modules)"
  if [ -n "$LAB_B_MODULES" ]; then
    report integration-shared-b "pytest <the second lab's modules> -m shared_lab (in file order, on the second lab)"
  fi
fi
rm -f "$root/.lab-b-up.log" "$root/.lab-b-up.rc"
# docs/reliability.md must have one row per test with the reliability marker (collected, so whatever ran); the page this run's
# results make is left in .reliability.md, to be copied to docs/ after a full run, and the results in .reliability.jsonl.
reliability_page() {
  cp "$OFM_RELIABILITY_RESULTS" "$root/.reliability.jsonl"
  OFM_RELIABILITY_INVENTORY="$logs/inventory.jsonl" pytest tests/unit tests/integration --collect-only -q -p no:cacheprovider > /dev/null &&
    python scripts/reliability_page.py "$logs/inventory.jsonl" --results "$OFM_RELIABILITY_RESULTS" --check --write-to "$root/.reliability.md"
}
step reliability-page reliability_page
rm -rf "$logs"

printf '\n'
if [ "${#failed[@]}" -gt 0 ]; then
  echo "test suite FAILED: ${failed[*]}"
  exit 1
fi
echo "test suite passed: $only"

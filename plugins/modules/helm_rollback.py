#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: helm_rollback
short_description: Roll a Helm release back to an earlier revision, with helm v3 or v4
version_added: 0.2.0
description:
  - Reads C(helm history <release> --output json), chooses the target revision, and runs C(helm rollback <release> <revision>).
  - Rolls back only when needed, so a second run reports no change. It is not needed when the newest revision is deployed and
    is the target itself, or a rollback to it (helm describes such revisions as C(Rollback to N)).
  - A release whose newest revision is C(pending-install), C(pending-upgrade) or C(pending-rollback) was left so by an
    interrupted helm run (or one still running). The module then fails and names that revision and the target, unless
    O(recover_pending=true), in which case the rollback to the target ends the pending state.
  - Returns the history before and after, and the helm commands it ran, so the change itself can be undone by another
    rollback to the revision that was current before.
  - When C(helm rollback) fails (the API server refuses a write, or the resources are not ready in time), the module fails
    with helm's message, and returns the history read again and the state helm left the release in (RV(release_state)).
    helm then writes the rollback's revision as C(failed) (or leaves it C(pending-rollback) when it could not write at all),
    and the resources may be partly rolled back. A re-run to the same revision number rolls back once more, to the same
    revision. V(last_deployed) also finishes it - it then names the revision the failed rollback went to (the one whose
    manifest that failed revision holds), not the one it rolled back from.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_helm
  - ofm.rollback.helm
options:
  release:
    description:
      - Name of the Helm release.
    type: str
    required: true
  target:
    description:
      - The revision to roll back to.
      - A revision number, such as V(3), from the release's history.
      - V(previous) - the revision before the newest one, as C(helm rollback) without a revision. Unlike the other targets,
        a second run chooses another revision (the one before the rollback it made).
      - V(last_deployed) - the newest revision with status C(deployed), else the newest C(superseded) one (a revision that
        was deployed once). After a failed upgrade, this is the revision the failure left running. After a failed rollback
        (the newest revision is C(failed), described by helm as a failed rollback), it is the revision that rollback went to.
    type: str
    default: last_deployed
  recover_pending:
    description:
      - Roll back a release whose newest revision is pending (C(pending-install), C(pending-upgrade), C(pending-rollback)).
      - Only set it once no helm run is working on the release any more, because helm keeps a release pending while it runs.
    type: bool
    default: false
  wait:
    description:
      - Wait until the rolled-back resources are ready (C(helm rollback --wait)); when they do not become ready within
        O(timeout), the module fails and the rollback stays applied.
    type: bool
    default: true
  timeout:
    description:
      - Seconds helm may take for the rollback and its wait (C(--timeout)).
    type: float
    default: 300.0
attributes:
  check_mode:
    support: full
    description: Runs only C(helm history), and returns the target revision and the command it would run.
  diff_mode:
    support: full
    description: Returns the newest revision before, and the revision whose chart and values the release runs after.
notes:
  - helm writes a new revision for each rollback; its description is C(Rollback to N).
seealso:
  - module: ofm.rollback.helm_history_info
"""

EXAMPLES = r"""
- name: Roll the OFM Social OS release back to the revision that ran before the failed upgrade
  ofm.rollback.helm_rollback:
    release: ofm-social-os
    namespace: ofm-production
    target: last_deployed
    timeout: 300
  register: ofm_helm_rollback

- name: Roll back to revision 41 with helm v4 and a dedicated kubeconfig
  ofm.rollback.helm_rollback:
    release: ofm-social-os
    namespace: ofm-production
    target: "41"
    binary_path: /usr/local/bin/helm4
    kubeconfig: /etc/ofm/kubeconfig
    context: production

- name: Recover a release an interrupted upgrade left in pending-upgrade
  ofm.rollback.helm_rollback:
    release: ofm-social-os
    namespace: ofm-production
    recover_pending: true
"""

RETURN = r"""
changed:
  description: True when helm rolled back (in check mode, when it would).
  returned: always
  type: bool
target_revision:
  description: The revision rolled back to (or that would be), with its chart and app version.
  returned: when the target was found
  type: dict
  sample: {revision: 1, status: superseded, chart: ofm-social-os-1.4.0, app_version: 1.4.0, description: Install complete, updated: "2025-01-01T03:00:00Z"}
pending_revision:
  description: The pending revision the rollback recovers from (or would, or refused to); null when none was pending.
  returned: when the history was read
  type: dict
history_before:
  description: The release's revisions before the rollback, oldest first, as M(ofm.rollback.helm_history_info) returns them.
  returned: when the history was read
  type: list
  elements: dict
history_after:
  description:
    - The revisions after the rollback; the same as RV(history_before) when nothing ran.
    - When C(helm rollback) failed, the history read again (null when helm history failed too).
  returned: success, and when helm rollback failed
  type: list
  elements: dict
release_state:
  description: When C(helm rollback) failed, the newest revision helm left, its status and description (or why it is unknown).
  returned: when helm rollback failed
  type: str
  sample: "revision 3 is failed: Rollback \"ofm-social-os\" failed: context deadline exceeded"
command:
  description: The helm rollback command that ran, or in check mode and on no change the one that would run; secrets hidden.
  returned: when the target was found
  type: list
  elements: str
  sample: [helm, rollback, ofm-social-os, "1", --wait, --timeout, 300s, --namespace, ofm-production]
commands:
  description: Every helm command run, in order, secrets hidden.
  returned: always
  type: list
  elements: list
diff:
  description: The newest revision before, and after (in check mode, the target revision).
  returned: success
  type: dict
  sample: {before: {revision: 3, chart: ofm-social-os-1.5.0, status: failed}, after: {revision: 4, chart: ofm-social-os-1.4.0, status: deployed}}
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.helm import (
    HELM_CONNECTION_SPEC, HelmClient, Revision, RollbackPlan, latest, pending, plan_rollback, state_after_failure)

ARGUMENT_SPEC = {
    **HELM_CONNECTION_SPEC,
    "release": {"type": "str", "required": True},
    "target": {"type": "str", "default": "last_deployed"},
    "recover_pending": {"type": "bool", "default": False},
    "wait": {"type": "bool", "default": True},
    "timeout": {"type": "float", "default": 300.0},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    client = HelmClient.from_params(params)
    state: dict[str, Any] = {}
    try:
        result = _roll_back(client, params, module.check_mode, state)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), changed=_changed_after_failure(client, state), commands=client.commands, **state)
    module.exit_json(**result, commands=client.commands, **state)


def _roll_back(client: HelmClient, params: dict[str, Any], check_mode: bool, state: dict[str, Any]) -> dict[str, Any]:
    """Read the history, plan, and roll back when needed; fills ``state`` as it learns, for the failure result."""
    release = params["release"]
    before = client.history(release)
    stuck = pending(before)
    state.update(history_before=_history(before), pending_revision=stuck.as_dict() if stuck else None)
    plan = plan_rollback(before, params["target"], release, params["recover_pending"], lambda revision: client.manifest(release, revision))
    state.update(_plan_state(client, plan, params))
    if check_mode or not plan.needed:
        return {"changed": plan.needed, "msg": _message(plan, release, check_mode), "history_after": state["history_before"],
                "diff": {"before": _summary(latest(before)), "after": _summary(plan.target if plan.needed else latest(before))}}
    try:
        client.rollback(release, plan.target.revision, params["wait"], params["timeout"])
    except OfmRollbackError as exc:
        state.update(state_after_failure(client, release, plan, exc))
        raise
    after = client.history(release)
    return {"changed": True, "msg": _message(plan, release, False), "history_after": _history(after),
            "diff": {"before": _summary(latest(before)), "after": _summary(latest(after))}}


def _plan_state(client: HelmClient, plan: RollbackPlan, params: dict[str, Any]) -> dict[str, Any]:
    return {"target_revision": plan.target.as_dict(),
            "command": client.rollback_argv(params["release"], plan.target.revision, params["wait"], params["timeout"])}


def _message(plan: RollbackPlan, release: str, check_mode: bool) -> str:
    target = f"revision {plan.target.revision} ({plan.target.chart}, app version {plan.target.app_version})"
    if not plan.needed:
        return f"release {release} already runs {target}"
    recovered = f", recovering from {plan.pending.status} revision {plan.pending.revision}" if plan.pending else ""
    return f"release {release} {'would be' if check_mode else 'was'} rolled back to {target}{recovered}"


def _history(history: list[Revision]) -> list[dict[str, Any]]:
    return [revision.as_dict() for revision in history]


def _summary(revision: Revision) -> dict[str, Any]:
    return {"revision": revision.revision, "chart": revision.chart, "app_version": revision.app_version, "status": revision.status}


def _changed_after_failure(client: HelmClient, state: dict[str, Any]) -> bool:
    """Whether a failed run changed the release: not when no rollback command ran, nor when the history read again after the
    failure holds no new revision (helm can fail before it records one, e.g. when the API refuses the release's Secret); a
    history that could not be read again counts as changed, since the rollback may have been applied."""
    if not any(len(command) > 1 and command[1] == "rollback" for command in client.commands):
        return False
    after = state.get("history_after")
    if after is None:
        return True
    return [entry["revision"] for entry in after] != [entry["revision"] for entry in state.get("history_before") or []]


if __name__ == "__main__":
    main()

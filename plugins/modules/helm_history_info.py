#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: helm_history_info
short_description: Read the revision history of a Helm release
version_added: 0.2.0
description:
  - Runs C(helm history <release> --output json) and returns the revisions as data, oldest first.
  - Also names the newest revision, the one a rollback to V(last_deployed) would choose, and a revision left pending by an
    interrupted helm run, so that a playbook can decide before M(ofm.rollback.helm_rollback) changes anything.
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
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is no diff.
seealso:
  - module: ofm.rollback.helm_rollback
"""

EXAMPLES = r"""
- name: Read the history of the OFM Social OS release
  ofm.rollback.helm_history_info:
    release: ofm-social-os
    namespace: ofm-production
  register: ofm_release_history

- name: Stop when an interrupted helm run left the release pending
  ansible.builtin.assert:
    that: ofm_release_history.pending is none
    fail_msg: "revision {{ ofm_release_history.pending.revision }} is {{ ofm_release_history.pending.status }}"
"""

RETURN = r"""
history:
  description: The revisions, oldest first, as C(helm history --output json) prints them.
  returned: success
  type: list
  elements: dict
  sample:
    - {revision: 1, status: superseded, chart: ofm-social-os-1.4.0, app_version: 1.4.0, description: Install complete, updated: "2025-01-01T03:00:00Z"}
    - {revision: 2, status: deployed, chart: ofm-social-os-1.5.0, app_version: 1.5.0, description: Upgrade complete, updated: "2025-01-02T03:00:00Z"}
current:
  description: The newest revision, the one helm acts on.
  returned: success
  type: dict
last_deployed:
  description:
    - The newest revision with status C(deployed) (else the newest C(superseded) one); null when none was deployed.
    - After a failed rollback (the newest revision C(failed), described by helm as a failed rollback), the revision that
      rollback went to, as M(ofm.rollback.helm_rollback) chooses it (C(helm get manifest) is then run for the revisions compared).
  returned: success
  type: dict
pending:
  description: The newest revision when its status is C(pending-install), C(pending-upgrade) or C(pending-rollback); else null.
  returned: success
  type: dict
command:
  description: The helm command that was run.
  returned: always
  type: list
  elements: str
  sample: [helm, history, ofm-social-os, --output, json, --namespace, ofm-production]
"""

from typing import Any, Optional

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.errors import NotFoundError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.helm import HELM_CONNECTION_SPEC, HelmClient, Revision, latest, pending, select_target

ARGUMENT_SPEC = {
    **HELM_CONNECTION_SPEC,
    "release": {"type": "str", "required": True},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    client = HelmClient.from_params(params)
    try:
        history = client.history(params["release"])
        last_deployed = _last_deployed(client, history, params["release"])
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), command=_first(client))
    module.exit_json(changed=False, history=[revision.as_dict() for revision in history], current=_dict(latest(history) if history else None),
                     last_deployed=_dict(last_deployed), pending=_dict(pending(history) if history else None), command=_first(client))


def _last_deployed(client: HelmClient, history: list[Revision], release: str) -> Optional[Revision]:
    try:
        return select_target(history, "last_deployed", release, lambda revision: client.manifest(release, revision))
    except NotFoundError:
        return None


def _dict(revision: Optional[Revision]) -> Optional[dict[str, Any]]:
    return revision.as_dict() if revision else None


def _first(client: HelmClient) -> list[str]:
    """The helm history command (the manifests read after it are not what the module reports)."""
    return client.commands[0] if client.commands else []


if __name__ == "__main__":
    main()

# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who may roll back, judged in Python (module ``rollback_authorize``; README: "Who may roll back").

Authorities, in order, failing closed:

1. ``admins`` (the AWX user or ``rollback_operator`` is listed): no question asked;
2. the ops API's admin role: one read-only probe (``OpsApiClient.whoami``), with a short budget;
3. only when the ops API cannot be reached (``UnavailableError``, ``DeadlineExceeded``) and ``rbac_fallback`` is on: the
   cluster's own RBAC, asked by the playbook (``k8s_access_info``) when this returns ``needs_rbac``.

A definitive answer of a reachable ops API (401, 403, a caller without the admin role) refuses, as does an unknown operator.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError

UNREACHABLE = ("UnavailableError", "DeadlineExceeded")
NOTHING_CHANGED = "Nothing was changed."
UNKNOWN_OPERATOR = ("Refused: the operator is unknown: an AWX job without a user (a scheduled launch, or one by a system) "
                    "may not roll back, launch it as an admin; outside AWX run with -e rollback_operator=<your user>. "
                    "Only admins may roll back.")
AUTHORITIES = {"admins": "incident_admins list", "ops_api": "ops API (admin role)"}


class Refused(OfmRollbackError):
    """The operator may not roll back: the message says who asked what, and that nothing changed."""

    def __str__(self) -> str:
        return self.reason


def _refused(text: str) -> Refused:
    return Refused(f"{text} {NOTHING_CHANGED}", system="ofm.rollback", operation="authorize")


def authorize(operator: str, admins: Sequence[str], *, confirm_with_ops_api: bool, rbac_fallback: bool,
              probe: Optional[Callable[[], Any]]) -> dict[str, Any]:
    """The authorization of ``operator``; ``probe`` asks the ops API (an ``Identity``) and may raise ``OfmRollbackError``.

    Returns ``authorized`` (True, or None when the cluster's RBAC must answer: ``needs_rbac``), ``authority``,
    ``ops_api_down`` and its reason, and the probe's ``is_admin``/``roles``. Raises ``Refused`` when the operator may not
    roll back, and the probe's own error when the ops API answered something else than a verdict (a 5xx, a bad body).
    """
    operator = (operator or "").strip()
    if not operator:
        raise _refused(UNKNOWN_OPERATOR)
    result = {"operator": operator, "authorized": True, "authority": None, "ops_api_down": False, "ops_api_down_reason": "",
              "needs_rbac": False, "is_admin": None, "roles": None, "probed": False}
    if operator in list(admins or []):
        return {**result, "authority": AUTHORITIES["admins"]}
    if not confirm_with_ops_api or probe is None:
        raise _refused(f"Refused: {operator} is not in incident_admins and the ops API was not asked; the admin role is required.")
    try:
        identity = probe()
    except OfmRollbackError as exc:
        if type(exc).__name__ not in UNREACHABLE:
            raise
        reason = str(exc)
        if not rbac_fallback:
            raise _refused(f"Refused: {operator} is not in incident_admins and the ops API could not be asked ({reason}), and the cluster "
                           "could not be asked either (RBAC authority disabled).") from exc
        return {**result, "authorized": None, "ops_api_down": True, "ops_api_down_reason": reason, "needs_rbac": True, "probed": True}
    result.update(probed=True, is_admin=bool(identity.is_admin), roles=identity.roles)
    if identity.is_admin:
        return {**result, "authority": AUTHORITIES["ops_api"]}
    roles = ", ".join(identity.roles or []) or "none"
    raise _refused(f"Refused: {operator} is not in incident_admins and the ops API reports the roles {roles}; the admin role is required.")


def message(result: Mapping[str, Any]) -> str:
    """One line for the operator."""
    if result.get("needs_rbac"):
        return (f"{result['operator']}: the ops API cannot be reached ({result['ops_api_down_reason']}); "
                "the cluster's RBAC is asked for the fallback's verbs")
    return f"{result['operator']} may roll back: {result['authority']}"

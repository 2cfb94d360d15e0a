# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helm releases through the helm binary (v3 or v4): history as data, the choice of a rollback target, the rollback.

The client runs ``helm`` through the collection's command runner (an argument list, never a shell) and turns helm's
stderr into the collection's exceptions. The target selection is plain functions over the parsed history, testable without helm.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

from ansible.module_utils.basic import env_fallback

from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthorizationError,
    ConflictError,
    DataError,
    DeadlineExceeded,
    InputError,
    NotFoundError,
    OfmRollbackError,
    UnavailableError,
)
from ansible_collections.ofm.rollback.plugins.module_utils.command import CommandRunner, Program, Runner, run_process

SYSTEM = "helm"
PENDING_STATUSES = ("pending-install", "pending-upgrade", "pending-rollback")
NAMED_TARGETS = ("previous", "last_deployed")
ONCE_DEPLOYED = ("deployed", "superseded")
_ROLLBACK_DESCRIPTION = re.compile(r"^Rollback to (\d+)$")
# How helm describes a rollback that failed: "Rollback "<release>" failed: ..." when applying the resources failed (the
# revision that was deployed is then superseded), "Release "<release>" failed: ..." when its --wait did (helm v3 and v4).
# A failed upgrade is "Upgrade "<release>" failed: ...", a failed install revision 1.
_FAILED_ROLLBACK_DESCRIPTION = re.compile(r'^(Rollback|Release) "[^"]*" failed: ')

HELM_CONNECTION_SPEC: dict[str, Any] = {
    "binary_path": {"type": "path", "default": "helm"},
    "kubeconfig": {"type": "path", "fallback": (env_fallback, ["KUBECONFIG"])},
    "context": {"type": "str"},
    "namespace": {"type": "str", "required": True},
}


@dataclass(frozen=True)
class Revision:
    """One entry of ``helm history -o json``."""

    revision: int
    status: str
    chart: str
    app_version: str
    description: str
    updated: str

    @classmethod
    def from_json(cls, entry: Any) -> "Revision":
        if not isinstance(entry, dict) or not isinstance(entry.get("revision"), int):
            raise DataError(f"a history entry has no integer 'revision': {entry!r}", system=SYSTEM, operation="history")
        return cls(entry["revision"], str(entry.get("status", "")), str(entry.get("chart", "")), str(entry.get("app_version", "")),
                   str(entry.get("description", "")), str(entry.get("updated", "")))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def rolled_back_to(self) -> Optional[int]:
        """The revision this one restored, when helm wrote it as a rollback (``Rollback to N``)."""
        match = _ROLLBACK_DESCRIPTION.match(self.description)
        return int(match.group(1)) if match else None


def parse_history(stdout: str) -> list[Revision]:
    """``helm history -o json`` output, oldest first."""
    try:
        entries = json.loads(stdout or "[]")
    except ValueError as exc:
        raise DataError(f"helm history printed no JSON ({exc})", system=SYSTEM, operation="history",
                        hint="Check that binary_path points at helm v3 or v4.") from exc
    if not isinstance(entries, list):
        raise DataError("helm history printed JSON that is not a list", system=SYSTEM, operation="history")
    return sorted((Revision.from_json(entry) for entry in entries), key=lambda revision: revision.revision)


def latest(history: Sequence[Revision]) -> Revision:
    """The release's newest record: what helm acts on."""
    return history[-1]


def pending(history: Sequence[Revision]) -> Optional[Revision]:
    """The newest revision when an install, upgrade or rollback left it pending (a helm run was interrupted)."""
    newest = latest(history)
    return newest if newest.status in PENDING_STATUSES else None


def failed_rollback(history: Sequence[Revision]) -> Optional[Revision]:
    """The newest revision when it is a rollback that failed (helm wrote it ``failed``, described as a failed rollback)."""
    newest = latest(history)
    if newest.revision > 1 and newest.status == "failed" and _FAILED_ROLLBACK_DESCRIPTION.match(newest.description):
        return newest
    return None


def rollback_origin(history: Sequence[Revision], failed: Revision, manifest: Callable[[int], str]) -> Optional[Revision]:
    """The revision the failed rollback ``failed`` rolled back to: the newest once-deployed revision before it whose manifest
    is the one it holds (helm copies the target's chart, values and manifest into the rollback's revision; its description
    no longer names the target once the rollback failed). None when no revision has that manifest."""
    wanted = manifest(failed.revision)
    for revision in reversed(history):
        if revision.revision < failed.revision and revision.status in ONCE_DEPLOYED and manifest(revision.revision) == wanted:
            return revision
    return None


def select_target(history: Sequence[Revision], target: str, release: str, manifest: Optional[Callable[[int], str]] = None) -> Revision:
    """The revision ``target`` names: a revision number, ``previous`` (the one before the newest, as ``helm rollback``
    without a revision), or ``last_deployed`` (the newest with status deployed, else the newest that was once deployed).

    After a rollback that failed (``failed_rollback``), no revision may be deployed any more, or the one rolled back from is
    still marked deployed, and the resources are partly the target's: ``last_deployed`` is then the revision that rollback
    went to, found with ``manifest(revision)`` (the manifest helm holds for a revision), so a re-run finishes the rollback
    instead of going back to the revision it left. Without ``manifest`` the statuses alone decide."""
    if not history:
        raise NotFoundError("the release has no history", system=SYSTEM, operation="history", target=release,
                            hint="Check the release name and namespace (helm list --all).")
    if target == "previous":
        return _previous(history, release)
    if target == "last_deployed":
        failed = failed_rollback(history) if manifest is not None else None
        origin = rollback_origin(history, failed, manifest) if failed is not None and manifest is not None else None
        return origin or _last_deployed(history, release)
    number = _revision_number(target)
    chosen = next((revision for revision in history if revision.revision == number), None)
    if chosen is None:
        raise NotFoundError(f"revision {number} is not in the history (revisions: {_numbers(history)})", system=SYSTEM,
                            operation="rollback target selection", target=release,
                            hint="Pick a revision that helm history lists; helm keeps --history-max revisions.")
    return chosen


def _revision_number(target: str) -> int:
    if not target.isdigit() or int(target) < 1:
        raise InputError(f"'{target}' is neither a revision number nor a named target", option="target",
                         accepted=f"a revision number (1, 2, ...), {' or '.join(NAMED_TARGETS)}")
    return int(target)


def _previous(history: Sequence[Revision], release: str) -> Revision:
    if len(history) < 2:
        raise NotFoundError(f"only revision {history[0].revision} exists, there is no previous one", system=SYSTEM,
                            operation="rollback target selection", target=release, hint="Nothing to roll back to.")
    return history[-2]


def _last_deployed(history: Sequence[Revision], release: str) -> Revision:
    for statuses in (("deployed",), ONCE_DEPLOYED):
        candidates = [revision for revision in history if revision.status in statuses]
        if candidates:
            return candidates[-1]
    raise NotFoundError(f"no revision was ever deployed (statuses: {_statuses(history)})", system=SYSTEM,
                        operation="rollback target selection", target=release,
                        hint="Roll back to a revision number, or uninstall and install the release again.")


def already_at(history: Sequence[Revision], target: Revision) -> bool:
    """True when the newest revision is deployed and is the target, or a rollback to it: rolling back would change nothing."""
    newest = latest(history)
    return newest.status == "deployed" and target.revision in (newest.revision, newest.rolled_back_to())


def _numbers(history: Sequence[Revision]) -> str:
    return ", ".join(str(revision.revision) for revision in history)


def _statuses(history: Sequence[Revision]) -> str:
    return ", ".join(f"{revision.revision}={revision.status}" for revision in history)


HELM = Program("binary_path", "a path to helm v3 or v4, or a name on PATH")


class HelmClient:
    """Runs one helm binary for one namespace (and optional kubeconfig and context)."""

    def __init__(self, binary: str, namespace: str, kubeconfig: Optional[str] = None, context: Optional[str] = None,
                 runner: Runner = run_process, binary_option: str = "binary_path") -> None:
        self.binary = binary
        self.namespace = namespace
        self.kubeconfig = kubeconfig
        self.context = context
        program = HELM if binary_option == HELM.option else Program(binary_option, HELM.accepted)
        self.runner = CommandRunner(SYSTEM, program=program, runner=runner)

    @classmethod
    def from_params(cls, params: Mapping[str, Any], binary_option: str = "binary_path", runner: Runner = run_process) -> "HelmClient":
        """A client from the ``HELM_CONNECTION_SPEC`` options (the binary under ``binary_option`` when a module names it otherwise)."""
        return cls(params.get(binary_option) or "helm", params["namespace"], params.get("kubeconfig"), params.get("context"), runner=runner,
                   binary_option=binary_option)

    @property
    def commands(self) -> list[list[str]]:
        """The helm command lines run, secret flag values hidden."""
        return self.runner.commands

    def argv(self, *args: str) -> list[str]:
        """The full command line of a helm subcommand, with the connection flags."""
        connection = ["--namespace", self.namespace]
        if self.kubeconfig:
            connection += ["--kubeconfig", self.kubeconfig]
        if self.context:
            connection += ["--kube-context", self.context]
        return [self.binary, *args, *connection]

    def history(self, release: str) -> list[Revision]:
        stdout = self._run(self.argv("history", release, "--output", "json"), "history", release, timeout=60)
        return parse_history(stdout)

    def manifest(self, release: str, revision: int) -> str:
        """The manifest (multi-document YAML) helm rendered for ``revision`` of ``release`` (``helm get manifest --revision``)."""
        return self._run(self.argv("get", "manifest", release, "--revision", str(revision)), "get manifest", release, timeout=60)

    def rollback_argv(self, release: str, revision: int, wait: bool, timeout: float) -> list[str]:
        options = ["--wait"] if wait else []
        return self.argv("rollback", release, str(revision), *options, "--timeout", f"{timeout:g}s")

    def rollback(self, release: str, revision: int, wait: bool, timeout: float) -> None:
        self._run(self.rollback_argv(release, revision, wait, timeout), "rollback", release, timeout=timeout + 60)

    def _run(self, argv: list[str], operation: str, release: str, timeout: float) -> str:
        where = f"release {release} in namespace {self.namespace}"
        return self.runner.run(argv, operation, where, timeout=timeout, failure=lambda failed: helm_error(failed.stderr, operation, where))


def helm_error(stderr: str, operation: str, where: str) -> OfmRollbackError:
    """The exception for helm's failure, carrying its stderr (redacted)."""
    message = stderr.strip() or "helm exited with an error and printed nothing"
    details = {"stderr": message}
    if "is forbidden" in message or "Forbidden" in message:
        return AuthorizationError(message, system=SYSTEM, operation=operation, target=where, details=details,
                                  hint="The API server refused helm's request (RBAC): give the kubeconfig's user the "
                                       "rights helm needs on the release's resources and its Secrets in the namespace, then run again.")
    if "not found" in message and "release" in message:
        return NotFoundError(message, system=SYSTEM, operation=operation, target=where, details=details,
                             hint="Check the release name and namespace (helm list --all --namespace <namespace>).")
    if "another operation" in message:
        return ConflictError(message, system=SYSTEM, operation=operation, target=where, details=details,
                             hint="Another helm run holds the release; wait for it, or use recover_pending if it was interrupted.")
    if "status: Unknown" in message:
        return DeadlineExceeded(message, system=SYSTEM, operation=operation, target=where, details=details,
                                hint="helm could not read the resources' status until its timeout (its watches of the API server kept "
                                     "failing); check the API server, then run again.")
    if any(marker in message for marker in ("context deadline exceeded", "timed out", "not ready")):
        return DeadlineExceeded(message, system=SYSTEM, operation=operation, target=where, details=details,
                                hint="The rollback was applied but the resources did not become ready in time; check them or raise timeout.")
    if any(marker in message for marker in ("connection refused", "no such host", "Kubernetes cluster unreachable", "i/o timeout")):
        return UnavailableError(message, system=SYSTEM, operation=operation, target=where, details=details, sent=False,
                                hint="Check the kubeconfig, context and that the cluster's API server is reachable from this host.")
    if message.endswith(": EOF") or any(marker in message for marker in ("connection reset by peer", "broken pipe", "unexpected EOF")):
        return UnavailableError(message, system=SYSTEM, operation=operation, target=where, details=details, sent=True,
                                hint="The API server closed the connection while helm waited for its answer (it stopped or "
                                     "restarted): whether that write landed is unknown until it is back; read helm history then.")
    return OfmRollbackError(message, system=SYSTEM, operation=operation, target=where, details=details,
                            hint="Read helm's message above; run the command by hand with --debug for more.")


@dataclass(frozen=True)
class RollbackPlan:
    """What a rollback would do: the target, the pending revision it recovers from (if any), and whether it is a no-op."""

    target: Revision
    pending: Optional[Revision]
    needed: bool


def plan_rollback(history: Sequence[Revision], target: str, release: str, recover_pending: bool,
                  manifest: Optional[Callable[[int], str]] = None) -> RollbackPlan:
    """Choose the target (``manifest``: see ``select_target``); refuse a release left pending by an interrupted helm run unless
    ``recover_pending``."""
    chosen = select_target(history, target, release, manifest)
    stuck = pending(history)
    if stuck is not None and not recover_pending:
        raise ConflictError(
            f"revision {stuck.revision} is {stuck.status}: a helm run was interrupted or is still running", system=SYSTEM,
            operation="rollback", target=release, details={"pending_revision": stuck.as_dict()},
            hint=f"Make sure no helm run is in progress on this release, then set recover_pending: true to roll back to revision "
                 f"{chosen.revision} ({chosen.chart}, app version {chosen.app_version}).")
    if stuck is not None and chosen.revision == stuck.revision:
        raise InputError(f"the target revision {chosen.revision} is the pending one", option="target", system=SYSTEM,
                         operation="rollback target selection", target=release, accepted="a revision that was deployed, or last_deployed")
    return RollbackPlan(chosen, stuck, needed=stuck is not None or not already_at(history, chosen))


def state_after_failure(client: HelmClient, release: str, plan: RollbackPlan, error: OfmRollbackError) -> dict[str, Any]:
    """What a failed ``helm rollback`` left, for the failure result: the history read again (``history_after``) and the newest
    revision in words (``release_state``); the ``error``'s hint then says how a re-run finishes the rollback. When helm history
    fails too (the API server is gone), ``history_after`` is None and ``release_state`` says why."""
    rerun = (f"Once the cause is fixed, run again with target: {plan.target.revision}: it rolls back once more to revision "
             f"{plan.target.revision}")
    try:
        after = client.history(release)
    except OfmRollbackError as exc:
        error.hint = f"{error.hint} {rerun} (with recover_pending: true if helm history then shows it pending).".strip()
        return {"history_after": None, "release_state": f"unknown: helm history failed too: {exc.reason}"}
    newest = latest(after)
    stuck = pending(after)
    recover = " with recover_pending: true (no helm run is working on it any more)" if stuck else ""
    error.hint = f"{error.hint} {rerun}{recover}.".strip()
    return {"history_after": [revision.as_dict() for revision in after],
            "release_state": f"revision {newest.revision} is {newest.status}" + (f": {newest.description}" if newest.description else "")}

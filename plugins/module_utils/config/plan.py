# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a restore changes, and what it did.

A restore of a snapshot, per kind (``flags``, ``unleash``, ``configmaps``, ``secrets``, ``env``, ``rate_limits``):

1. ``make_plan`` reads every kind's current values through its ``Applier`` (all reads first, so a missing object, a refused
   credential or an unreachable system stops the restore before anything changes) and diffs them against the snapshot
   into per-key ``Change`` s (add / change / remove / unchanged), grouped per target: the object one request writes (a
   ConfigMap, a Secret, a Deployment, the flag cache, a table);
2. ``restore`` gives each target's changes to the kind's applier, one call per target, kind after kind in ``KINDS`` order,
   and stops at the first failure; its ``RestoreReport`` says per kind what was restored, what was not, and the error.
   Running the restore again plans from the values as they are then, so it does exactly what is left.

Secret values never leave a rendered plan: ``Change.render`` and ``Plan.diff`` show ``<added>``, ``<changed>``,
``<removed>`` and ``<unchanged>`` for the kinds whose applier says ``secret = True``.

An ``Applier`` (``kube_appliers`` has those of ``configmaps``, ``secrets`` and ``env``; the Redis, Unleash and PostgreSQL ones
follow the same protocol) has:

- ``kind``: the snapshot kind it restores;
- ``read() -> dict``: the kind's section as it is now, in the snapshot's shape (what a snapshot of it would hold);
- ``apply(changes) -> None``: make one target's values what the changes want, in the fewest round trips the system allows (one
  patch, one pipeline, one transaction). It gets every change of the target, unchanged keys included and in the snapshot's
  order, so it knows the target's whole wanted state; it raises an ``OfmRollbackError`` when it cannot;
- ``round_trips``: the requests it made so far (reads included), for the benchmark;

and optionally ``secret`` (mask values; default False), ``ordered`` (the order of a target's keys matters, as for env
entries; a reorder is then the change of the key ``ORDER_KEY``; default False), ``entries(section)`` (the section as
``{target: {key: value}}``; default: the section itself, the shape of ``configmaps`` and ``secrets``) and ``absent`` (the value
a key the snapshot does not hold must have instead of being removed, such as ``False`` for an Unleash toggle created after
the snapshot: it is turned off, not deleted; default: such keys are removed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.config.snapshot import KINDS
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.redact import redact

ADD, CHANGE, REMOVE, UNCHANGED = "add", "change", "remove", "unchanged"
ACTIONS = (ADD, CHANGE, REMOVE, UNCHANGED)
MASKS = {ADD: "<added>", CHANGE: "<changed>", REMOVE: "<removed>", UNCHANGED: "<unchanged>"}
SECRET = "<secret>"
ORDER_KEY = "(order)"
SYSTEM = "ofm.rollback config restore"

RESTORED, UNCHANGED_KIND, FAILED, NOT_RESTORED, PLANNED = "restored", "unchanged", "failed", "not restored", "planned"


class Applier(Protocol):
    """Reads and writes one kind of configuration (see the module's docstring)."""

    kind: str
    round_trips: int

    def read(self) -> dict[str, Any]:
        ...

    def apply(self, changes: Sequence["Change"]) -> None:
        ...


@dataclass(frozen=True)
class Change:
    """One key of one target: what it is (``before``) and what the snapshot wants (``after``); ``None`` for an absent side.

    ``repr`` leaves the values out, so a secret cannot reach a log through it.
    """

    kind: str
    target: str
    key: str
    action: str
    before: Any = field(default=None, repr=False)
    after: Any = field(default=None, repr=False)
    secret: bool = False

    @property
    def changed(self) -> bool:
        return self.action != UNCHANGED

    def render(self) -> dict[str, Any]:
        """The change for people and results: values for plain kinds, only the action's mask for secret ones."""
        shown: dict[str, Any] = {"target": self.target, "key": self.key, "action": self.action}
        if self.secret:
            shown["value"] = MASKS[self.action]
        else:
            if self.action != ADD:
                shown["before"] = self.before
            if self.action != REMOVE:
                shown["after"] = self.after
        return shown

    def sides(self) -> tuple[Any, Any]:
        """The before and after values of a diff; for secrets: ``<unchanged>`` on both sides, else ``<secret>`` before and the
        action's mask after."""
        if not self.secret:
            return self.before, self.after
        if self.action == UNCHANGED:
            return MASKS[UNCHANGED], MASKS[UNCHANGED]
        return SECRET, MASKS[self.action]


class _Removed:
    """The default ``absent``: a key the snapshot does not hold is removed."""

    def __repr__(self) -> str:
        return "REMOVED"


REMOVED = _Removed()


def diff_target(kind: str, target: str, current: Mapping[str, Any], wanted: Mapping[str, Any], *, secret: bool = False,  # pylint: disable=too-many-arguments
                ordered: bool = False, absent: Any = REMOVED) -> list[Change]:
    """The changes that make ``current`` (a target's keys now) ``wanted``: wanted keys in their order, then the keys ``wanted``
    lacks: removed, or (with ``absent``) changed to that value, unchanged when they have it."""
    changes = []
    for key, value in wanted.items():
        if key not in current:
            changes.append(Change(kind, target, key, ADD, None, value, secret))
        else:
            changes.append(Change(kind, target, key, UNCHANGED if current[key] == value else CHANGE, current[key], value, secret))
    for key, value in current.items():
        if key in wanted:
            continue
        if absent is REMOVED:
            changes.append(Change(kind, target, key, REMOVE, value, None, secret))
        else:
            changes.append(Change(kind, target, key, UNCHANGED if value == absent else CHANGE, value, absent, secret))
    if ordered:
        now = [key for key in current if key in wanted]
        then = [key for key in wanted if key in current]
        if now != then:
            changes.append(Change(kind, target, ORDER_KEY, CHANGE, now, then, False))
    return changes


def diff_kind(kind: str, current: Mapping[str, Mapping[str, Any]], wanted: Mapping[str, Mapping[str, Any]], *,  # pylint: disable=too-many-arguments
              secret: bool = False, ordered: bool = False, absent: Any = REMOVED) -> "KindPlan":
    """The changes of every target the snapshot holds (targets it does not hold are not touched)."""
    changes: list[Change] = []
    for target, values in wanted.items():
        changes.extend(diff_target(kind, target, current.get(target) or {}, values, secret=secret, ordered=ordered, absent=absent))
    return KindPlan(kind, tuple(changes), secret)


@dataclass(frozen=True)
class KindPlan:
    """The changes of one kind, every key of every target the snapshot holds."""

    kind: str
    changes: tuple[Change, ...]
    secret: bool = False

    @property
    def changed(self) -> bool:
        return any(change.changed for change in self.changes)

    def targets(self) -> list[str]:
        """Every target, in order."""
        return list(dict.fromkeys(change.target for change in self.changes))

    def by_target(self) -> dict[str, list[Change]]:
        """The targets that change, each with all its changes (unchanged keys too): one applier call, one request each."""
        grouped: dict[str, list[Change]] = {}
        for change in self.changes:
            grouped.setdefault(change.target, []).append(change)
        return {target: changes for target, changes in grouped.items() if any(change.changed for change in changes)}

    def counts(self) -> dict[str, int]:
        return {action: sum(1 for change in self.changes if change.action == action) for action in ACTIONS}

    def render(self, unchanged: bool = False) -> list[dict[str, Any]]:
        """The rendered changes (secret values masked); unchanged keys only when asked."""
        return [change.render() for change in self.changes if unchanged or change.changed]

    def diff(self) -> dict[str, dict[str, Any]]:
        """``{"before": {target: {key: value}}, "after": ...}`` of the keys that change (secret values masked)."""
        before: dict[str, dict[str, Any]] = {}
        after: dict[str, dict[str, Any]] = {}
        for change in self.changes:
            if not change.changed:
                continue
            old, new = change.sides()
            if change.action != ADD:
                before.setdefault(change.target, {})[change.key] = old
            if change.action != REMOVE:
                after.setdefault(change.target, {})[change.key] = new
        return {"before": before, "after": after}


@dataclass(frozen=True)
class Plan:
    """The changes of every kind to restore, in ``KINDS`` order."""

    kinds: tuple[KindPlan, ...]

    @property
    def changed(self) -> bool:
        return any(kind.changed for kind in self.kinds)

    def kind(self, name: str) -> KindPlan:
        for kind in self.kinds:
            if kind.kind == name:
                return kind
        raise KeyError(name)

    def render(self, unchanged: bool = False) -> dict[str, list[dict[str, Any]]]:
        return {kind.kind: kind.render(unchanged) for kind in self.kinds}

    def counts(self) -> dict[str, dict[str, int]]:
        return {kind.kind: kind.counts() for kind in self.kinds}

    def diff(self) -> dict[str, dict[str, Any]]:
        """An Ansible ``diff`` (``before``/``after``, per kind, target and key) of what changes, secret values masked."""
        sides = {kind.kind: kind.diff() for kind in self.kinds if kind.changed}
        return {"before": {name: side["before"] for name, side in sides.items()}, "after": {name: side["after"] for name, side in sides.items()}}


def entries_of(applier: Any, section: Any) -> dict[str, dict[str, Any]]:
    """The section as ``{target: {key: value}}``: the applier's ``entries`` when it has one, else the section itself."""
    if hasattr(applier, "entries"):
        return applier.entries(section)
    return {target: dict(values or {}) for target, values in (section or {}).items()}


def make_plan(appliers: Mapping[str, Any], sections: Mapping[str, Any]) -> Plan:
    """Read every kind of ``sections`` (the snapshot's sections to restore) now and diff it against the snapshot.

    Every read happens here, before anything changes; a kind without an applier is an ``InputError`` naming the kinds that have one.
    """
    missing = [kind for kind in sections if kind not in appliers]
    if missing:
        raise InputError(f"no applier for the kinds {missing}", option="kinds", accepted=sorted(appliers), system=SYSTEM)
    plans = []
    for kind in sorted(sections, key=_kind_order):
        applier = appliers[kind]
        secret = bool(getattr(applier, "secret", False))
        plans.append(diff_kind(kind, entries_of(applier, applier.read()), entries_of(applier, sections[kind]), secret=secret,
                               ordered=bool(getattr(applier, "ordered", False)), absent=getattr(applier, "absent", REMOVED)))
    return Plan(tuple(plans))


def _kind_order(kind: str) -> tuple[int, str]:
    return (KINDS.index(kind) if kind in KINDS else len(KINDS), kind)


@dataclass(frozen=True)
class KindResult:
    """What a restore did with one kind: its ``status``, the targets written and not written, the error, the requests made."""

    kind: str
    status: str
    restored: tuple[str, ...] = ()
    not_restored: tuple[str, ...] = ()
    error: Optional[dict[str, Any]] = None
    round_trips: Optional[int] = None
    reason: Optional[str] = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "status": self.status, "restored": list(self.restored), "not_restored": list(self.not_restored),
                "error": self.error, "round_trips": self.round_trips, "reason": self.reason}


@dataclass(frozen=True)
class RestoreReport:
    """Per kind what a restore restored and did not; pure data for results, checklists and the benchmark."""

    results: tuple[KindResult, ...]
    check_mode: bool = False

    def of(self, status: str) -> list[str]:
        return [result.kind for result in self.results if result.status == status]

    @property
    def restored_kinds(self) -> list[str]:
        """Kinds that are now as the snapshot says: restored by this run or unchanged."""
        return [result.kind for result in self.results if result.status in (RESTORED, UNCHANGED_KIND)]

    @property
    def not_restored_kinds(self) -> list[str]:
        """Kinds that are not (or not wholly) as the snapshot says: failed, not attempted, or planned in check mode."""
        return [result.kind for result in self.results if result.status in (FAILED, NOT_RESTORED, PLANNED)]

    @property
    def failed(self) -> Optional[KindResult]:
        return next((result for result in self.results if result.status == FAILED), None)

    @property
    def changed(self) -> bool:
        """Whether anything was (or, in check mode, would be) written."""
        return any(result.restored for result in self.results) or any(result.status == PLANNED for result in self.results)

    def result(self, kind: str) -> KindResult:
        return next(result for result in self.results if result.kind == kind)

    def restored_targets(self, kind: str) -> list[str]:
        return next((list(result.restored) for result in self.results if result.kind == kind), [])

    def message(self) -> str:
        """One line: what was restored, what failed and why, what was not restored."""
        parts = []
        for label, status in (("restored", RESTORED), ("unchanged", UNCHANGED_KIND), ("would restore", PLANNED)):
            if self.of(status):
                parts.append(f"{label}: {', '.join(self.of(status))}")
        failed = self.failed
        if failed is not None:
            done = f" after restoring {', '.join(failed.restored)}" if failed.restored else ""
            parts.append(f"failed: {failed.kind}{done} ({(failed.error or {}).get('msg', 'error')})")
        if self.of(NOT_RESTORED):
            parts.append(f"not restored: {', '.join(self.of(NOT_RESTORED))}")
        return "; ".join(parts) or "nothing to restore"

    def as_dict(self) -> dict[str, Any]:
        return {"kinds": [result.as_dict() for result in self.results], "restored": self.restored_kinds,
                "not_restored": self.not_restored_kinds, "failed": self.failed.kind if self.failed else None, "changed": self.changed,
                "check_mode": self.check_mode, "message": self.message()}


def secret_values(kind_plan: KindPlan) -> list[str]:
    """The clear values of a secret kind's changes, for redaction."""
    if not kind_plan.secret:
        return []
    return [value for change in kind_plan.changes for value in (change.before, change.after) if isinstance(value, str) and value]


def _error_fields(exc: Exception, secrets: Sequence[str]) -> dict[str, Any]:
    """The error of a failed target, with the kind's secret values (and secret-looking text) redacted."""
    if isinstance(exc, OfmRollbackError):
        return redact({**exc.fields(), "msg": str(exc)}, secrets)
    return {"type": type(exc).__name__, "msg": redact(str(exc), secrets)}


def restore(plan: Plan, appliers: Mapping[str, Any], check_mode: bool = False,
            progress: Optional[Callable[[str, str, list[str]], None]] = None) -> RestoreReport:
    """Apply ``plan`` target by target, kind by kind; in check mode apply nothing. Stop at the first failure.

    ``progress(kind, status, targets)`` hears of each kind written: ``started`` with the targets it is about to write, ``done`` with
    those it wrote (a failed kind stays ``started``) - the run journal of ``resume.py``.

    The failed kind's result names the targets written before the failure (``restored``) and the rest (``not_restored``), with
    the error; the kinds after it are ``not restored`` (not attempted). Errors that are not the collection's (a bug, a client
    library's own exception) are reported the same way, redacted, so the report is never lost.
    """
    results: list[KindResult] = []
    failed: Optional[str] = None
    for kind_plan in plan.kinds:
        applier = appliers[kind_plan.kind]
        targets = list(kind_plan.by_target())
        if failed is not None:
            results.append(KindResult(kind_plan.kind, NOT_RESTORED if targets else UNCHANGED_KIND, not_restored=tuple(targets),
                                      round_trips=applier.round_trips, reason=f"not attempted: {failed} failed first" if targets else None))
        elif not targets:
            results.append(KindResult(kind_plan.kind, UNCHANGED_KIND, round_trips=applier.round_trips))
        elif check_mode:
            results.append(KindResult(kind_plan.kind, PLANNED, not_restored=tuple(targets), round_trips=applier.round_trips,
                                      reason="check mode: nothing written"))
        else:
            if progress is not None:
                progress(kind_plan.kind, "started", targets)
            result = _apply_kind(applier, kind_plan)
            failed = kind_plan.kind if result.status == FAILED else None
            if progress is not None and failed is None:
                progress(kind_plan.kind, "done", list(result.restored))
            results.append(result)
    return RestoreReport(tuple(results), check_mode)


def _apply_kind(applier: Any, kind_plan: KindPlan) -> KindResult:
    done: list[str] = []
    grouped = kind_plan.by_target()
    for target, changes in grouped.items():
        try:
            applier.apply(changes)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            return KindResult(kind_plan.kind, FAILED, tuple(done), tuple(list(grouped)[len(done):]), _error_fields(exc, secret_values(kind_plan)),
                              applier.round_trips)
        done.append(target)
    return KindResult(kind_plan.kind, RESTORED, tuple(done), round_trips=applier.round_trips)

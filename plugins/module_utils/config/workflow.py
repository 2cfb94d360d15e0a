# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the actions ``ofm.rollback.config_snapshot`` and ``ofm.rollback.config_restore`` do, from their options.

``take_snapshot``: read every configured kind (``Systems`` builds one client per system from the options), seal the secret
values (the action passes ``seal``: Ansible Vault with the run's vault secrets), make the snapshot document and keep it in
the store (nothing is written in check mode).

``restore_config``: load a snapshot (``snapshot_id``/``latest`` from the store, or ``snapshot_path``) and check its identity
(environment and scope: the cluster, namespace, Redis, Unleash and database it was taken from, unless ``force_scope``) and
open its secret values (``open_secret``) - or take the previous values from a Helm release or ReplicaSet (``from_release``,
see ``release``); plan against every system (all reads before any write, so a refusal changes nothing), restore kind by kind,
roll the Deployments that need it, and read every restored kind back (``verified``).

Both return the action's result, with every clear secret value known to the run (of ``MIN_REDACTED`` characters or more)
replaced by ``********`` wherever it would appear, a safety net behind the plan's masks (``<changed>`` and the like); a
failure is a result with ``failed`` (nothing here raises for a failure of the systems or the input).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError

from ansible_collections.ofm.rollback.plugins.module_utils.config import kube_appliers, release as sources
from ansible_collections.ofm.rollback.plugins.module_utils.config.appliers import (
    CACHE_TARGET, FlagsApplier, RateLimitsApplier, UnleashApplier)
from ansible_collections.ofm.rollback.plugins.module_utils.config.kinds import EXTERNAL
from ansible_collections.ofm.rollback.plugins.module_utils.config.plan import (
    Plan, RestoreReport, entries_of, make_plan, restore, secret_values)
from ansible_collections.ofm.rollback.plugins.module_utils.config.resume import RestoreProgress
from ansible_collections.ofm.rollback.plugins.module_utils.config.snapshot import CONFIG_KINDS, KINDS, SCOPE_KEYS, Snapshot
from ansible_collections.ofm.rollback.plugins.module_utils.config.systems import DEFAULT_SNAPSHOT_DIR, DEFAULT_STORE_PREFIX, Systems
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, NotFoundError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.feature_flags import DEFAULT_DEPLOYMENTS, DEFAULT_NAMESPACE
from ansible_collections.ofm.rollback.plugins.module_utils.helm import HelmClient
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import connection_option
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.rate_limits import DEFAULT_TABLE
from ansible_collections.ofm.rollback.plugins.module_utils.redact import Redactor

SYSTEM = "ofm.rollback config"
STORES = ("directory", "kubernetes")
ROLLOUTS = ("auto", "restart", "none")
FROM_RELEASE = ("previous", "helm", "replicaset")
SOURCE_OPTIONS = ("snapshot_id", "snapshot_path", "latest", "from_release")
DEFAULT_RELEASE = "ofm-social-os"
WAIT_INTERVAL = 1.0
LIVE_RELOAD = "live_reload: the app re-reads the restored values while it runs; not restarted"
# Shorter values are masked where the plan shows them but not searched for in other text: "1" or "true" would be replaced
# in every number and flag of the result.
MIN_REDACTED = 4

# Options both actions take (with KUBE_SPEC, REDIS_SPEC and UNLEASH_SPEC); doc fragment ofm.rollback.config_rollback.
CONFIG_SPEC: dict[str, dict[str, Any]] = {
    "environment": {"type": "str", "default": "production"},
    "kinds": {"type": "list", "elements": "str", "choices": list(KINDS)},
    "store": {"type": "str", "choices": list(STORES), "default": "directory"},
    "snapshot_dir": {"type": "path", "default": DEFAULT_SNAPSHOT_DIR},
    "store_namespace": {"type": "str"},
    "store_prefix": {"type": "str", "default": DEFAULT_STORE_PREFIX},
    "vault_id": {"type": "str"},
    "namespace": {"type": "str", "default": DEFAULT_NAMESPACE},
    "deployments": {"type": "list", "elements": "str", "default": list(DEFAULT_DEPLOYMENTS)},
    "container": {"type": "str", "default": "api"},
    "configmaps": {"type": "list", "elements": "str"},
    "secrets": {"type": "list", "elements": "str", "no_log": False},  # names of Secret objects, not secret values
    "database": connection_option(),
    "rate_limits_table": {"type": "str", "default": DEFAULT_TABLE},
}

SNAPSHOT_SPEC: dict[str, dict[str, Any]] = {
    "change_id": {"type": "str"},
    "incident_id": {"type": "str"},
    "taken_by": {"type": "str"},
}

RESTORE_SPEC: dict[str, dict[str, Any]] = {
    "snapshot_id": {"type": "str"},
    "snapshot_path": {"type": "path"},
    "latest": {"type": "bool", "default": False},
    "from_release": {"type": "str", "choices": list(FROM_RELEASE)},
    "release": {"type": "str", "default": DEFAULT_RELEASE},
    "release_revision": {"type": "int"},
    "helm_binary_path": {"type": "path", "default": "helm"},
    "rollout": {"type": "str", "choices": list(ROLLOUTS), "default": "auto"},
    "live_reload": {"type": "bool", "default": False},
    "rollout_timeout": {"type": "int", "default": 300},
    "force_scope": {"type": "bool", "default": False},
    "missing_kinds": {"type": "str", "choices": ["fail", "skip"], "default": "fail"},
    "journal": {"type": "dict", "options": {"path": {"type": "path", "required": True}, "run_id": {"type": "str", "required": True},
                                            "incident_id": {"type": "str", "required": True}, "procedure": {"type": "str", "required": True}}},
}

Seal = Callable[[str], str]
OpenSecret = Callable[[str, str], str]


def validated(spec: Mapping[str, Any], args: Mapping[str, Any], name: str = "") -> tuple[dict[str, Any], set[str], Optional[str]]:
    """The action's options checked against ``spec`` as a module's are: the parameters, the values of its ``no_log`` options
    (removed from the result by ``finished``) and the error message, if any."""
    checked = ArgumentSpecValidator(dict(spec)).validate(dict(args))
    no_log = set(checked._no_log_values)  # pylint: disable=protected-access
    if not checked.error_messages:
        return checked.validated_parameters, no_log, None
    prefix = f"Unsupported parameters for ({name}) module: " if isinstance(checked.errors.errors[0], UnsupportedError) else ""
    return checked.validated_parameters, no_log, prefix + "; ".join(checked.error_messages)


def finished(result: Mapping[str, Any], no_log: set[str]) -> dict[str, Any]:
    """The result without the values of ``no_log`` options (passwords, tokens), as a module's result is cleaned."""
    return remove_values(dict(result), no_log)


class Masker:
    """The clear secret values of a run, replaced by ``********`` in every string of a result (keys and masks kept)."""

    def __init__(self) -> None:
        self.redactor = Redactor()

    def add(self, *values: Any) -> None:
        self.redactor.add(*[value for value in values if isinstance(value, str) and len(value) >= MIN_REDACTED])

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redactor.text(value)
        if isinstance(value, Mapping):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(item) for item in value]
        return value


# --- which kinds ---------------------------------------------------------------------------------

def missing_configuration(kind: str, params: Mapping[str, Any], vault: bool) -> Optional[tuple[str, str]]:
    """The option a kind lacks and why, or None when it can be read."""
    if kind == "flags" and not params.get("redis_url"):
        return "redis_url", "flags: redis_url not set (the flag cache is read from Redis)"
    if kind == "unleash" and not params.get("unleash_url"):
        return "unleash_url", "unleash: unleash_url not set"
    if kind == "rate_limits" and not params.get("database"):
        return "database", "rate_limits: database not set"
    if kind in EXTERNAL and params.get(kind) is None:
        return kind, f"{kind}: the option {kind} (where the {kind} kind is read) is not set"
    if kind in KINDS and kind not in CONFIG_KINDS and kind not in EXTERNAL:
        return "kinds", f"{kind}: this installation of the collection cannot read it"
    if kind == "secrets" and not vault:
        return "vault_id", "secrets: the run has no vault secret to seal Secret values with (--vault-id or --vault-password-file)"
    return None


def choose_kinds(params: Mapping[str, Any], vault: bool) -> tuple[list[str], list[str]]:
    """The kinds to snapshot and the reasons others are left out; a kind asked for in ``kinds`` without its configuration is an
    ``InputError`` naming the option it needs. Without ``kinds``, an external kind (DNS, load balancers, CDN, platforms) is
    taken when its option is set and left out silently otherwise: it is opt-in."""
    asked = params.get("kinds")
    chosen, skipped = [], []
    for kind in KINDS:
        if asked is not None and kind not in asked:
            continue
        missing = missing_configuration(kind, params, vault)
        if missing is None:
            chosen.append(kind)
        elif asked is None and kind not in CONFIG_KINDS:
            continue
        elif asked is not None:
            raise InputError(f"the kind {kind} was asked for but cannot be read: {missing[1].split(': ', 1)[1]}", option=missing[0], system=SYSTEM,
                             hint=f"Set {missing[0]}, or leave {kind} out of kinds.")
        else:
            skipped.append(missing[1])
    return chosen, skipped


# --- snapshot ------------------------------------------------------------------------------------

def snapshot_readers(params: Mapping[str, Any], systems: Systems, kinds: Sequence[str]) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """The appliers that read each kind for a snapshot (the objects named, or those the Deployments reference), the kinds left
    out because the Deployments reference nothing of theirs, and the sections already read (the env, read for the references)."""
    namespace, deployments, container = params["namespace"], list(params["deployments"]), params["container"]
    readers: dict[str, Any] = {}
    skipped: list[str] = []
    if "flags" in kinds:
        readers["flags"] = FlagsApplier(systems.kube, systems.cache, namespace, deployments, container)
    if "unleash" in kinds:
        readers["unleash"] = UnleashApplier(systems.unleash())
    needs_references = [kind for kind in ("configmaps", "secrets") if kind in kinds and not params.get(kind)]
    # Built only when needed: a snapshot of external kinds alone needs no Kubernetes connection.
    env_reader = None
    if "env" in kinds or needs_references:
        env_reader = kube_appliers.EnvApplier(systems.kube, namespace, [f"{name}/{container}" for name in deployments])
    if "env" in kinds:
        readers["env"] = env_reader
    references = None
    preread = {}
    if needs_references and env_reader is not None:
        preread["env"] = env_reader.read()
        references = {name: env.references for name, env in env_reader.deployments.items()}
    for kind, object_kind in kube_appliers.OBJECT_KINDS.items():
        if kind not in kinds:
            continue
        names = list(params.get(kind) or [])
        if not names and references is not None:
            names = sorted({name for found in references.values() for name in found.of(object_kind)})
        if not names:
            skipped.append(f"{kind}: the Deployments {', '.join(deployments)} reference no {object_kind} (name them in the {kind} option)")
            continue
        readers[kind] = kube_appliers.DataApplier(systems.kube, namespace, kind, names)
    if "rate_limits" in kinds:
        readers["rate_limits"] = RateLimitsApplier(systems.table())
    for kind in kinds:
        if kind in EXTERNAL:
            readers[kind] = systems.external(kind)
    return {kind: readers[kind] for kind in KINDS if kind in readers}, skipped, preread


def take_snapshot(params: Mapping[str, Any], *, seal: Optional[Seal], taken_by: str, check_mode: bool) -> dict[str, Any]:
    """Read, seal and store a snapshot; the action's result."""
    redactor = Masker()
    systems = Systems(params)
    try:
        kinds, skipped = choose_kinds(params, vault=seal is not None)
        if not kinds:
            raise InputError(f"no kind can be snapshotted: {'; '.join(skipped)}", option="kinds", accepted=list(KINDS), system=SYSTEM)
        readers, empty, preread = snapshot_readers(params, systems, kinds)
        skipped += empty
        sections = {kind: preread[kind] if kind in preread else reader.read() for kind, reader in readers.items()}
        counts = {kind: sum(len(values) for values in entries_of(readers[kind], section).values()) for kind, section in sections.items()}
        if "secrets" in sections:
            redactor.add(*[value for values in sections["secrets"].values() for value in values.values()])
            sections["secrets"] = {name: {key: seal(value) for key, value in values.items()} for name, values in sections["secrets"].items()}
        snapshot = Snapshot.create(environment=params["environment"], scope=systems.scope(list(sections)), kinds=sections, taken_by=taken_by,
                                   change_id=params.get("change_id"), incident_id=params.get("incident_id"))
        location = None if check_mode else systems.store().save(snapshot)
        summary = {key: snapshot.document[key] for key in ("id", "taken_at", "taken_by", "environment", "change_id", "incident_id", "sha256", "scope")}
        summary.update(location=location, kinds=counts)
        done = "would be taken (check mode: nothing written)" if check_mode else f"taken and kept in {location}"
        result = {"changed": not check_mode, "snapshot": summary, "skipped_kinds": skipped, "round_trips": systems.round_trips(),
                  "msg": f"Snapshot {snapshot.id} of {', '.join(f'{kind} ({count})' for kind, count in counts.items())} {done}."
                         + (f" Left out: {'; '.join(skipped)}." if skipped else "")}
    except OfmRollbackError as exc:
        result = {**exc.to_result(), "failed": True, "changed": False, "round_trips": systems.round_trips()}
        result["msg"] += " No snapshot was written."
    finally:
        systems.close()
    return redactor.value(result)


# --- restore -------------------------------------------------------------------------------------

@dataclass
class Source:
    """What a restore restores: the sections (secret values in clear), where they come from, and what that source cannot give."""

    sections: dict[str, Any]
    info: dict[str, Any]
    not_restorable: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def chosen_source(params: Mapping[str, Any]) -> str:
    given = [option for option in SOURCE_OPTIONS if params.get(option)]
    if len(given) != 1:
        raise InputError(f"{'none' if not given else ' and '.join(given)} of the options {', '.join(SOURCE_OPTIONS)} {'is' if len(given) < 2 else 'are'} "
                         "set; set exactly one", option="snapshot_id", accepted=list(SOURCE_OPTIONS), system=SYSTEM,
                         hint="Name the snapshot (snapshot_id or snapshot_path), take the latest of the environment (latest: true), "
                              "or take the previous release's values (from_release).")
    return given[0]


def load_snapshot(params: Mapping[str, Any], systems: Systems, option: str) -> tuple[Snapshot, str]:
    """The snapshot the options name and where it was found."""
    if option == "snapshot_path":
        path = os.path.expanduser(params["snapshot_path"])
        try:
            with open(path, "rb") as handle:
                text = handle.read()
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}", option="snapshot_path", system=SYSTEM,
                             hint="Give the path of a snapshot file written by ofm.rollback.config_snapshot.") from exc
        return Snapshot.load(text, path, option="snapshot_path"), path
    store = systems.store()
    snapshot = store.get(params["snapshot_id"]) if option == "snapshot_id" else store.latest(params["environment"])
    return snapshot, store.where


def snapshot_source(params: Mapping[str, Any], systems: Systems, option: str, open_secret: Optional[OpenSecret], redactor: Masker) -> Source:
    """The sections of a stored snapshot, after its identity checks, with its secret values opened."""
    snapshot, where = load_snapshot(params, systems, option)
    asked = params.get("kinds")
    not_held: list[dict[str, Any]] = []
    if asked is not None and params.get("missing_kinds") == "skip":
        not_held = [{"kind": kind, "reason": f"snapshot {snapshot.id} does not hold it"} for kind in asked if kind not in snapshot.kinds]
        if "secrets" in asked and "secrets" in snapshot.kinds and open_secret is None:
            not_held.append({"kind": "secrets", "reason": "the run has no vault secret to open the snapshot's Secret values with"})
        skipped = {entry["kind"] for entry in not_held}
        asked = [kind for kind in asked if kind not in skipped]
        if not asked:
            reasons = "; ".join(f"{entry['kind']}: {entry['reason']}" for entry in not_held)
            raise InputError(f"snapshot {snapshot.id} holds none of the kinds asked for ({reasons})", option="kinds", accepted=sorted(snapshot.kinds),
                             system=SYSTEM)
    sections = copy.deepcopy(snapshot.select(asked))
    warnings = []
    ignore = SCOPE_KEYS if params.get("force_scope") else ()
    try:
        snapshot.check_scope(systems.scope(list(sections)), params["environment"], option=option)
    except InputError as exc:
        if not ignore:
            raise
        warnings.append(f"force_scope: restoring although {exc.reason}")
    if "secrets" in sections:
        if open_secret is None:
            raise InputError("the snapshot holds Secret values sealed with Ansible Vault and this run has no vault secret", option="vault_id",
                             system="Ansible Vault", hint="Run with the vault secret the snapshot was taken with (--vault-id or "
                                                          "--vault-password-file), or restore without the secrets kind.")
        opened = {}
        for name, values in sections["secrets"].items():
            opened[name] = {key: open_secret(value, f"secrets/{name}/{key}") for key, value in values.items()}
            redactor.add(*opened[name].values())
        sections["secrets"] = opened
    info = {"id": snapshot.id, "taken_at": snapshot.document["taken_at"], "source": "snapshot", "location": where,
            **{key: snapshot.document[key] for key in ("taken_by", "environment", "change_id", "incident_id", "sha256")}}
    return Source(sections, info, not_restorable=not_held, warnings=warnings)


def release_source(params: Mapping[str, Any], systems: Systems, redactor: Masker) -> Source:
    """The previous values from the Helm release (``helm``; ``previous`` when the release has a previous revision) or the
    Deployments' previous ReplicaSets (``replicaset``; ``previous`` otherwise)."""
    wanted = params.get("from_release")
    kinds = list(params.get("kinds") or CONFIG_KINDS)
    options = {"namespace": params["namespace"], "deployments": list(params["deployments"]), "container": params["container"], "kinds": kinds}
    warnings: list[str] = []
    found = None
    if wanted in ("helm", "previous"):
        helm = HelmClient.from_params(params, binary_option="helm_binary_path")
        try:
            found = sources.previous_helm(helm, params["release"], params.get("release_revision"), configmaps=params.get("configmaps"),
                                          secrets=params.get("secrets"), **options)
        except (NotFoundError, InputError) as exc:
            if wanted == "helm":
                raise
            warnings.append(f"from_release previous: the Helm release {params['release']} gave nothing ({exc.reason}); the previous ReplicaSets were used")
    if found is None:
        found = sources.previous_replicasets(systems.kube, params["namespace"], options["deployments"], params["container"], kinds)
    if not found.sections:
        raise sources.no_sections_error(found)
    redactor.add(*[value for values in (found.sections.get("secrets") or {}).values() for value in values.values()])
    info = {"id": found.id, "taken_at": found.taken_at, "source": found.source, "location": None}
    return Source(found.sections, info, found.not_restorable, warnings)


def restore_appliers(params: Mapping[str, Any], systems: Systems, sections: Mapping[str, Any]) -> dict[str, Any]:
    """The appliers of the sections: each restores exactly the objects, toggles, keys and rows its section holds."""
    namespace = params["namespace"]
    appliers: dict[str, Any] = {}
    if "flags" in sections:
        section = sections["flags"]
        appliers["flags"] = FlagsApplier(systems.kube, systems.cache, namespace, list(section.get("source") or {}),
                                         section.get("container") or params["container"], wanted=section)
    if "unleash" in sections:
        section = sections["unleash"]
        appliers["unleash"] = UnleashApplier(systems.unleash(section.get("project"), section.get("environment")), wanted=section)
    kube_sections = {kind: section for kind, section in sections.items() if kind in kube_appliers.OBJECT_KINDS or kind == "env"}
    if kube_sections:
        appliers.update(kube_appliers.appliers(systems.kube, namespace, kube_sections))
    if "rate_limits" in sections:
        section = sections["rate_limits"]
        appliers["rate_limits"] = RateLimitsApplier(systems.table(section.get("table"), section.get("key")), wanted=section)
    if "flags" in appliers and "env" in appliers:
        appliers["flags"].written = appliers["env"].written
    for kind in sections:
        if kind in EXTERNAL:
            if params.get(kind) is None:
                raise InputError(f"the snapshot holds {kind} and the option {kind} (where to restore it) is not set", option=kind, system=SYSTEM,
                                 hint=f"Set {kind} as when the snapshot was taken, or leave {kind} out of kinds.")
            appliers[kind] = systems.external(kind)
    return appliers


def kube_targets(plan: Plan, report: RestoreReport, check_mode: bool) -> dict[str, list[str]]:
    """The ConfigMaps, Secrets and Deployments (env; ``flags``: those whose ``FEATURE_FLAGS`` was) the restore wrote, in check
    mode would write."""
    def targets(kind: str) -> list[str]:
        if kind not in [item.kind for item in plan.kinds]:
            return []
        return list(plan.kind(kind).by_target()) if check_mode else report.restored_targets(kind)
    written = {kind: targets(kind) for kind in ("configmaps", "secrets", "env")}
    written["flags"] = [name for name in targets("flags") if name != CACHE_TARGET]
    return written


def needed_rollouts(params: Mapping[str, Any], envs: Mapping[str, Any], written: Mapping[str, Sequence[str]]) -> list[Any]:
    """What each Deployment needs after the restore (``kube_appliers.rollouts``), then ``live_reload`` and ``rollout``.

    A Deployment whose ``FEATURE_FLAGS`` was restored rolls by itself, but that rollout started before the ConfigMaps and
    Secrets were restored (the flags kind comes first): when its pods read a restored one at start it is restarted all the
    same; else it is waited for.
    """
    needed = {rollout.deployment: rollout for rollout in kube_appliers.rollouts(envs, written)}
    for name in written.get("flags") or ():
        if name in envs and (name not in needed or needed[name].action == kube_appliers.LIVE):
            needed[name] = kube_appliers.Rollout(name, kube_appliers.WAIT, "its FEATURE_FLAGS was restored, so it rolls out by itself")
    adjusted = []
    for rollout in needed.values():
        if params.get("live_reload") and rollout.action == kube_appliers.RESTART:
            rollout = kube_appliers.Rollout(rollout.deployment, kube_appliers.LIVE, LIVE_RELOAD)
        elif params.get("rollout") == "restart" and rollout.action == kube_appliers.LIVE:
            rollout = kube_appliers.Rollout(rollout.deployment, kube_appliers.RESTART, f"{rollout.reason.split(', which')[0]}; rollout is restart")
        adjusted.append(rollout)
    return adjusted


def do_rollouts(params: Mapping[str, Any], systems: Systems, written: Mapping[str, Sequence[str]], check_mode: bool) -> list[dict[str, Any]]:
    """Restart the Deployments that read a restored object when they start and wait for the re-templated ones (``rollout``:
    ``auto``; ``restart`` also restarts those that mount them; ``none`` only says what is needed; ``live_reload``: the app
    re-reads the values, no restart)."""
    if not any(written.values()):
        return []
    namespace = params["namespace"]
    envs = {}
    for name in dict.fromkeys([*params["deployments"], *(written.get("env") or ()), *(written.get("flags") or ())]):
        try:
            envs[name] = systems.kube.read_env(namespace, name)
        except NotFoundError:
            continue
    needed = needed_rollouts(params, envs, written)
    if check_mode or params.get("rollout") == "none":
        why = "check mode: nothing done" if check_mode else "rollout is none: restart it (or wait for it) yourself"
        return [{**rollout.as_dict(), "done": False, "note": why} for rollout in needed]
    done = kube_appliers.roll(systems.kube, namespace, needed, timeout=params["rollout_timeout"], interval=WAIT_INTERVAL)
    return [{**entry, "done": entry["action"] != kube_appliers.LIVE} for entry in done]


def verify(params: Mapping[str, Any], systems: Systems, sections: Mapping[str, Any]) -> tuple[dict[str, Optional[bool]], list[str]]:
    """Every kind read back and compared with what was restored (under the kind's own rules: cache values without TTLs, extra
    Unleash toggles off); None for a kind that could not be read back."""
    verified: dict[str, Optional[bool]] = {}
    warnings = []
    for kind, section in sections.items():
        try:
            appliers = restore_appliers(params, systems, {kind: section})
            verified[kind] = not make_plan(appliers, {kind: section}).changed
        except OfmRollbackError as exc:
            verified[kind] = None
            warnings.append(f"{kind} could not be read back to verify it: {exc}")
    return verified, warnings


def restore_config(params: Mapping[str, Any], *, open_secret: Optional[OpenSecret], check_mode: bool, diff: bool) -> dict[str, Any]:
    """Restore a snapshot or a release's previous values; the action's result (see the module docstring)."""
    redactor = Masker()
    systems = Systems(params)
    result: dict[str, Any] = {"changed": False}
    try:
        option = chosen_source(params)
        if params.get("rollout_timeout", 300) <= 0:
            raise InputError(f"rollout_timeout must be above 0, got {params['rollout_timeout']}", option="rollout_timeout", accepted="seconds above 0")
        source = (release_source(params, systems, redactor) if option == "from_release"
                  else snapshot_source(params, systems, option, open_secret, redactor))
        appliers = restore_appliers(params, systems, source.sections)
        plan = make_plan(appliers, source.sections)
    except OfmRollbackError as exc:
        result.update(exc.to_result(), failed=True, round_trips=systems.round_trips())
        result["msg"] += " Nothing was changed."
        systems.close()
        return redactor.value(result)
    for kind_plan in plan.kinds:
        redactor.add(*secret_values(kind_plan))
    try:
        result = _restore(params, systems, source, plan, appliers, check_mode, diff)
    finally:
        systems.close()
    return redactor.value(result)


def _restore(params: Mapping[str, Any], systems: Systems, source: Source, plan: Plan, appliers: Mapping[str, Any],  # pylint: disable=too-many-arguments
             check_mode: bool, diff: bool) -> dict[str, Any]:
    """Restore, roll what was restored (after a failure too: those writes stand), read every kind back.

    With the ``journal`` option, each kind's progress goes to the procedure's run journal, and a re-run after a crash also rolls
    what the runs before it wrote (``resume.py``)."""
    progress = RestoreProgress.of(params.get("journal"), source.info["id"], check_mode)
    report = restore(plan, appliers, check_mode, progress.kind if progress else None)
    result: dict[str, Any] = {"changed": report.changed, "snapshot": source.info, "report": report.as_dict(), "changes": plan.render(),
                              "not_restorable": source.not_restorable, "rollouts": [], "verified": {}, "warnings": list(source.warnings)}
    if diff:
        result["diff"] = plan.diff()
    written = kube_targets(plan, report, check_mode)
    if progress is not None:
        written = progress.owed_targets(written)
        result["report"] = progress.annotate(result["report"])
        result["resumed"] = progress.summary()
    rollout_error = None
    try:
        result["rollouts"] = do_rollouts(params, systems, written, check_mode)
        if progress is not None and report.failed is None:
            progress.rollouts_done(result["rollouts"])
    except OfmRollbackError as exc:
        rollout_error = exc
        result["error"] = exc.fields()
    if progress is not None:
        result["warnings"] += progress.warnings
        # A re-run that only restarted what a killed run restored changed the Deployments all the same.
        result["changed"] = result["changed"] or any(entry.get("done") and entry.get("action") == "restart" for entry in result["rollouts"])
    result["round_trips"] = systems.round_trips()
    if check_mode:
        result["verified"] = {kind_plan.kind: not kind_plan.changed for kind_plan in plan.kinds}
    else:
        result["verified"], warnings = verify(params, systems, source.sections)
        result["warnings"] += warnings
        after = systems.round_trips()
        result["verify_round_trips"] = {name: after[name] - result["round_trips"].get(name, 0) for name in after}
    rolled = [f"{entry['deployment']} {entry['action']}" for entry in result["rollouts"]]
    unverified = [kind for kind, ok in result["verified"].items() if not ok]
    rollouts = f"; rollouts: {', '.join(rolled)}" if rolled else ""
    if report.failed is not None:
        result.update(failed=True, error=report.failed.error or result.get("error"),
                      msg=f"Restore of {source.info['id']} failed half-way: {report.message()}{rollouts}. Run the restore again to finish: it "
                          "restores what is left.")
    elif rollout_error is not None:
        result.update(failed=True, msg=f"Restored ({report.message()}), but the rollout failed: {rollout_error}")
    else:
        result["msg"] = (f"{'Check mode, from' if check_mode else 'From'} {source.info['source']} {source.info['id']}: {report.message()}{rollouts}"
                         + (f"; NOT as restored when read back: {', '.join(unverified)}" if unverified and not check_mode else "") + ".")
        if unverified and not check_mode:
            result["failed"] = True
    return result

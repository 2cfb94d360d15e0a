# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Previous configuration without a snapshot: the sections a restore needs, taken from what the last deploy replaced.

- ``helm``: the manifest of a Helm release's previous revision (``helm get manifest <release> --revision <n>``): its
  ConfigMaps (``data``/``binaryData``), Secrets (``data``/``stringData``) and the env of the Deployments' containers. Kinds
  ``configmaps``, ``secrets`` and ``env``.
- ``replicaset``: the pod template of each Deployment's previous ReplicaSet (``kube_rollout.history``): its container's env.
  Kind ``env`` only.

Neither holds the flag cache, Unleash or the rate limits: those kinds are reported as not restorable from that source
(``ReleaseSource.not_restorable``), as is each object the source does not have. The env sections leave ``FEATURE_FLAGS`` out,
as a snapshot does (it belongs to the flags kind).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from ansible.module_utils.common.yaml import yaml_load_all

from ansible_collections.ofm.rollback.plugins.module_utils.config.snapshot import KINDS
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, NotFoundError
from ansible_collections.ofm.rollback.plugins.module_utils.feature_flags import VARIABLE
from ansible_collections.ofm.rollback.plugins.module_utils.helm import SYSTEM as HELM, HelmClient, select_target
from ansible_collections.ofm.rollback.plugins.module_utils.kube import SYSTEM as KUBE, WORKLOAD_API_VERSION
from ansible_collections.ofm.rollback.plugins.module_utils.kube_config import KubeConfig, configmap_values, encode_value, secret_values
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rollout import current_revision, history

SOURCES = ("helm", "replicaset")
KINDS_FROM = {"helm": ("configmaps", "secrets", "env"), "replicaset": ("env",)}


@dataclass
class ReleaseSource:
    """The sections taken from a release source, where from, and what it cannot give (``{"kind", "target", "reason"}`` each)."""

    source: str
    id: str  # pylint: disable=invalid-name
    sections: dict[str, Any]
    taken_at: Optional[str] = None
    not_restorable: list[dict[str, Any]] = field(default_factory=list)

    def skip(self, kind: str, reason: str, target: Optional[str] = None) -> None:
        self.not_restorable.append({"kind": kind, "target": target, "reason": reason})


def env_entries(template: Mapping[str, Any], container: str) -> Optional[list[dict[str, Any]]]:
    """The env entries of ``container`` in a pod template, without ``FEATURE_FLAGS``; None when the template has no such container."""
    containers = ((template.get("spec") or {}).get("containers") or [])
    found = next((item for item in containers if item.get("name") == container), None)
    if found is None:
        return None
    return [dict(entry) for entry in found.get("env") or [] if entry.get("name") != VARIABLE]


def manifest_objects(text: str, namespace: str, release: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The objects of a helm manifest in ``namespace`` (helm's manifests leave it out for the release's own), by (kind, name)."""
    try:
        documents = list(yaml_load_all(text or ""))
    except Exception as exc:  # pylint: disable=broad-exception-caught
        raise DataError(f"the manifest is not YAML: {exc}", system=HELM, operation="get manifest", target=f"release {release}") from exc
    objects = {}
    for document in documents:
        if not isinstance(document, dict) or not document.get("kind"):
            continue
        metadata = document.get("metadata") or {}
        if metadata.get("namespace") not in (None, namespace) or not metadata.get("name"):
            continue
        objects[(document["kind"], metadata["name"])] = document
    return objects


def helm_sections(manifest: str, *, release: str, revision: int, namespace: str,  # pylint: disable=too-many-arguments
                  deployments: Sequence[str], container: str, kinds: Sequence[str], configmaps: Optional[Sequence[str]] = None,
                  secrets: Optional[Sequence[str]] = None) -> ReleaseSource:
    """The ``configmaps``, ``secrets`` and ``env`` sections of a manifest: the ConfigMaps and Secrets named (all the manifest has
    when not named) and the env of ``container`` of each of ``deployments`` it holds."""
    found = ReleaseSource("helm", f"helm:{release}@{revision}", {})
    objects = manifest_objects(manifest, namespace, release)
    where = f"revision {revision} of release {release}"
    for kind, object_kind, names in (("configmaps", "ConfigMap", configmaps), ("secrets", "Secret", secrets)):
        if kind not in kinds:
            continue
        wanted = list(names) if names else sorted(name for (found_kind, name) in objects if found_kind == object_kind)
        section = {}
        for name in wanted:
            obj = objects.get((object_kind, name))
            if obj is None:
                found.skip(kind, f"{where} has no {object_kind} {name}", name)
                continue
            section[name] = configmap_values(obj) if object_kind == "ConfigMap" else _secret_values(obj)
        if section:
            found.sections[kind] = section
        elif not [item for item in found.not_restorable if item["kind"] == kind]:
            found.skip(kind, f"{where} has no {object_kind}")
    if "env" in kinds:
        section = {}
        for name in deployments:
            obj = objects.get(("Deployment", name))
            entries = env_entries(((obj or {}).get("spec") or {}).get("template") or {}, container)
            if entries is None:
                found.skip("env", f"{where} has no Deployment {name} with a container {container}", f"{name}/{container}")
                continue
            section[f"{name}/{container}"] = entries
        if section:
            found.sections["env"] = section
    _not_from("helm", kinds, found)
    return found


def _secret_values(obj: Mapping[str, Any]) -> dict[str, str]:
    values = secret_values(obj.get("data"))
    values.update({key: encode_value(str(value)) for key, value in (obj.get("stringData") or {}).items()})
    return values


def _not_from(source: str, kinds: Sequence[str], found: ReleaseSource) -> None:
    for kind in KINDS:
        if kind in kinds and kind not in KINDS_FROM[source]:
            found.skip(kind, f"a {'Helm release' if source == 'helm' else 'ReplicaSet'} does not hold {kind}; restore it from a snapshot")


def previous_helm(helm: HelmClient, release: str, revision: Optional[int] = None, **options: Any) -> ReleaseSource:
    """The sections of ``revision`` of ``release`` (the one before the newest when None, as ``helm rollback`` picks)."""
    chosen = select_target(helm.history(release), str(revision) if revision else "previous", release)
    found = helm_sections(helm.manifest(release, chosen.revision), release=release, revision=chosen.revision, **options)
    found.taken_at = chosen.updated or None
    return found


def previous_replicasets(client: KubeConfig, namespace: str, deployments: Sequence[str], container: str, kinds: Sequence[str]) -> ReleaseSource:
    """The ``env`` section from each Deployment's previous ReplicaSet: the newest one older than the ReplicaSet of the running
    template (the newest one when none runs it yet)."""
    found = ReleaseSource("replicaset", "replicaset:previous", {})
    section, used = {}, []
    if "env" in kinds:
        for name in deployments:
            obj = client.read_deployment(namespace, name)
            revisions = history(client.kube, {"kind": "Deployment", "apiVersion": WORKLOAD_API_VERSION, **obj})
            current = current_revision(obj, revisions)
            older = [revision for revision in revisions if current is None or revision.number < current.number]
            if not older:
                found.skip("env", f"Deployment {namespace}/{name} has no ReplicaSet older than the running one", f"{name}/{container}")
                continue
            entries = env_entries(older[-1].template, container)
            if entries is None:
                found.skip("env", f"{older[-1].source} has no container {container}", f"{name}/{container}")
                continue
            section[f"{name}/{container}"] = entries
            used.append(f"{name}: revision {older[-1].number} ({older[-1].source})")
    if section:
        found.sections["env"] = section
        found.id = "replicaset:" + "; ".join(used)
    _not_from("replicaset", kinds, found)
    return found


def no_sections_error(found: ReleaseSource) -> NotFoundError:
    reasons = "; ".join(item["reason"] for item in found.not_restorable) or "nothing"
    return NotFoundError(f"{found.source} gave nothing to restore: {reasons}", system=HELM if found.source == "helm" else KUBE,
                         operation="read previous configuration", target=found.id,
                         hint="Restore from a snapshot instead (snapshot_id, snapshot_path or latest).")

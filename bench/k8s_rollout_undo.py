"""Benchmark: roll back 50 Deployments with ofm.rollback.k8s_rollout_undo and with kubernetes.core.k8s_rollback.

Both run on the same Kubernetes API test server (``lab.services.kube_apiserver``), one ``ansible-playbook`` run per
measurement, timed from launch to exit. Before every run a fresh server gets 50 Deployments (label ``bench=rollback``),
each with two complete revisions (``ofm/api:1``, then ``ofm/api:2``); that preparation is not timed. After every run
all 50 must be back on ``ofm/api:1`` (and, for the variants that wait, rolled out), otherwise the benchmark stops.

Variants (one playbook each):

- ``ours_wait``: one task, ``ofm.rollback.k8s_rollout_undo`` with ``label_selector`` and ``wait: true``;
- ``ours_nowait``: the same task with ``wait: false``;
- ``core``: ``kubernetes.core.k8s_rollback`` in one task looping over the 50 names (it does not wait);
- ``core_wait``: that task, then ``kubernetes.core.k8s_info`` with the label selector and ``wait: true``.

``kubernetes.core.k8s_rollback`` with ``label_selectors`` (no name) is also run once per benchmark, untimed, and its
outcome reported: it builds the PATCH URL from ``name`` (kubernetes.core issue #516).

kubernetes.core comes from the ``ansible`` community package, installed on demand (``pip install --target
.tools/bench-ansible-<version> --no-deps``); it is not a dependency of the collection.

    .venv/bin/python bench/k8s_rollout_undo.py [--rounds 3] [--deployments 50]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "integration")]

from kubelab import deployment_rolled_out as rolled_out, kube_apiserver  # noqa: E402  pylint: disable=wrong-import-position
from kubernetes import config as kube_config  # noqa: E402  pylint: disable=wrong-import-position
from kubernetes.dynamic import DynamicClient  # noqa: E402  pylint: disable=wrong-import-position

ANSIBLE_VERSION = "14.5.0"
SELECTOR = "bench=rollback"
OLD_IMAGE, NEW_IMAGE = "ofm/api:1", "ofm/api:2"
WAIT_SLEEP = 1
VARIANTS = ("ours_wait", "ours_nowait", "core", "core_wait")
WAITING = {"ours_wait", "core_wait"}


def install_kubernetes_core() -> Path:
    """The directory that holds ``ansible_collections/`` of the ``ansible`` package, installed there if missing."""
    target = ROOT / ".tools" / f"bench-ansible-{ANSIBLE_VERSION}"
    if not (target / "ansible_collections" / "kubernetes" / "core" / "MANIFEST.json").exists():
        # The wheel declares Requires-Python >=3.12 for the ansible-core it depends on; only its collections are used here.
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), "--no-deps",
                        "--python-version", "3.12", "--only-binary=:all:", f"ansible=={ANSIBLE_VERSION}"], check=True)
    return target


def deployment(index: int) -> dict[str, Any]:
    name = f"bench-{index:02d}"
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"bench": "rollback", "app": name}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "api", "image": OLD_IMAGE}]}}}}


def image(obj: dict[str, Any]) -> str:
    return obj["spec"]["template"]["spec"]["containers"][0]["image"]


class Workloads:
    """The 50 Deployments on one test server."""

    def __init__(self, kubeconfig: Path, count: int):
        self.api = DynamicClient(kube_config.new_client_from_config(str(kubeconfig))).resources.get(api_version="apps/v1", kind="Deployment")
        self.count = count
        self.names = [deployment(index)["metadata"]["name"] for index in range(count)]

    def listed(self) -> list[dict[str, Any]]:
        return [item.to_dict() for item in self.api.get(namespace="default", label_selector=SELECTOR).items]

    def wait(self, predicate: Callable[[dict[str, Any]], bool], what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            objs = self.listed()
            if len(objs) == self.count and all(predicate(obj) for obj in objs):
                return
            time.sleep(0.2)
        bad = sorted(obj["metadata"]["name"] for obj in self.listed() if not predicate(obj))
        raise SystemExit(f"{what}: not reached within {timeout:.0f}s by {len(bad)} Deployment(s): {bad[:5]}...")

    def prepare(self) -> None:
        """Each Deployment at revision 2 (``NEW_IMAGE``) with revision 1 (``OLD_IMAGE``) in its history, both rolled out."""
        for index in range(self.count):
            self.api.create(body=deployment(index), namespace="default")
        self.wait(lambda obj: rolled_out(obj) and image(obj) == OLD_IMAGE, "revision 1 rolled out")
        for name in self.names:
            self.api.patch(name=name, namespace="default", content_type="application/strategic-merge-patch+json",
                           body={"spec": {"template": {"spec": {"containers": [{"name": "api", "image": NEW_IMAGE}]}}}})
        self.wait(lambda obj: rolled_out(obj) and image(obj) == NEW_IMAGE, "revision 2 rolled out")

    def verify(self, rolled_out_already: bool) -> None:
        """All back on ``OLD_IMAGE``; rolled out at once when the variant waited, else within the wait below (not timed)."""
        on_old = [obj for obj in self.listed() if image(obj) == OLD_IMAGE]
        if len(on_old) != self.count:
            raise SystemExit(f"only {len(on_old)} of {self.count} Deployments are back on {OLD_IMAGE}")
        if rolled_out_already:
            pending = [obj["metadata"]["name"] for obj in on_old if not rolled_out(obj)]
            if pending:
                raise SystemExit(f"the playbook returned before {len(pending)} Deployment(s) rolled out: {pending[:5]}...")
        self.wait(lambda obj: rolled_out(obj) and image(obj) == OLD_IMAGE, "revision 1 rolled out again")


def playbook(variant: str, kubeconfig: Path, names: list[str]) -> list[dict[str, Any]]:
    connection = {"kubeconfig": str(kubeconfig), "namespace": "default"}
    if variant.startswith("ours"):
        return [{"name": "Roll every benchmark Deployment back", "ofm.rollback.k8s_rollout_undo": {
            **connection, "kind": "Deployment", "label_selector": SELECTOR, "wait": variant == "ours_wait", "wait_sleep": WAIT_SLEEP}}]
    tasks = [{"name": "Roll each benchmark Deployment back", "loop": names, "kubernetes.core.k8s_rollback": {
        **connection, "api_version": "apps/v1", "kind": "Deployment", "name": "{{ item }}"}}]
    if variant == "core_wait":
        tasks.append({"name": "Wait until every benchmark Deployment has rolled out", "kubernetes.core.k8s_info": {
            **connection, "api_version": "apps/v1", "kind": "Deployment", "label_selectors": [SELECTOR], "wait": True,
            "wait_sleep": WAIT_SLEEP, "wait_timeout": 300}})
    if variant == "core_selector":
        tasks = [{"name": "Roll the benchmark Deployments back by label", "kubernetes.core.k8s_rollback": {
            **connection, "api_version": "apps/v1", "kind": "Deployment", "label_selectors": [SELECTOR]}}]
    return tasks


def ansible_playbook(tasks: list[dict[str, Any]], workdir: Path, collections: Path) -> tuple[float, subprocess.CompletedProcess]:
    play = workdir / "play.yml"
    play.write_text(yaml.safe_dump([{"name": "Benchmark", "hosts": "localhost", "gather_facts": False, "tasks": tasks}], sort_keys=False))
    (workdir / "ansible.cfg").touch()
    env = {name: value for name, value in os.environ.items() if not name.startswith("ANSIBLE_")}
    env.update({"ANSIBLE_CONFIG": str(workdir / "ansible.cfg"), "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_COLLECTIONS_PATH": f"{ROOT / '.collections'}{os.pathsep}{collections}", "ANSIBLE_LOCALHOST_WARNING": "0",
                "ANSIBLE_HOME": str(workdir / "ansible-home"), "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-tmp")})
    started = time.monotonic()
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(play)],
                         cwd=workdir, env=env, capture_output=True, text=True, check=False, timeout=900)
    return time.monotonic() - started, run


def measure(variant: str, count: int, collections: Path) -> tuple[float, subprocess.CompletedProcess, int]:
    """One run of ``variant`` on a fresh test server with freshly prepared Deployments: seconds, the run, how many are back on ``OLD_IMAGE``."""
    with tempfile.TemporaryDirectory(prefix="bench-k8s-") as tmp, kube_apiserver(Path(tmp)) as (_url, kubeconfig):
        workloads = Workloads(kubeconfig, count)
        workloads.prepare()
        seconds, run = ansible_playbook(playbook(variant, kubeconfig, workloads.names), Path(tmp), collections)
        if variant in VARIANTS:
            if run.returncode != 0:
                raise SystemExit(f"{variant}: ansible-playbook exited {run.returncode}:\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}")
            workloads.verify(rolled_out_already=variant in WAITING)
        return seconds, run, sum(image(obj) == OLD_IMAGE for obj in workloads.listed())


def selector_probe(count: int, collections: Path) -> dict[str, Any]:
    """What kubernetes.core.k8s_rollback does with ``label_selectors`` and no name (not one of the timed variants)."""
    seconds, run, on_old = measure("core_selector", count, collections)
    failure = next((line.strip() for line in run.stdout.splitlines() if line.lstrip().startswith(("fatal:", "failed:"))), "")
    return {"exit_code": run.returncode, "seconds": round(seconds, 2), "back_on_old_image": on_old, "first_error": failure[:400]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--deployments", type=int, default=50)
    args = parser.parse_args()
    collections = install_kubernetes_core()
    load_before = os.getloadavg()
    timings: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    for round_number in range(args.rounds):
        for variant in VARIANTS:
            seconds, _run, _on_old = measure(variant, args.deployments, collections)
            timings[variant].append(round(seconds, 2))
            print(f"round {round_number + 1}: {variant} {seconds:.2f} s", file=sys.stderr)
    median = {variant: statistics.median(values) for variant, values in timings.items()}
    report = {"date": time.strftime("%Y-%m-%d"), "rounds": args.rounds, "deployments": args.deployments, "ansible": ANSIBLE_VERSION,
              "seconds": timings, "median": median,
              "ratio_nowait": round(median["core"] / median["ours_nowait"], 2),
              "ratio_wait": round(median["core_wait"] / median["ours_wait"], 2),
              "core_label_selectors": selector_probe(args.deployments, collections),
              "load_average": {"before": [round(value, 2) for value in load_before], "after": [round(value, 2) for value in os.getloadavg()]}}
    print(json.dumps(report, indent=2))
    print(f"| {report['date']} | {args.rounds} | {median['ours_wait']:.1f} s | {median['core_wait']:.1f} s | {report['ratio_wait']:.1f} "
          f"| {median['ours_nowait']:.1f} s | {median['core']:.1f} s | {report['ratio_nowait']:.1f} |")


if __name__ == "__main__":
    main()

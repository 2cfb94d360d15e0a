"""Benchmark: the 2-hour SLO watch evaluated from history (ofm.rollback.slo_watch) against a real Prometheus.

Writes 2 h 10 min of the service's metrics, one sample every 15 s, as OpenMetrics (request counters by status and version,
the latency histogram, publish, webhook and database counters, ``up`` of the API's two targets), backfills them with
``promtool tsdb create-blocks-from openmetrics`` into a temporary TSDB, starts a Prometheus of its own on it, then runs the
watch (since = 2 h 5 min ago, duration 2 h, resolution 15 s, a fresh state file each round) in process, timing each run and
counting the HTTP queries it sent (one range query per SLO and signal is the target) and the samples per SLO. Then the same
watch through ``ansible localhost -m ofm.rollback.slo_watch`` once, for the cost with Ansible around it.
Results go to stdout as JSON and a Markdown row. Nothing is asserted.

    .venv/bin/python bench/slo_watch.py [--rounds 5] [--resolution 15s]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".collections"))

# pylint: disable=wrong-import-position
from ansible_collections.ofm.rollback.plugins.module_utils import slo_watch  # noqa: E402
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import PrometheusClient  # noqa: E402

STEP = 15
HISTORY = 2 * 3600 + 600
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 7.5, 10, 15, 30, 60)
VERSIONS = {"stable": 18.0, "canary": 2.0}  # requests per second


def openmetrics(end: int) -> str:
    """The history as OpenMetrics text: every family contiguous, each series' samples in time order."""
    times = list(range(end - HISTORY, end + 1, STEP))
    lines: list[str] = []

    def counter(family: str, series: dict[str, float]) -> None:
        lines.append(f"# TYPE {family} counter")
        for labels, rate in series.items():
            lines.extend(f"{family}_total{{{labels}}} {rate * (at - times[0]):.3f} {at}" for at in times)

    counter("http_requests", {f'route="/api/posts",status="{status}",version="{version}"': rps * share
                              for version, rps in VERSIONS.items() for status, share in (("200", 0.995), ("500", 0.001), ("404", 0.004))})
    counter("publish_requests", {f'result="{result}",version="{version}"': rps * 0.1 * share
                                 for version, rps in VERSIONS.items() for result, share in (("success", 0.99), ("failure", 0.01))})
    counter("webhook_signature", {f'platform="tiktok",version="{version}"': rps * 0.05 for version, rps in VERSIONS.items()})
    counter("webhook_signature_verified", {f'platform="tiktok",version="{version}"': rps * 0.05 for version, rps in VERSIONS.items()})
    counter("db_connection_attempts", {f'result="{result}",version="{version}"': rps * share
                                       for version, rps in VERSIONS.items() for result, share in (("success", 0.999), ("failure", 0.001))})
    lines.append("# TYPE http_request_duration_seconds histogram")
    for version, rps in VERSIONS.items():
        for bound in (*BUCKETS, "+Inf"):
            share = 1.0 if bound == "+Inf" else min(1.0, float(bound) / 0.2)
            lines.extend(f'http_request_duration_seconds_bucket{{le="{bound}",version="{version}"}} {rps * share * (at - times[0]):.3f} {at}'
                         for at in times)
        lines.extend(f'http_request_duration_seconds_count{{version="{version}"}} {rps * (at - times[0]):.3f} {at}' for at in times)
        lines.extend(f'http_request_duration_seconds_sum{{version="{version}"}} {rps * 0.1 * (at - times[0]):.3f} {at}' for at in times)
    lines.append("# TYPE up gauge")
    for instance in ("api-stable:8080", "api-canary:8080"):
        lines.extend(f'up{{instance="{instance}",job="ofm-social-os-api"}} 1 {at}' for at in times)
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_prometheus(workdir: Path, end: int) -> tuple[subprocess.Popen, str]:
    source = workdir / "history.om"
    source.write_text(openmetrics(end))
    data = workdir / "tsdb"
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)], check=True, capture_output=True)
    config = workdir / "prometheus.yml"
    config.write_text("global: {scrape_interval: 15s}\nscrape_configs: []\n")
    port = free_port()
    process = subprocess.Popen(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={data}", "--storage.tsdb.retention.time=30d",
                                f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as answer:
                if answer.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the benchmark's Prometheus did not become ready")


def watch_params(url: str, state_file: Path, since: int, resolution: str) -> dict:
    return {"prometheus_url": url, "state_file": str(state_file), "since": str(since), "duration": "2h", "resolution": resolution,
            "window": "5m", "validate_certs": True, "ca_path": None, "timeout": 30.0, "retries": 3, "scope": "both",
            "version_label": "version", "selector": "", "slos": [], "only": [], "stability": None, "job": "ofm-social-os-api",
            "wait": "0", "interval": "1m", "min_coverage": 0.8, "unavailable_is": "fail", "incident_id": "BENCH-1"}


def in_process(url: str, workdir: Path, since: int, resolution: str, round_number: int) -> dict:
    params = watch_params(url, workdir / f"state-{round_number}.json", since, resolution)
    client = PrometheusClient.from_params(params)
    started = time.perf_counter()
    result = slo_watch.run(client, params)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "http_requests": len(client.http.requests), "queries": result["watch"]["queries"],
            "status": result["status"], "state": result["watch"]["state"],
            "samples": sorted({tally["samples"] for tally in result["watch"]["slos"].values()})}


def through_ansible(url: str, workdir: Path, since: int, resolution: str) -> dict:
    params = {key: value for key, value in watch_params(url, workdir / "state-ansible.json", since, resolution).items()
              if value is not None and key not in ("ca_path",)}
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".collections"), "ANSIBLE_CONFIG": str(workdir / "ansible.cfg"),
           "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_PYTHON_INTERPRETER": sys.executable}
    (workdir / "ansible.cfg").touch()
    argv = [str(Path(sys.executable).parent / "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m", "ofm.rollback.slo_watch",
            "-a", json.dumps(params)]
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, check=False)
    return {"seconds": round(time.perf_counter() - started, 3), "rc": done.returncode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--resolution", default="15s")
    args = parser.parse_args()
    for tool in ("promtool", "prometheus"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed (apt-get install prometheus)")
    with tempfile.TemporaryDirectory(prefix="bench-slo-watch-") as temp:
        workdir = Path(temp)
        end = int(time.time()) // STEP * STEP - 60
        process, url = start_prometheus(workdir, end)
        try:
            since = end - HISTORY + 300
            rounds = [in_process(url, workdir, since, args.resolution, number) for number in range(args.rounds)]
            ansible = through_ansible(url, workdir, since, args.resolution)
        finally:
            process.terminate()
            process.wait(timeout=30)
    median = statistics.median(found["seconds"] for found in rounds)
    report = {"rounds": rounds, "median_seconds": median, "ansible": ansible, "resolution": args.resolution,
              "python": platform.python_version(), "load_average": os.getloadavg()[0]}
    print(json.dumps(report, indent=1))
    first = rounds[0]
    print(f"| {time.strftime('%Y-%m-%d')} | {args.rounds} | {args.resolution} | {first['queries']} ({first['http_requests']} HTTP) | "
          f"{first['samples']} | {median:.3f} s | {ansible['seconds']:.2f} s | load average {report['load_average']:.1f} |")


if __name__ == "__main__":
    main()

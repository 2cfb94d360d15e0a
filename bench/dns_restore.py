"""Benchmark: restore 500 record sets of one zone with ofm.rollback.dns_record (one task, one UPDATE message / one PATCH),
side by side with the same record sets restored by community.general.nsupdate in a loop (one task item per record set).

Runs against the lab's PowerDNS in a zone of the benchmark's own (``bench-dns-restore.test.``, created before and deleted
after; ofm.social is not touched). The zone gets 500 A record sets ``h000`` .. ``h499`` as "the snapshot" (untimed); before
every measured run all 500 are changed through the API (untimed); after every run all 500 must equal the snapshot again,
otherwise the benchmark stops.

- **ours, rfc2136**: ``ansible-playbook`` with one ``ofm.rollback.dns_record`` task (backend rfc2136, the lab's TSIG key);
- **ours, powerdns**: the same task with backend powerdns (the HTTP API);
- **nsupdate**: one ``community.general.nsupdate`` task with ``loop`` over the 500 record sets (same server, key and TTL),
  from ``bench/install-community-general.sh`` (the ``ansible`` package on PyPI; benchmark use only).

Each is timed from the launch of ``ansible-playbook`` to its exit.

    .venv/bin/python bench/dns_restore.py [--rounds 1] [--records 500]
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from dnslab import create_zone, delete_zone, pdns_call  # noqa: E402  pylint: disable=wrong-import-position
from lab.components import powerdns  # noqa: E402  pylint: disable=wrong-import-position
from lab.config import HOST, load_config  # noqa: E402  pylint: disable=wrong-import-position

ZONE = "bench-dns-restore.test."
TTL = 300


def address(index: int, generation: int) -> str:
    return f"10.{generation}.{index // 250}.{index % 250 + 1}"


def records(count: int, generation: int) -> list[dict[str, Any]]:
    return [{"name": f"h{index:03d}.{ZONE}", "type": "A", "ttl": TTL, "values": [address(index, generation)]} for index in range(count)]


def put_generation(api_url: str, key: str, count: int, generation: int) -> None:
    rrsets = [{"name": r["name"], "type": "A", "ttl": TTL, "changetype": "REPLACE",
               "records": [{"content": value, "disabled": False} for value in r["values"]]} for r in records(count, generation)]
    pdns_call(api_url, key, "PATCH", f"/zones/{ZONE}", {"rrsets": rrsets}, timeout=60)


def check_generation(api_url: str, key: str, count: int, generation: int) -> None:
    have = {r["name"]: sorted(x["content"] for x in r["records"]) for r in pdns_call(api_url, key, "GET", f"/zones/{ZONE}")["rrsets"]
            if r["type"] == "A" and r["name"].startswith("h")}
    wanted = {r["name"]: r["values"] for r in records(count, generation)}
    wrong = [name for name, values in wanted.items() if have.get(name) != values]
    if wrong:
        raise SystemExit(f"not restored: {len(wrong)} record sets, such as {wrong[:3]}")


def playbooks(workdir: Path, cfg: Any, creds: dict[str, str], count: int) -> dict[str, Path]:
    server = {"server": HOST, "port": cfg.ports["powerdns_dns"]}
    tsig = {"tsig_key_name": powerdns.TSIG_KEY_NAME, "tsig_key_secret": creds["powerdns_tsig_secret"]}
    variables = workdir / "vars.json"
    variables.write_text(json.dumps({"snapshot": records(count, 1), "tsig_secret": creds["powerdns_tsig_secret"],
                                     "api_key": creds["powerdns_api_key"]}))
    os.chmod(variables, 0o600)
    common = {"hosts": "localhost", "gather_facts": False, "vars_files": [str(variables)]}
    ours_rfc = [{**common, "tasks": [{"ofm.rollback.dns_record": {
        "backend": "rfc2136", "server": f"{HOST}:{server['port']}", "zone": ZONE, "tsig_key_name": tsig["tsig_key_name"],
        "tsig_key_secret": "{{ tsig_secret }}", "records": "{{ snapshot }}"}}]}]
    ours_api = [{**common, "tasks": [{"ofm.rollback.dns_record": {
        "backend": "powerdns", "api_url": f"http://{HOST}:{cfg.ports['powerdns_api']}", "api_key": "{{ api_key }}", "zone": ZONE,
        "records": "{{ snapshot }}"}}]}]
    nsupdate = [{**common, "tasks": [{"community.general.nsupdate": {
        "server": HOST, "port": server["port"], "key_name": tsig["tsig_key_name"], "key_secret": "{{ tsig_secret }}",
        "key_algorithm": "hmac-sha256", "zone": ZONE, "record": "{{ item.name }}", "type": "A", "ttl": TTL, "value": "{{ item['values'] }}"},
        "loop": "{{ snapshot }}", "loop_control": {"label": "{{ item.name }}"}}]}]
    paths = {}
    for name, play in (("ours, rfc2136", ours_rfc), ("ours, powerdns", ours_api), ("nsupdate", nsupdate)):
        path = workdir / (name.replace(", ", "-").replace(" ", "") + ".yml")
        path.write_text(json.dumps(play))
        paths[name] = path
    return paths


def run(playbook: Path, env: dict[str, str]) -> float:
    started = time.monotonic()
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)],
                          cwd=playbook.parent, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{playbook.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--records", type=int, default=500)
    args = parser.parse_args()
    cfg = load_config()
    creds = json.loads(cfg.credentials_file.read_text())
    api_url, key = f"http://{HOST}:{cfg.ports['powerdns_api']}", creds["powerdns_api_key"]
    baseline = subprocess.run(["bash", str(ROOT / "bench" / "install-community-general.sh")], capture_output=True, text=True, check=True).stdout.strip()
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": f"{ROOT / '.collections'}:{baseline}", "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_PYTHON_INTERPRETER": str(ROOT / ".venv" / "bin" / "python")}
    delete_zone(api_url, key, ZONE)
    create_zone(api_url, key, ZONE, rrsets=[
        {"name": ZONE, "type": "SOA", "ttl": 3600, "records": [{"content": f"ns1.{ZONE} hostmaster.{ZONE} 1 10800 3600 604800 300", "disabled": False}]},
        {"name": ZONE, "type": "NS", "ttl": 3600, "records": [{"content": f"ns1.{ZONE}", "disabled": False}]}])
    times: dict[str, list[float]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-dns-") as tmp:
            paths = playbooks(Path(tmp), cfg, creds, args.records)
            for round_number in range(args.rounds):
                for name, path in paths.items():
                    put_generation(api_url, key, args.records, 2 + round_number)
                    check_generation(api_url, key, args.records, 2 + round_number)
                    elapsed = run(path, env)
                    check_generation(api_url, key, args.records, 1)
                    times.setdefault(name, []).append(elapsed)
                    print(f"round {round_number + 1}: {name}: {elapsed:.1f} s", flush=True)
    finally:
        delete_zone(api_url, key, ZONE)
    base = statistic_of(times["nsupdate"])
    for name, values in times.items():
        print(f"{name}: median {statistic_of(values):.2f} s ({', '.join(f'{v:.1f}' for v in values)}); ratio to nsupdate {statistic_of(values) / base:.3f}")
    print(f"load average: {os.getloadavg()}")


def statistic_of(values: list[float]) -> float:
    return statistics.median(values)


if __name__ == "__main__":
    main()

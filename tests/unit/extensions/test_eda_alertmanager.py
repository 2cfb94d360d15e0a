# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Alertmanager event source (extensions/eda/plugins/event_source/alertmanager.py), served for real on a free port
and posted to as Alertmanager posts: one event per alert, an alert without the labels the rules need ignored (and said
so), a body that is no webhook payload refused with 400 so that nothing half-read is queued."""
from __future__ import annotations

import asyncio
import datetime
import importlib.util
from pathlib import Path
from typing import Optional

import aiohttp
import pytest

from unithelpers import free_port

SOURCE = Path(__file__).resolve().parents[3] / "extensions" / "eda" / "plugins" / "event_source" / "alertmanager.py"
spec = importlib.util.spec_from_file_location("ofm_alertmanager_source", SOURCE)
alertmanager = importlib.util.module_from_spec(spec)
spec.loader.exec_module(alertmanager)


def alert(version: str = "canary", **labels: str) -> dict:
    return {"status": "firing", "labels": {"alertname": "OfmErrorBudgetBurn", "severity": "page", "slo": "error_rate",
                                           "version": version, **labels},
            "annotations": {"summary": "error_rate of the canary burns its error budget"}, "startsAt": "2026-12-05T10:00:00Z"}


def payload(*alerts: dict) -> dict:
    return {"version": "4", "status": "firing", "receiver": "ofm-eda", "groupLabels": {"alertname": "OfmErrorBudgetBurn"},
            "commonLabels": {"service": "ofm-social-os"}, "externalURL": "http://alertmanager:9093", "alerts": list(alerts)}


async def exchange(bodies: list, sustained_for: float = 0, settle: float = 0,
                   queued_between: Optional[list] = None) -> tuple[list[tuple[int, dict]], list[dict]]:
    """Post ``bodies`` to a served source; the events queued ``settle`` seconds after the last (and in
    ``queued_between``, how many were queued right after each post)."""
    queue: asyncio.Queue = asyncio.Queue()
    ready = asyncio.Event()
    port = free_port()
    args = {"port": port, "required_labels": ["alertname", "version", "slo"], "sustained_for": sustained_for}
    task = asyncio.create_task(alertmanager.main(queue, args, ready))
    await asyncio.wait_for(ready.wait(), 10)
    answers = []
    async with aiohttp.ClientSession() as session:
        for body in bodies:
            kwargs = {"data": body} if isinstance(body, str) else {"json": body}
            async with session.post(f"http://127.0.0.1:{port}/alerts", **kwargs) as response:
                answers.append((response.status, await response.json()))
            if queued_between is not None:
                queued_between.append(queue.qsize())
    await asyncio.sleep(settle)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    events = []
    while not queue.empty():
        events.append(queue.get_nowait())
    return answers, events


def test_one_event_per_alert_with_its_group_and_the_incomplete_alert_ignored():
    incomplete = {"status": "firing", "labels": {"alertname": "OfmErrorBudgetBurn", "severity": "page"}}
    answers, events = asyncio.run(exchange([payload(alert(), alert("stable", slo="p95_latency"), incomplete)]))
    assert answers[0][0] == 202 and answers[0][1]["events"] == 2
    assert answers[0][1]["ignored"] == ["alert 2 (OfmErrorBudgetBurn): labels ['version', 'slo'] missing"]
    assert [event["alert"]["labels"]["version"] for event in events] == ["canary", "stable"]
    assert events[0]["group"]["receiver"] == "ofm-eda" and events[0]["meta"]["endpoint"] == "/alerts"


@pytest.mark.parametrize("body", ["not json", {"alerts": "none"}, ["a", "list"]])
def test_a_body_that_is_no_webhook_payload_is_refused_and_nothing_is_queued(body):
    answers, events = asyncio.run(exchange([body, payload(alert())]))
    assert answers[0][0] == 400 and "error" in answers[0][1]
    # The source goes on: the next delivery is queued.
    assert answers[1][0] == 202 and len(events) == 1


def _now(offset: float = 0) -> str:
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)
    return moment.isoformat().replace("+00:00", "Z")


def test_a_firing_alert_is_an_event_only_once_it_has_fired_sustained_for():
    starting = {**alert(), "startsAt": _now()}
    queued: list = []
    _answers, events = asyncio.run(exchange([payload(starting), payload(starting)], sustained_for=0.6, settle=1.0,
                                            queued_between=queued))
    assert queued == [0, 0], "held while it has not fired long enough"
    assert len(events) == 1 and events[0]["alert"]["startsAt"] == starting["startsAt"], "sent twice while held, one event"


def test_an_alert_that_fired_long_enough_already_is_an_event_at_once():
    old = {**alert(), "startsAt": _now(-120)}
    queued: list = []
    _answers, events = asyncio.run(exchange([payload(old)], sustained_for=60, queued_between=queued))
    assert queued == [1] and len(events) == 1


def test_an_alert_resolved_while_held_never_fires_a_rollback():
    starting = {**alert(), "startsAt": _now(), "fingerprint": "fp-1"}
    resolved = {**starting, "status": "resolved", "endsAt": _now()}
    _answers, events = asyncio.run(exchange([payload(starting), payload(resolved)], sustained_for=0.5, settle=1.0))
    assert [event["alert"]["status"] for event in events] == ["resolved"]

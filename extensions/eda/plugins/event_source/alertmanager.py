# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Event source ofm.rollback.alertmanager: Alertmanager's webhook receiver, one event per alert.

Alertmanager POSTs a group of alerts (webhook payload version 4) to ``http://<host>:<port>/<path>``; each alert becomes an
event ``{"alert": <the alert>, "group": {receiver, status, groupLabels, commonLabels, externalURL}, "meta": {...}}`` on the
rulebook's queue. An alert without the labels a rule needs (``required_labels``) is logged and left out; a body that is
not a webhook payload is answered 400 (Alertmanager logs it and does not retry). Events are queued before the answer:
Alertmanager retries a delivery that did not get a 2xx, so an event is never lost between the two. (The ansible.eda
collection's source of the same name cannot be fetched here; this one keeps to its event shape.)

**Sustained only** (``sustained_for``, seconds, default 0): a firing alert becomes an event only once it has fired that long
(from its ``startsAt``), and not at all when Alertmanager resolves it before. Alertmanager sends an alert when it starts,
not again while it lasts; an alert that fires before the breach is as long as the SLO gate's ``sustain`` would start a
rollback that the gate then declines, and the rule's throttle would swallow the next one. Give ``sustained_for`` at least
the gate's sustain. A firing alert sent again while it is held is held once; a resolved alert is an event at once.

Arguments: ``host`` (127.0.0.1), ``port`` (5050), ``path`` (/alerts), ``required_labels`` ([alertname]),
``sustained_for`` (0).
"""
from __future__ import annotations

import asyncio
import datetime
import logging
from typing import Any, Mapping, Optional

from aiohttp import web

LOGGER = logging.getLogger("ofm.rollback.alertmanager")
GROUP_KEYS = ("receiver", "status", "groupLabels", "commonLabels", "externalURL", "groupKey")


def events_of(payload: Any, required_labels: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The events of one webhook payload, and why each alert left out was left out. A payload that is not a webhook's
    raises ValueError."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("alerts"), list):
        raise ValueError("not an Alertmanager webhook payload (an object with a list of alerts)")
    group = {key: payload.get(key) for key in GROUP_KEYS}
    events, ignored = [], []
    for index, alert in enumerate(payload["alerts"]):
        labels = alert.get("labels") if isinstance(alert, Mapping) else None
        missing = [label for label in required_labels if not isinstance(labels, Mapping) or not labels.get(label)]
        if missing or alert.get("status") not in ("firing", "resolved"):
            why = f"labels {missing} missing" if missing else f"status {alert.get('status')!r}"
            ignored.append(f"alert {index} ({(labels or {}).get('alertname', '?') if isinstance(labels, Mapping) else '?'}): {why}")
            continue
        events.append({"alert": dict(alert), "group": group})
    return events, ignored


def alert_key(alert: Mapping[str, Any]) -> str:
    """Alertmanager's identity of an alert: its fingerprint, else its labels."""
    return str(alert.get("fingerprint") or sorted((alert.get("labels") or {}).items()))


def held_for(alert: Mapping[str, Any], sustained_for: float, now: datetime.datetime) -> float:
    """How long a firing alert must still be held to have fired ``sustained_for`` seconds (from its startsAt, else now)."""
    try:
        started = datetime.datetime.fromisoformat(str(alert.get("startsAt")).replace("Z", "+00:00"))
    except ValueError:
        started = now
    if started.tzinfo is None:
        started = started.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, sustained_for - (now - started).total_seconds())


class Hold:
    """Firing alerts held until they have fired ``sustained_for`` seconds; a resolution in between drops them."""

    def __init__(self, queue: asyncio.Queue, sustained_for: float) -> None:
        self.queue = queue
        self.sustained_for = sustained_for
        self.pending: dict[str, asyncio.Task] = {}

    async def put(self, event: dict[str, Any]) -> None:
        alert = event["alert"]
        key = alert_key(alert)
        if alert.get("status") == "resolved" or self.sustained_for <= 0:
            held = self.pending.pop(key, None)
            if held is not None:
                held.cancel()
                LOGGER.info("dropped %s: resolved before it had fired %ss", alert.get("labels"), self.sustained_for)
            await self.queue.put(event)
            return
        if key in self.pending:
            return  # sent again while held: held once
        delay = held_for(alert, self.sustained_for, datetime.datetime.now(datetime.timezone.utc))
        self.pending[key] = asyncio.ensure_future(self._release(key, event, delay))

    async def _release(self, key: str, event: dict[str, Any], delay: float) -> None:
        await asyncio.sleep(delay)
        self.pending.pop(key, None)
        await self.queue.put(event)

    def cancel(self) -> None:
        for task in self.pending.values():
            task.cancel()


def make_app(queue: asyncio.Queue, path: str, required_labels: list[str], hold: Optional[Hold] = None) -> web.Application:
    hold = hold or Hold(queue, 0)

    async def receive(request: web.Request) -> web.Response:
        try:
            payload = await request.json()
            events, ignored = events_of(payload, required_labels)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            LOGGER.warning("refused a delivery from %s: %s", request.remote, exc)
            return web.json_response({"error": str(exc)}, status=400)
        for reason in ignored:
            LOGGER.warning("ignored %s", reason)
        for event in events:
            event["meta"] = {"endpoint": path, "headers": {"User-Agent": request.headers.get("User-Agent", "")}}
            await hold.put(event)
        return web.json_response({"events": len(events), "ignored": ignored}, status=202)

    app = web.Application()
    app.router.add_post(path, receive)
    return app


async def main(queue: asyncio.Queue, args: Mapping[str, Any], ready: Optional[asyncio.Event] = None) -> None:
    """Serve until cancelled (ansible-rulebook cancels its sources when the rulebook stops)."""
    host, port = str(args.get("host", "127.0.0.1")), int(args.get("port", 5050))
    path = str(args.get("path", "/alerts"))
    required = list(args.get("required_labels") or ["alertname"])
    hold = Hold(queue, float(args.get("sustained_for") or 0))
    runner = web.AppRunner(make_app(queue, path, required, hold))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    if ready is not None:
        ready.set()
    try:
        await asyncio.Event().wait()
    finally:
        hold.cancel()
        await runner.cleanup()

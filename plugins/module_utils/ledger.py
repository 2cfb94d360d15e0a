# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an incident's notifications already sent, kept in a JSON file so that a re-run sends nothing twice.

Each entry is written ``sending`` before the message leaves and ``sent`` once the receiver took it, each time atomically
(temporary file, fsync, rename; mode 0600) under an exclusive lock, so two runs at once never both send, and a run killed
between the two writes leaves ``sending``: the message may or may not have reached its receiver, so it is reported as
``unknown`` and never sent again by itself (a person looks, then removes the entry or leaves it). ``refused`` keeps a
receiver's definitive refusal.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import tempfile
from typing import Any, Callable, Dict, Optional, Tuple

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError

FORMAT = "ofm.rollback/notification-ledger v1"
LOCK_TIMEOUT = 30.0


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class Ledger:
    """The entries of one ledger file for one incident; ``kind`` names what it holds (``slack``, ``email``)."""

    def __init__(self, path: str, incident_id: str, kind: str, *, option: str = "ledger") -> None:
        self.path = path
        self.incident_id = incident_id
        self.kind = kind
        self.option = option
        self.entries: Dict[str, Dict[str, Any]] = {}
        self._lock_fd: Optional[int] = None

    def load(self) -> "Ledger":
        """Read the file (none yet: empty); another incident's or kind's ledger, or one that is not ours, is refused."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return self
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.option}: {self.path} is not a readable notification ledger ({exc}); it was left as it is",
                             option=self.option) from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("entries"), dict):
            raise InputError(f"{self.option}: {self.path} is not a notification ledger ({FORMAT}); it was left as it is", option=self.option)
        if data.get("incident_id") != self.incident_id or data.get("kind") != self.kind:
            raise InputError(f"{self.option}: {self.path} is the {data.get('kind')} ledger of {data.get('incident_id')}, not the {self.kind} "
                             f"ledger of {self.incident_id}; it was left as it is", option=self.option)
        self.entries = data["entries"]
        return self

    def __enter__(self) -> "Ledger":
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise InputError(f"{self.option}: the directory {directory} does not exist", option=self.option)
        self._lock_fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        except OSError as exc:
            os.close(self._lock_fd)
            raise OfmRollbackError(f"cannot lock {self.path}: {exc}") from exc
        return self.load()

    def __exit__(self, *exc_info: Any) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def mark(self, key: str, status: str, **fields: Any) -> Dict[str, Any]:
        """Set ``key``'s entry to ``status`` with ``fields`` and save at once."""
        entry = {**self.entries.get(key, {}), **fields, "status": status, f"{status}_at": now_iso()}
        self.entries[key] = entry
        self.save()
        return entry

    def send_once(self, key: str, send: Callable[[], Dict[str, Any]], **fields: Any) -> Tuple[str, Dict[str, Any]]:
        """Send ``key`` unless the ledger holds it; ``(status, entry)``.

        ``unchanged``: sent before. ``unknown``: a run stopped while sending it, so it is never sent again by itself.
        ``sent``: ``send()`` sent it now and returned the fields to keep (such as Slack's ``ts``). When ``send()`` fails, an
        error that says the receiver "may have" taken it leaves the entry ``sending`` (no run sends it twice), any other
        removes it (a re-run sends it); the error is raised again.
        """
        entry = self.entries.get(key)
        if entry and entry.get("status") in ("sent", "sending"):
            return ("unchanged" if entry["status"] == "sent" else "unknown"), entry
        self.mark(key, "sending", **fields)
        try:
            kept = send()
        except OfmRollbackError as exc:
            if "may have" in str(exc):
                self.mark(key, "sending", error=str(exc)[:300])
            else:
                self.entries.pop(key, None)
                self.save()
            raise
        return "sent", self.mark(key, "sent", **kept)

    def save(self) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        data = {"format": FORMAT, "incident_id": self.incident_id, "kind": self.kind, "entries": self.entries}
        handle, temporary = tempfile.mkstemp(prefix=".ledger-", dir=directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=1, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise

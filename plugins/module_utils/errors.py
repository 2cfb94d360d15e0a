# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one exception hierarchy.

Every error names the system, the operation, the target and what to try next, and renders as
``<system>: <operation> on <target> failed: <reason>. <hint>``. ``to_result()`` gives the keyword
arguments for ``AnsibleModule.fail_json``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.redact import redact, redact_url


class OfmRollbackError(Exception):
    """Base class: a failure the collection understood and can explain."""

    default_hint = ""

    def __init__(self, reason: str, *, system: str = "ofm.rollback", operation: str = "", target: str = "",
                 hint: Optional[str] = None, details: Optional[dict[str, Any]] = None, status: Optional[int] = None) -> None:
        super().__init__(reason)
        self.reason = redact(reason)
        self.system = system
        self.operation = operation
        self.target = redact_url(target)
        self.hint = self.default_hint if hint is None else hint
        self.details: dict[str, Any] = redact(details or {})
        self.status = status

    def __str__(self) -> str:
        action = self.operation or "request"
        where = f" on {self.target}" if self.target else ""
        message = f"{self.system}: {action}{where} failed: {self.reason.rstrip('.')}."
        return f"{message} {self.hint}" if self.hint else message

    def fields(self) -> dict[str, Any]:
        """The machine-readable error fields (subclasses add their own)."""
        return {
            "type": type(self).__name__,
            "system": self.system,
            "operation": self.operation,
            "target": self.target,
            "reason": self.reason,
            "hint": self.hint,
            "status": self.status,
            "details": self.details,
        }

    def to_result(self) -> dict[str, Any]:
        """``fail_json`` keyword arguments: ``msg`` plus an ``error`` dict."""
        return {"msg": str(self), "error": self.fields()}


class InputError(OfmRollbackError):
    """A bad option value or a request the remote system rejected as invalid."""

    def __init__(self, reason: str, *, option: Optional[str] = None, accepted: Optional[Sequence[Any] | str] = None,
                 **kwargs: Any) -> None:
        self.option = option
        self.accepted = accepted
        kwargs.setdefault("operation", f"check of option '{option}'" if option else "input check")
        kwargs.setdefault("hint", _accepted_hint(accepted))
        super().__init__(reason, **kwargs)

    def fields(self) -> dict[str, Any]:
        return {**super().fields(), "option": self.option, "accepted": self.accepted}


def _accepted_hint(accepted: Optional[Sequence[Any] | str]) -> str:
    if accepted is None:
        return ""
    if isinstance(accepted, str):
        return f"Accepted: {accepted}."
    return f"Accepted values: {', '.join(str(value) for value in accepted)}."


class AuthenticationError(OfmRollbackError):
    """The credentials were missing, wrong or expired (HTTP 401)."""

    default_hint = "Check the credentials: a session cookie expires, so log in again and pass a fresh value, or use a token."


class AuthorizationError(OfmRollbackError):
    """The caller is known but lacks the role the operation needs (HTTP 403)."""

    def __init__(self, reason: str, *, required_role: Optional[str] = None, current_roles: Optional[Sequence[str]] = None,
                 **kwargs: Any) -> None:
        self.required_role = required_role
        self.current_roles = list(current_roles) if current_roles is not None else None
        kwargs.setdefault("hint", _authorization_hint(required_role, self.current_roles))
        super().__init__(reason, **kwargs)

    def fields(self) -> dict[str, Any]:
        return {**super().fields(), "required_role": self.required_role, "current_roles": self.current_roles}


def _authorization_hint(required_role: Optional[str], current_roles: Optional[list[str]]) -> str:
    if required_role is None:
        return "Check the account's roles and whether this host's IP address is on the service's allow-list."
    held = ", ".join(current_roles) if current_roles else "none"
    return f"The operation needs role '{required_role}' and the caller holds: {held}. Use an account with role '{required_role}'."


class NotFoundError(OfmRollbackError):
    """The target does not exist (HTTP 404 or an absent object)."""

    default_hint = "Check the name, namespace and URL of the target."


class ConflictError(OfmRollbackError):
    """The target's state conflicts with the request (HTTP 409, a stale version, a lock)."""

    default_hint = "Read the current state again and retry if the operation is still needed."


class UnavailableError(OfmRollbackError):
    """The system could not be reached or kept failing (connect errors, timeouts, 429, 5xx) after ``attempts`` tries.

    ``sent`` says whether the request can have been processed: False when it cannot (nothing reached the server, such as
    a refused connection, a DNS or TLS failure, or the server refused it unprocessed with HTTP 429), True when the server
    received it (an HTTP 5xx, no answer within the read timeout), None when that is not known.
    """

    default_hint = "Check that the service is up and reachable from this host, then run again."

    def __init__(self, reason: str, *, attempts: int = 1, sent: Optional[bool] = None, **kwargs: Any) -> None:
        self.attempts = attempts
        self.sent = sent
        super().__init__(reason, **kwargs)

    def fields(self) -> dict[str, Any]:
        return {**super().fields(), "attempts": self.attempts, "sent": self.sent}


class CertificateError(UnavailableError):
    """The TLS connection was refused before any request was sent (``sent`` is False): the server's certificate is not
    trusted, is for another host, expired or is not yet valid, or the handshake failed. ``problem`` says which (untrusted,
    hostname, expired, not_yet_valid, handshake) and ``option`` names the option that fixes it (None when only the server's
    side can, such as an expired certificate). Retrying does not help, so the client does not retry it.
    """

    def __init__(self, reason: str, *, problem: str, option: Optional[str] = None, **kwargs: Any) -> None:
        self.problem = problem
        self.option = option
        kwargs.setdefault("sent", False)
        super().__init__(reason, **kwargs)

    def fields(self) -> dict[str, Any]:
        return {**super().fields(), "problem": self.problem, "option": self.option}


class DeadlineExceeded(OfmRollbackError):
    """A wait ran out before its condition held; ``last_state`` is what was seen last."""

    default_hint = "Increase the timeout if the system is still converging, or look at the last state reported."

    def __init__(self, reason: str, *, timeout: Optional[float] = None, last_state: Any = None, **kwargs: Any) -> None:
        self.timeout = timeout
        self.last_state = last_state
        super().__init__(reason, **kwargs)

    def fields(self) -> dict[str, Any]:
        return {**super().fields(), "timeout": self.timeout}


class CommandFailed(OfmRollbackError):
    """A program exited non-zero; ``rc`` is its exit code, and ``details`` hold it and the end of its stderr, redacted."""

    default_hint = "Read the program's message above."

    def __init__(self, reason: str, *, rc: int, stderr: str, **kwargs: Any) -> None:
        self.rc = rc
        kwargs["details"] = {"rc": rc, "stderr": stderr, **(kwargs.get("details") or {})}
        super().__init__(reason, **kwargs)

    def fields(self) -> dict[str, Any]:
        return {**super().fields(), "rc": self.rc}


class DataError(OfmRollbackError):
    """The system answered, but with something the collection cannot use (bad JSON, missing fields, wrong shape)."""

    default_hint = "Check that the URL points at the expected service and API version."


class RolloutFailed(OfmRollbackError):
    """The workload reported that its rollout cannot finish (Deployment: ProgressDeadlineExceeded)."""

    default_hint = "Look at the pods' events (kubectl describe), then undo the rollout or fix the image."


class TargetNotReached(OfmRollbackError):
    """A point-in-time recovery replayed every archived WAL record without passing the target (the server then stops).

    ``redo_done_lsn`` and ``last_commit_time`` (a datetime) say where the replay ended, for a second replay to that point.
    """

    def __init__(self, *, system: str, redo_done_lsn: Optional[str], last_commit_time: Any, last_commit_text: str,
                 log_tail: Sequence[str]) -> None:
        self.redo_done_lsn = redo_done_lsn
        self.last_commit_time = last_commit_time
        last = f", whose last commit was at {last_commit_text}" if last_commit_time else ""
        super().__init__(f"recovery replayed the whole archive (up to {redo_done_lsn or 'its end'}{last}) without passing the target",
                         system=system, operation="recovery", hint="", details={"log_tail": list(log_tail)})

# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The target-group weights of an AWS Application Load Balancer's forward actions (ELBv2 ``ForwardConfig``), through boto3
clients of ``aws.py``.

A load balancer is found by its name; each of its listeners forwards with its default actions and with its rules' actions.
Every place that forwards is a ``Forward``, keyed for people as ``listener <port> default`` or ``listener <port> rule
<priority>``; its weights are ``{target group name: weight}`` (names, not ARNs, in everything people read; the ARNs stay
inside). ``modify_listener`` and ``modify_rule`` replace the whole action list, so a write sends every action of the
listener or rule as described, with only the forward action's target groups changed: ONE call per listener or rule.
Weights are 0..999. A listener, a rule or a target group that is not there is an error before anything is sent.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import checked_timeout, checked_weight
from ansible_collections.ofm.rollback.plugins.module_utils.aws import call, client_from_params
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, InputError, NotFoundError

SYSTEM = "AWS ELBv2"
MAX_WEIGHT = 999
DEFAULT_TIMEOUT = 30.0
DEFAULT = "default"


@dataclass(frozen=True)
class Forward:
    """One place of a load balancer that forwards: a listener's default actions or one rule's actions, as described."""

    port: int
    rule: str  # DEFAULT or the rule's priority
    arn: str  # the listener's ARN for the default actions, else the rule's
    actions: tuple[dict[str, Any], ...]
    weights: dict[str, int]
    conditions: tuple[dict[str, Any], ...] = ()

    @property
    def key(self) -> str:
        return forward_key(self.port, self.rule)

    def summary(self) -> dict[str, Any]:
        """What people read: listener port, rule, conditions and the weights by target group name."""
        shown: dict[str, Any] = {"listener": self.port, "rule": self.rule, "weights": dict(self.weights)}
        if self.conditions:
            shown["conditions"] = [_condition_text(condition) for condition in self.conditions]
        return shown


def forward_key(port: int, rule: str) -> str:
    return f"listener {port} {DEFAULT}" if rule == DEFAULT else f"listener {port} rule {rule}"


def _condition_text(condition: Mapping[str, Any]) -> str:
    configs = [value for name, value in condition.items() if name.endswith("Config") and isinstance(value, Mapping)]
    values = next((config.get("Values") for config in configs if config.get("Values")), None) or condition.get("Values") or []
    return f"{condition.get('Field')} {','.join(str(value) for value in values)}"


def check_weight(value: Any, option: str) -> int:
    """``value`` as an ALB target-group weight (an integer from 0 to 999), else an ``InputError`` naming ``option``."""
    return checked_weight(value, option, maximum=MAX_WEIGHT, what="target group weight", system=SYSTEM)


def check_weights(weights: Mapping[str, Any], option: str) -> dict[str, int]:
    checked = {str(name): check_weight(weight, f"{option}.{name}") for name, weight in (weights or {}).items()}
    if not checked:
        raise InputError("no target group weights given", system=SYSTEM, option=option, accepted="a mapping of target group name to weight")
    return checked


def forward_action(actions: Iterable[Mapping[str, Any]]) -> Optional[Mapping[str, Any]]:
    """The forward action of an action list (ELBv2 allows one), or None."""
    return next((action for action in actions if action.get("Type") == "forward"), None)


def forward_arns(action: Mapping[str, Any]) -> dict[str, int]:
    """``{target group ARN: weight}`` of a forward action (a plain ``TargetGroupArn`` forward is its one group, weight 1)."""
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups")
    if groups:
        return {group["TargetGroupArn"]: int(group.get("Weight", 1)) for group in groups}
    return {action["TargetGroupArn"]: 1} if action.get("TargetGroupArn") else {}


def rewritten_actions(actions: Sequence[Mapping[str, Any]], arn_weights: Mapping[str, int]) -> list[dict[str, Any]]:
    """The whole action list to send: every action as described, the forward action's target groups replaced by
    ``arn_weights`` (its stickiness kept, ``TargetGroupArn`` left out so ``ForwardConfig`` alone says where), and an OIDC
    authentication action told to keep its client secret (describe calls never return it)."""
    result = []
    for described in actions:
        action = copy.deepcopy(dict(described))
        if action.get("Type") == "forward":
            action.pop("TargetGroupArn", None)
            config = dict(action.get("ForwardConfig") or {})
            config["TargetGroups"] = [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in arn_weights.items()]
            action["ForwardConfig"] = config
        oidc = action.get("AuthenticateOidcConfig")
        if isinstance(oidc, dict) and "ClientSecret" not in oidc:
            oidc["UseExistingClientSecret"] = True
        result.append(action)
    return result


@dataclass
class AlbClient:
    """Reads and writes the forward weights of one load balancer, found by name; ``round_trips`` counts the AWS calls."""

    elbv2: Any
    load_balancer: str
    round_trips: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # target group ARN -> name

    @classmethod
    def from_params(cls, params: Mapping[str, Any], load_balancer: str, timeout: Optional[float] = None) -> "AlbClient":
        if not load_balancer:
            raise InputError("no load balancer named", system=SYSTEM, option="load_balancer", accepted="the name of an application load balancer")
        timeout = checked_timeout(DEFAULT_TIMEOUT if timeout is None else timeout, "timeout", system=SYSTEM)
        return cls(client_from_params("elbv2", params, read_timeout=timeout), load_balancer)

    @property
    def target(self) -> str:
        return f"load balancer {self.load_balancer}"

    def _call(self, method: str, operation: str, target: str, **kwargs: Any) -> Any:
        self.round_trips += 1
        return call(getattr(self.elbv2, method), operation=operation, target=target, system=SYSTEM, **kwargs)

    def read(self, port: Optional[int] = None) -> list[Forward]:
        """Every forward of the load balancer (of the listener on ``port`` only, when given), listeners by port, rules by priority."""
        found = self._call("describe_load_balancers", "read", self.target, Names=[self.load_balancer])["LoadBalancers"]
        listeners = self._call("describe_listeners", "read of the listeners", self.target, LoadBalancerArn=found[0]["LoadBalancerArn"])["Listeners"]
        ports = sorted(int(listener["Port"]) for listener in listeners)
        if port is not None and port not in ports:
            raise InputError(f"{self.target} has no listener on port {port}", system=SYSTEM, option="listener_port", accepted=ports or "no listener")
        forwards: list[Forward] = []
        for listener in sorted(listeners, key=lambda item: int(item["Port"])):
            if port is not None and int(listener["Port"]) != port:
                continue
            rules = self._call("describe_rules", "read of the rules", f"{self.target} listener {listener['Port']}",
                               ListenerArn=listener["ListenerArn"])["Rules"]
            forwards += self._forwards(listener, rules)
        self._name_groups(forwards)
        return [Forward(f.port, f.rule, f.arn, f.actions, {self.names[arn]: weight for arn, weight in f.weights.items()}, f.conditions)
                for f in forwards]

    def _forwards(self, listener: Mapping[str, Any], rules: Sequence[Mapping[str, Any]]) -> list[Forward]:
        port = int(listener["Port"])
        forwards = []
        default = forward_action(listener.get("DefaultActions") or [])
        if default is not None:
            forwards.append(Forward(port, DEFAULT, listener["ListenerArn"], tuple(listener["DefaultActions"]), forward_arns(default)))
        for rule in sorted((rule for rule in rules if not rule.get("IsDefault")), key=lambda item: int(item["Priority"])):
            action = forward_action(rule.get("Actions") or [])
            if action is not None:
                forwards.append(Forward(port, str(rule["Priority"]), rule["RuleArn"], tuple(rule["Actions"]), forward_arns(action),
                                        tuple(rule.get("Conditions") or ())))
        return forwards

    def _name_groups(self, forwards: Sequence[Forward]) -> None:
        unnamed = sorted({arn for forward in forwards for arn in forward.weights if arn not in self.names})
        for start in range(0, len(unnamed), 20):
            groups = self._call("describe_target_groups", "read of the target groups", self.target, TargetGroupArns=unnamed[start:start + 20])
            self.names.update({group["TargetGroupArn"]: group["TargetGroupName"] for group in groups["TargetGroups"]})
        missing = [arn for arn in unnamed if arn not in self.names]
        if missing:
            raise DataError(f"{self.target} forwards to target groups that are not there: {missing}", system=SYSTEM, operation="read", target=self.target)

    def arns(self, names: Iterable[str], option: str) -> dict[str, str]:
        """``{name: ARN}`` of target groups, those the load balancer does not use yet looked up by name (an ``InputError``
        naming them when they do not exist)."""
        known = {name: arn for arn, name in self.names.items()}
        wanted = [name for name in dict.fromkeys(names) if name not in known]
        if wanted:
            try:
                groups = self._call("describe_target_groups", "read of the target groups", self.target, Names=wanted)["TargetGroups"]
            except NotFoundError as exc:
                raise InputError(f"no target group named {', '.join(wanted)}: {exc.reason}", system=SYSTEM, option=option,
                                 accepted=sorted(known)) from exc
            self.names.update({group["TargetGroupArn"]: group["TargetGroupName"] for group in groups})
            known = {name: arn for arn, name in self.names.items()}
        return {name: known[name] for name in names}

    def write(self, forward: Forward, weights: Mapping[str, int], option: str = "weights") -> None:
        """ONE call: ``modify_listener`` for a listener's default actions, ``modify_rule`` for a rule, with the whole action list."""
        arns = self.arns(list(weights), option)
        actions = rewritten_actions(forward.actions, {arns[name]: weight for name, weight in weights.items()})
        if forward.rule == DEFAULT:
            self._call("modify_listener", "modify_listener", f"{self.target} {forward.key}", ListenerArn=forward.arn, DefaultActions=actions)
        else:
            self._call("modify_rule", "modify_rule", f"{self.target} {forward.key}", RuleArn=forward.arn, Actions=actions)
        self.calls.append({"call": "modify_listener" if forward.rule == DEFAULT else "modify_rule", "target": forward.key,
                           "weights": dict(weights)})


def select(forwards: Sequence[Forward], rules: Optional[Sequence[str]]) -> list[Forward]:
    """The forwards of ``rules`` (``default`` and rule priorities; all when not given); a rule that does not forward is an error."""
    if not rules:
        return list(forwards)
    wanted = [str(rule) for rule in rules]
    unknown = [rule for rule in wanted if not any(forward.rule == rule for forward in forwards)]
    if unknown:
        raise InputError(f"no forwarding rule {', '.join(unknown)}", system=SYSTEM, option="rules",
                         accepted=sorted({forward.rule for forward in forwards}) or "no rule forwards")
    return [forward for forward in forwards if forward.rule in wanted]


def planned_weights(forwards: Sequence[Forward], weights: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """``{key: weights after}`` of each forward, with the ``weights`` of the target groups it forwards to; a target group
    that no forward forwards to is an ``InputError``."""
    checked = check_weights(weights, "weights")
    used = {name for forward in forwards for name in forward.weights}
    unknown = [name for name in checked if name not in used]
    if unknown:
        raise InputError(f"no selected listener or rule forwards to the target group {', '.join(unknown)}", system=SYSTEM, option="weights",
                         accepted=sorted(used) or "no target group")
    return {forward.key: {name: checked.get(name, weight) for name, weight in forward.weights.items()} for forward in forwards}


@dataclass(frozen=True)
class WeightsChange:
    """What a change of forward weights did (or, in check mode, would do)."""

    load_balancer: str
    before: dict[str, dict[str, int]]
    after: dict[str, dict[str, int]]
    summaries: list[dict[str, Any]]
    calls: tuple[dict[str, Any], ...] = ()

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def result(self) -> dict[str, Any]:
        changed = [key for key in self.after if self.after[key] != self.before.get(key)]
        return {"changed": self.changed, "load_balancer": self.load_balancer, "forwards": self.summaries, "previous": self.before,
                "current": self.after, "calls": list(self.calls),
                "diff": {"before": {key: self.before[key] for key in changed}, "after": {key: self.after[key] for key in changed}}}


def set_weights(client: AlbClient, *, port: Optional[int] = None, rules: Optional[Sequence[str]] = None,
                weights: Optional[Mapping[str, Any]] = None, check_mode: bool = False) -> WeightsChange:
    """Read the load balancer's forwards, work out the weights, and write each listener or rule that differs with one call
    (none in check mode). Every check runs before the first write."""
    checked = check_weights(weights, "weights") if weights is not None else None
    forwards = select(client.read(port), rules)
    before = {forward.key: dict(forward.weights) for forward in forwards}
    after = planned_weights(forwards, checked) if checked is not None else before
    summaries = [{**forward.summary(), "weights": after[forward.key]} for forward in forwards]
    if not check_mode:
        for forward in forwards:
            if after[forward.key] != before[forward.key]:
                client.write(forward, after[forward.key])
    return WeightsChange(client.load_balancer, before, after, summaries, tuple(client.calls))

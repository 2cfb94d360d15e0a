"""The lab's components, in start order. Adding one is a class in this package and a line here."""
from __future__ import annotations

from lab.components.alertmanager import Alertmanager
from lab.components.aws import Aws
from lab.components.base import Component
from lab.components.comms import Comms
from lab.components.db_writer import DbWriter
from lab.components.haproxy import HAProxy
from lab.components.ingress_controller import IngressController
from lab.components.kube_apiserver import KubeApiServer
from lab.components.loadgen import LoadGen
from lab.components.ofm_api import OfmApi
from lab.components.ops_api import OpsApi
from lab.components.platforms import Platforms
from lab.components.postgres import Postgres
from lab.components.powerdns import PowerDns
from lab.components.prometheus import Prometheus
from lab.components.redis import Redis
from lab.components.smtp import Smtp
from lab.components.unleash import Unleash, UnleashDb

COMPONENTS: list[Component] = [
    Redis(),
    OfmApi("stable"),
    OfmApi("canary"),
    HAProxy(),
    OpsApi(),
    Comms("slack"),
    Comms("statuspage"),
    Smtp(),
    Alertmanager(),
    Prometheus(),
    KubeApiServer(),
    IngressController(),
    Postgres(),
    UnleashDb(),
    Unleash(),
    PowerDns(),
    Aws(),
    Platforms(),
    DbWriter(),
    LoadGen(),
]


def by_name(name: str) -> Component:
    for component in COMPONENTS:
        if component.name == name:
            return component
    raise KeyError(f"unknown lab component {name!r}; known: {', '.join(c.name for c in COMPONENTS)}")

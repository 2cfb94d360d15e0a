"""Where the lab lives and how it is wired: state directory, ports, credentials, settings.

Every value can be overridden without editing code:
- ``OFM_LAB_STATE_DIR`` moves all state (default: ``.lab/`` at the repository root);
- ``OFM_LAB_PORT_<NAME>`` sets one port (e.g. ``OFM_LAB_PORT_PROMETHEUS=29090``) and
  ``OFM_LAB_PORT_OFFSET`` shifts every default port, so two labs can run side by side;
- ``OFM_LAB_LOAD_RATE``, ``OFM_LAB_SLI_WINDOW`` and ``OFM_LAB_LOAD_MAX_SECONDS`` tune the load and
  the recording rules; ``OFM_LAB_ALERT_WINDOW_SCALE`` shrinks the SLO burn-rate alert windows (lab/components/slo_alerts.py).
The resolved settings are written to ``<state>/lab.json`` by ``lab up`` and read back by every
later command, so ``status`` and ``down`` always talk about the lab that is really running.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from lab import tls

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

DEFAULT_PORTS: dict[str, int] = {
    "ofm_api_stable": 18081,
    "ofm_api_canary": 18082,
    "haproxy": 18080,
    "haproxy_admin": 18099,
    "haproxy_stats": 18404,
    "ops_api": 18090,
    "slack": 18110,
    "statuspage": 18111,
    "prometheus": 18190,
    "kube_apiserver": 18443,
    "postgres": 18432,
    "ingress_controller": 18444,
    "redis": 18379,
    "unleash": 18242,
    "unleash_db": 18433,
    "haproxy_tls": 18445,
    "powerdns_dns": 18053,
    "powerdns_api": 18281,
    "aws": 18555,
    "platforms": 18620,
    "alertmanager": 18193,
    "smtp": 18525,
    "smtps": 18526,
    # Not a lab service: where the lab Alertmanager delivers the paging SLO alerts, for the EDA rulebook when it runs
    # (extensions/eda; ansible-rulebook with the collection's alertmanager event source listens there).
    "eda": 18505,
}


# The ports that serve HTTPS with the lab CA's services certificate (lab/tls.py); the others are plain (README, "TLS in the
# lab": HAProxy's application frontend, Unleash, PowerDNS's API and the AWS stand-in) or not HTTP at all.
TLS_PORTS = frozenset({
    "ops_api", "slack", "statuspage", "platforms", "prometheus", "alertmanager", "kube_apiserver", "ingress_controller",
    "ofm_api_stable", "ofm_api_canary", "haproxy_stats",
})
# HAProxy's TLS frontend serves the certificates of lab/tls.py by SNI (api.ofm.social, ...), not the services' one.
HTTPS_PORTS = TLS_PORTS | {"haproxy_tls"}


def default_state_dir() -> Path:
    return Path(os.environ.get("OFM_LAB_STATE_DIR") or REPO_ROOT / ".lab").resolve()


def resolve_ports(overrides: Optional[dict[str, int]] = None) -> dict[str, int]:
    """Default ports, shifted by OFM_LAB_PORT_OFFSET, then OFM_LAB_PORT_<NAME>, then ``overrides``."""
    offset = int(os.environ.get("OFM_LAB_PORT_OFFSET", "0"))
    ports = {name: port + offset for name, port in DEFAULT_PORTS.items()}
    for name in ports:
        env_value = os.environ.get(f"OFM_LAB_PORT_{name.upper()}")
        if env_value:
            ports[name] = int(env_value)
    for name, port in (overrides or {}).items():
        if name not in ports:
            raise ValueError(f"unknown lab port name {name!r}; accepted: {', '.join(sorted(ports))}")
        ports[name] = port
    if len(set(ports.values())) != len(ports):
        raise ValueError(f"lab ports must be distinct, got {ports}")
    return ports


@dataclass
class Identity:
    """A lab user of the ops API stand-in, reachable by session cookie and by bearer token."""

    sub: str
    email: str
    roles: list[str]
    session: str
    token: str


def new_identity(name: str, roles: list[str]) -> Identity:
    return Identity(sub=f"lab|{name}", email=f"{name}@lab.ofm.social", roles=roles,
                    session=secrets.token_urlsafe(24), token=secrets.token_urlsafe(32))


# Users of the Kubernetes API test server too (their tokens are bearer tokens there; see lab/components/kube_apiserver.py),
# without the ops API's admin role: kube_sre may do what the emergency fallback does, kube_viewer only read.
KUBE_IDENTITIES = {"kube_sre": ["operator"], "kube_viewer": ["viewer"]}
# The keys of the OFM API's Secret ofm-social-os-secrets on the Kubernetes test server (lab/services/kube/seed.py), with the
# prefix of their generated lab values.
OFM_API_SECRETS = {"TIKTOK_API_KEY": "tk-lab-", "META_APP_SECRET": "meta-lab-", "INSTAGRAM_API_KEY": "ig-lab-"}

# Secrets of the external-service lab components, by Credentials field: PowerDNS's API key and the TSIG secret of its
# dynamic updates (base64, 32 bytes for hmac-sha256), the AWS stand-in's (moto accepts any) access key, and OFM's stored
# TikTok user access token for the platforms stand-in (lab/components/platforms.py; the Instagram one is INSTAGRAM_API_KEY),
# and the password of the database's monitoring role (lab/components/postgres.py MONITOR_ROLE: pg_stat_statements and
# pg_stat_activity for ofm.rollback.pg_stat_info), of the audit writer (AUDIT_ROLE: the audit callback's audit_logs rows)
# and of the lab SMTP server's user.
GENERATED = {
    "powerdns_api_key": lambda: secrets.token_hex(24),
    "powerdns_tsig_secret": lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
    "aws_access_key_id": lambda: "AKIALAB" + secrets.token_hex(6).upper(),
    "aws_secret_access_key": lambda: secrets.token_urlsafe(30),
    "tiktok_access_token": lambda: "act." + secrets.token_urlsafe(36),
    "db_monitor_password": lambda: secrets.token_hex(16),
    "db_audit_password": lambda: secrets.token_hex(16),
    "smtp_password": lambda: secrets.token_urlsafe(18),
}


@dataclass
class Credentials:
    """Secrets generated once per state directory, stored 0600 in ``credentials.json``."""

    identities: dict[str, Identity]
    slack_bot_token: str
    slack_webhook_path: str
    statuspage_api_key: str
    statuspage_page_id: str
    webhook_secret: str
    db_admin_password: str = ""
    db_app_password: str = ""
    redis_password: str = ""
    unleash_db_password: str = ""
    unleash_admin_token: str = ""
    ofm_api_secrets: dict[str, str] = field(default_factory=dict)
    powerdns_api_key: str = ""
    powerdns_tsig_secret: str = ""
    aws_access_key_id: str = ""
    aws_secret_access_key: str = ""
    tiktok_access_token: str = ""
    db_monitor_password: str = ""
    db_audit_password: str = ""
    smtp_password: str = ""

    def backfill(self) -> bool:
        """Generate the secrets added since this file was written; True when something was added."""
        added = False
        for name, roles in KUBE_IDENTITIES.items():
            if name not in self.identities:
                self.identities[name] = new_identity(name, roles)
                added = True
        for name in ("db_admin_password", "db_app_password", "redis_password", "unleash_db_password"):
            if not getattr(self, name):
                setattr(self, name, secrets.token_hex(16))
                added = True
        if not self.unleash_admin_token:
            # Unleash's admin token format: <projects>:<environment>.<secret>
            self.unleash_admin_token = "*:*." + secrets.token_hex(24)
            added = True
        for key, prefix in OFM_API_SECRETS.items():
            if not self.ofm_api_secrets.get(key):
                self.ofm_api_secrets[key] = prefix + secrets.token_hex(16)
                added = True
        for name, make in GENERATED.items():
            if not getattr(self, name):
                setattr(self, name, make())
                added = True
        return added

    @classmethod
    def generate(cls) -> "Credentials":
        return cls(
            identities={
                "admin": new_identity("admin", ["admin"]),
                "operator": new_identity("operator", ["operator"]),
                "viewer": new_identity("viewer", ["viewer"]),
                **{name: new_identity(name, roles) for name, roles in KUBE_IDENTITIES.items()},
            },
            slack_bot_token="xoxb-lab-" + secrets.token_hex(12),
            slack_webhook_path="/services/TLAB0000/BLAB0000/" + secrets.token_hex(12),
            statuspage_api_key=secrets.token_hex(16),
            statuspage_page_id="labpage0001",
            webhook_secret=secrets.token_hex(16),
            db_admin_password=secrets.token_hex(16),
            db_app_password=secrets.token_hex(16),
            redis_password=secrets.token_hex(16),
            unleash_db_password=secrets.token_hex(16),
            unleash_admin_token="*:*." + secrets.token_hex(24),
            ofm_api_secrets={key: prefix + secrets.token_hex(16) for key, prefix in OFM_API_SECRETS.items()},
            **{name: make() for name, make in GENERATED.items()},
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Credentials":
        data = dict(data)
        data["identities"] = {name: Identity(**value) for name, value in data["identities"].items()}
        return cls(**data)

    def ops_api_credentials(self) -> dict[str, Any]:
        """The credentials file format the ops API stand-in reads."""
        def who(identity: Identity) -> dict[str, Any]:
            return {"sub": identity.sub, "email": identity.email, "roles": identity.roles}

        return {
            "sessions": {i.session: who(i) for i in self.identities.values()},
            "tokens": {i.token: who(i) for i in self.identities.values()},
        }


@dataclass
class LabConfig:
    """The resolved settings of one lab."""

    state_dir: Path
    ports: dict[str, int]
    load_rate: float = 20.0
    load_max_seconds: int = 7200
    sli_window: str = "30s"
    canary_weight: int = 10
    alert_window_scale: float = 360.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def config_file(self) -> Path:
        return self.state_dir / "lab.json"

    @property
    def credentials_file(self) -> Path:
        return self.state_dir / "credentials.json"

    def path(self, *parts: str) -> Path:
        return self.state_dir.joinpath(*parts)

    def url(self, port_name: str) -> str:
        """The base URL of a port: https for the HTTPS_PORTS (trust ``ca_file``), http for the others."""
        scheme = "https" if port_name in HTTPS_PORTS else "http"
        return f"{scheme}://{HOST}:{self.ports[port_name]}"

    @property
    def ca_file(self) -> Path:
        """The lab CA's certificate: the one CA bundle a client of the lab's TLS services needs."""
        return tls.ca_file(self.path("tls"))

    def service_cert(self) -> tuple[Path, Path]:
        """The lab services' certificate and key files (made by ``lab up``; lab/tls.py)."""
        return tls.service_cert_files(self.path("tls"))

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        data["state_dir"] = str(self.state_dir)
        self.config_file.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

    def credentials(self) -> Credentials:
        """Load the lab's credentials, generating them on first use."""
        if self.credentials_file.exists():
            creds = Credentials.from_dict(json.loads(self.credentials_file.read_text()))
            if creds.backfill():
                self.credentials_file.write_text(json.dumps(asdict(creds), indent=2, sort_keys=True))
            return creds
        creds = Credentials.generate()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.credentials_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(asdict(creds), handle, indent=2, sort_keys=True)
        return creds


def load_config(state_dir: Optional[Path] = None, port_overrides: Optional[dict[str, int]] = None,
                fresh: bool = False) -> LabConfig:
    """The lab config: the saved one of a lab that was brought up, else one resolved from the environment."""
    state_dir = (state_dir or default_state_dir()).resolve()
    saved = state_dir / "lab.json"
    if saved.exists() and not fresh and not port_overrides:
        data = json.loads(saved.read_text())
        data["state_dir"] = Path(data["state_dir"])
        # A component added since this lab was brought up gets its default port.
        data["ports"] = {**resolve_ports(), **data["ports"]}
        return LabConfig(**data)
    return LabConfig(
        state_dir=state_dir,
        ports=resolve_ports(port_overrides),
        load_rate=float(os.environ.get("OFM_LAB_LOAD_RATE", "20")),
        load_max_seconds=int(os.environ.get("OFM_LAB_LOAD_MAX_SECONDS", "7200")),
        sli_window=os.environ.get("OFM_LAB_SLI_WINDOW", "30s"),
        alert_window_scale=float(os.environ.get("OFM_LAB_ALERT_WINDOW_SCALE", "360")),
    )

"""Server settings: one frozen object built from ``RISKGRID_*`` environment variables and flags.

Nothing else in the service reads the environment, so tests build a :class:`Settings` directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from riskgrid.spec.errors import RiskgridError

DEV_ISSUER = "riskgrid-dev"
DEV_AUDIENCE = "riskgrid"
DEFAULT_PLATFORM_ADMIN_GROUP = "riskgrid-platform-admins"


class SettingsError(RiskgridError):
    """A setting is missing, malformed or contradicts another one."""


def default_state_dir() -> Path:
    return Path(os.environ.get("RISKGRID_STATE_DIR", "~/.riskgrid")).expanduser()


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to know; see docs/service.md for each variable."""

    state_dir: Path = field(default_factory=default_state_dir)
    db_url: str | None = None  # default: SQLite file in state_dir
    results_url: str | None = (
        None  # local path or fsspec URL (s3://bucket/prefix); default state_dir
    )
    environment: str = "development"  # "production" forbids dev mode
    dev_mode: bool = False
    issuer: str | None = None
    audience: str | None = None
    jwks: str | None = None  # file path or https:// URL
    jwks_cache_seconds: float = 300.0
    jwks_min_refetch_seconds: float = 10.0  # unknown kid → refetch at most this often
    leeway_seconds: float = 30.0
    platform_admin_group: str = DEFAULT_PLATFORM_ADMIN_GROUP
    max_body_bytes: int = 16 * 1024 * 1024
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 200
    page_max: int = 100
    engine: str = "local"
    ray_address: str | None = None
    max_workers: int = 2  # per job, before the tenant's own limit
    max_running_jobs: int = 2  # whole server
    tenant_max_running_jobs: int = 1  # default when the tenant spec sets none
    runner_enabled: bool = True
    runner_poll_seconds: float = 0.5
    # several runners on one PostgreSQL (service/claims.py, docs/service.md "Runners")
    runner_id: str | None = None  # default: host name + state dir; unique per live replica
    lease_seconds: float = 30.0  # a dead runner's jobs are taken over after this
    job_deadline_seconds: float = 6 * 3600.0  # a job running longer is stopped and failed
    ray_connect_seconds: float = 60.0  # connecting to RISKGRID_RAY_ADDRESS
    migrate: bool = True
    # --- issue #12: trust, limits, bulkheads, audit anchoring (docs/service.md) ---
    # peer addresses whose X-Forwarded-For is believed (default none: the peer is the client)
    trusted_proxies: tuple[str, ...] = ()
    rate_limit_store: str = "auto"  # "memory" | "database" | "auto" (database on PostgreSQL)
    principal_concurrency: int = 4  # heavy requests one principal may have in flight
    tenant_concurrency: int = 4  # heavy requests of one tenant running at once
    tenant_queue: int = 16  # more of a tenant's heavy requests wait at most this many; then 429
    work_threads: int = 2  # threads for the heavy routes' database steps (and small parses)
    work_processes: int = 2  # processes for submissions: parsing, validation, admission, hashing
    warm_workers: bool = True  # keep local worker pools started between jobs (#14 §3)
    dry_run_processes: int = 1  # processes for policy dry-runs (a lane of their own)
    policy_report_max: int = 500  # violations returned by /v1/policy/check (the rest counted)
    denial_window_seconds: float = 60.0  # repeated denials aggregated per window
    audit_key_file: Path | None = None  # Ed25519 private key (default: state_dir/audit/key.pem)
    audit_checkpoint_file: Path | None = None  # default: state_dir/audit/checkpoints.jsonl
    audit_checkpoint_every: int = 1  # records between signed checkpoints of the head
    # --- issue #15: the image supply-chain gate (docs/supply-chain.md) ---
    trust_policy_file: Path | None = None  # TrustPolicy: jobs run only on verified images
    image_exceptions: tuple[Path, ...] = ()  # PolicyException files (RG-IMG-005 CVE waivers)
    # --- issue #18: the web console under /ui (docs/console.md) ---
    oidc_client_id: str = "riskgrid-console"  # the console's client id at the issuer
    oidc_authorize_url: str | None = None  # authorization endpoint (dev: /dev/oidc/authorize)
    oidc_token_url: str | None = None  # token endpoint (dev: this server's /dev/oidc/token)
    ui_session_seconds: float = 8 * 3600.0  # a console session never outlives its token
    ui_upload_max_bytes: int = 4 * 1024 * 1024  # one console upload (job YAML + files)
    threatmodel_dir: Path | None = None  # the posture page's threat model (default ./threatmodel)
    threats_evidence: Path | None = None  # its evidence (default results/threats/evidence.json)

    @property
    def database_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.state_dir / 'riskgrid.db').resolve()}"

    @property
    def results_location(self) -> str:
        return self.results_url or str((self.state_dir / "results").resolve())

    @property
    def runner_name(self) -> str:
        """This runner's id in claims; restarting with the same id frees its old claims."""
        if self.runner_id:
            return self.runner_id
        import hashlib
        import socket

        digest = hashlib.sha256(str(self.state_dir.resolve()).encode()).hexdigest()[:8]
        return f"{socket.gethostname()}-{digest}"

    @property
    def audit_key_path(self) -> Path:
        return self.audit_key_file or self.state_dir / "audit" / "key.pem"

    @property
    def audit_checkpoint_path(self) -> Path:
        return self.audit_checkpoint_file or self.state_dir / "audit" / "checkpoints.jsonl"

    @property
    def dev_dir(self) -> Path:
        return self.state_dir / "dev"

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def check(self) -> None:
        """Refuse contradictory or incomplete settings before anything starts."""
        if self.dev_mode and self.environment.lower() in {"production", "prod"}:
            raise SettingsError(
                "dev mode refuses to start with RISKGRID_ENV=production: "
                "dev tokens are signed by a key on local disk"
            )
        if not self.dev_mode:
            missing = [n for n in ("issuer", "audience", "jwks") if not getattr(self, n)]
            if missing:
                names = ", ".join(f"RISKGRID_OIDC_{n.upper()}" for n in missing)
                raise SettingsError(f"OIDC settings missing: {names} (or use --dev)")
        if self.engine not in {"local", "ray"}:
            raise SettingsError(f"RISKGRID_ENGINE: must be 'local' or 'ray', not {self.engine!r}")
        if self.rate_limit_store not in {"auto", "memory", "database"}:
            raise SettingsError(
                "RISKGRID_RATE_LIMIT_STORE: must be 'auto', 'memory' or 'database', "
                f"not {self.rate_limit_store!r}"
            )
        import ipaddress

        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise SettingsError(
                    f"RISKGRID_TRUSTED_PROXIES: {proxy!r} is not an IP address or network"
                ) from None
        for name in (
            "max_body_bytes",
            "page_max",
            "max_workers",
            "max_running_jobs",
            "principal_concurrency",
            "tenant_concurrency",
            "work_threads",
            "work_processes",
            "dry_run_processes",
            "policy_report_max",
        ):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name}: must be >= 1")
        for name in ("lease_seconds", "job_deadline_seconds", "ray_connect_seconds"):
            if not getattr(self, name) > 0:
                raise SettingsError(f"RISKGRID_{name.upper()}: must be > 0")
        if self.ray_address and self.engine != "ray":
            raise SettingsError("RISKGRID_RAY_ADDRESS needs RISKGRID_ENGINE=ray")


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


#: Settings whose unset variable means "the dataclass default", not None.
_DEFAULTED = frozenset({"oidc_client_id"})


#: numeric settings: variable → (field, type)
_NUMERIC_ENV: dict[str, tuple[str, type]] = {
    "RISKGRID_MAX_BODY_BYTES": ("max_body_bytes", int),
    "RISKGRID_RATE_LIMIT_PER_SECOND": ("rate_limit_per_second", float),
    "RISKGRID_RATE_LIMIT_BURST": ("rate_limit_burst", int),
    "RISKGRID_MAX_WORKERS": ("max_workers", int),
    "RISKGRID_MAX_RUNNING_JOBS": ("max_running_jobs", int),
    "RISKGRID_TENANT_MAX_RUNNING_JOBS": ("tenant_max_running_jobs", int),
    "RISKGRID_LEASE_SECONDS": ("lease_seconds", float),
    "RISKGRID_JOB_DEADLINE_SECONDS": ("job_deadline_seconds", float),
    "RISKGRID_RAY_CONNECT_SECONDS": ("ray_connect_seconds", float),
    "RISKGRID_PRINCIPAL_CONCURRENCY": ("principal_concurrency", int),
    "RISKGRID_TENANT_CONCURRENCY": ("tenant_concurrency", int),
    "RISKGRID_TENANT_QUEUE": ("tenant_queue", int),
    "RISKGRID_WORK_THREADS": ("work_threads", int),
    "RISKGRID_WORK_PROCESSES": ("work_processes", int),
    "RISKGRID_DRY_RUN_PROCESSES": ("dry_run_processes", int),
    "RISKGRID_AUDIT_CHECKPOINT_EVERY": ("audit_checkpoint_every", int),
    "RISKGRID_UI_SESSION_SECONDS": ("ui_session_seconds", float),
    "RISKGRID_UI_UPLOAD_MAX_BYTES": ("ui_upload_max_bytes", int),
}


def _numbers_from_env(env: Mapping[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for var, (name, kind) in _NUMERIC_ENV.items():
        if var in env:
            try:
                values[name] = kind(env[var])
            except ValueError:
                raise SettingsError(f"{var}: not a number: {env[var]!r}") from None
    return values


def from_env(**overrides: object) -> Settings:
    """Settings from ``RISKGRID_*`` variables; keyword overrides (CLI flags) win when not None."""
    env = os.environ
    values: dict[str, object] = {
        "state_dir": default_state_dir(),
        "db_url": env.get("RISKGRID_DB_URL"),
        "results_url": env.get("RISKGRID_RESULTS_URL"),
        "environment": env.get("RISKGRID_ENV", "development"),
        "dev_mode": _env_bool("RISKGRID_DEV", False),
        "issuer": env.get("RISKGRID_OIDC_ISSUER"),
        "audience": env.get("RISKGRID_OIDC_AUDIENCE"),
        "jwks": env.get("RISKGRID_OIDC_JWKS"),
        "platform_admin_group": env.get(
            "RISKGRID_PLATFORM_ADMIN_GROUP", DEFAULT_PLATFORM_ADMIN_GROUP
        ),
        "engine": env.get("RISKGRID_ENGINE", "local"),
        "ray_address": env.get("RISKGRID_RAY_ADDRESS"),
        # an API-only replica: accepts jobs, leaves running them to another process
        "runner_enabled": _env_bool("RISKGRID_RUNNER", True),
        "warm_workers": _env_bool("RISKGRID_WARM_WORKERS", True),
        "runner_id": env.get("RISKGRID_RUNNER_ID"),
        "trusted_proxies": tuple(
            p.strip() for p in env.get("RISKGRID_TRUSTED_PROXIES", "").split(",") if p.strip()
        ),
        "rate_limit_store": env.get("RISKGRID_RATE_LIMIT_STORE", "auto"),
        "audit_key_file": env.get("RISKGRID_AUDIT_KEY_FILE"),
        "audit_checkpoint_file": env.get("RISKGRID_AUDIT_CHECKPOINTS"),
        "trust_policy_file": env.get("RISKGRID_TRUST_POLICY"),
        "image_exceptions": tuple(
            Path(p.strip()).expanduser()
            for p in env.get("RISKGRID_IMAGE_EXCEPTIONS", "").split(",")
            if p.strip()
        ),
        "oidc_client_id": env.get("RISKGRID_OIDC_CLIENT_ID"),
        "oidc_authorize_url": env.get("RISKGRID_OIDC_AUTHORIZE_URL"),
        "oidc_token_url": env.get("RISKGRID_OIDC_TOKEN_URL"),
        "threatmodel_dir": env.get("RISKGRID_THREATMODEL_DIR"),
        "threats_evidence": env.get("RISKGRID_THREATS_EVIDENCE"),
    }
    values.update(_numbers_from_env(env))
    values.update({k: v for k, v in overrides.items() if v is not None})
    values = {k: v for k, v in values.items() if v is not None or k not in _DEFAULTED}
    for name in (
        "state_dir",
        "audit_key_file",
        "audit_checkpoint_file",
        "threatmodel_dir",
        "threats_evidence",
        "trust_policy_file",
    ):
        if isinstance(values.get(name), str):
            values[name] = Path(values[name]).expanduser()  # type: ignore[arg-type]
    settings = Settings(**values)  # type: ignore[arg-type]
    if settings.dev_mode:
        settings = settings.with_(
            issuer=settings.issuer or DEV_ISSUER,
            audience=settings.audience or DEV_AUDIENCE,
            jwks=settings.jwks or str(settings.dev_dir / "jwks.json"),
        )
    return settings

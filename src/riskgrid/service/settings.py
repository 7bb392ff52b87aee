"""Server settings: one frozen object built from ``RISKGRID_*`` environment variables and flags.

Nothing else in the service reads the environment, so tests build a :class:`Settings` directly.
"""

from __future__ import annotations

import os
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
        for name in ("max_body_bytes", "page_max", "max_workers", "max_running_jobs"):
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
        "runner_id": env.get("RISKGRID_RUNNER_ID"),
    }
    numeric = {
        "RISKGRID_MAX_BODY_BYTES": ("max_body_bytes", int),
        "RISKGRID_RATE_LIMIT_PER_SECOND": ("rate_limit_per_second", float),
        "RISKGRID_RATE_LIMIT_BURST": ("rate_limit_burst", int),
        "RISKGRID_MAX_WORKERS": ("max_workers", int),
        "RISKGRID_MAX_RUNNING_JOBS": ("max_running_jobs", int),
        "RISKGRID_TENANT_MAX_RUNNING_JOBS": ("tenant_max_running_jobs", int),
        "RISKGRID_LEASE_SECONDS": ("lease_seconds", float),
        "RISKGRID_JOB_DEADLINE_SECONDS": ("job_deadline_seconds", float),
        "RISKGRID_RAY_CONNECT_SECONDS": ("ray_connect_seconds", float),
    }
    for var, (name, kind) in numeric.items():
        if var in env:
            try:
                values[name] = kind(env[var])
            except ValueError:
                raise SettingsError(f"{var}: not a number: {env[var]!r}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    if isinstance(values["state_dir"], str):
        values["state_dir"] = Path(values["state_dir"]).expanduser()
    settings = Settings(**values)  # type: ignore[arg-type]
    if settings.dev_mode:
        settings = settings.with_(
            issuer=settings.issuer or DEV_ISSUER,
            audience=settings.audience or DEV_AUDIENCE,
            jwks=settings.jwks or str(settings.dev_dir / "jwks.json"),
        )
    return settings

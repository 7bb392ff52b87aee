"""The posture page's data: policy violations per tenant, exceptions, threat metrics, audit.

Each comes from the function the CLI uses: :func:`riskgrid.policy.check.check_objects` (the
policy library, as ``riskgrid policy check`` and ``tenant verify`` run it) over each tenant's
rendered bundle with the tenant's parameters,
:func:`riskgrid.threats.workflow.assess` and :func:`riskgrid.threats.report.build` (as
``riskgrid threats report``), :meth:`AuditLog.rows` and :func:`verify_database` (as
``riskgrid audit show`` / ``verify``).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low", "unknown")
AUDIT_PAGE = 200
THREAT_CACHE_SECONDS = 60.0


@lru_cache(maxsize=128)
def _violations(doc_json: str) -> tuple[tuple[str, str, str, str], ...]:
    """The policy library over the tenant's rendered bundle with the tenant's own policy
    parameters (its allowed registries…), exactly as tenant verification runs it."""
    from riskgrid.policy.check import check_objects
    from riskgrid.service import integrations
    from riskgrid.spec.tenant import Tenant
    from riskgrid.tenancy.verify import policy_config_for

    tenant = Tenant.model_validate(json.loads(doc_json))
    bundle = integrations.render(tenant)
    report = integrations.on_policy_thread(
        lambda: check_objects(bundle, config=policy_config_for(tenant))
    )
    out = [
        ((v.severity or "unknown").lower(), v.policy_id, v.message, v.object_ref)
        for v in report.violations
    ]
    out += [
        ("unknown", "input", e.message, f"{e.source}[{e.document}]")
        for e in report.errors
        if "still checked" not in e.message  # unknown kinds are still checked: not a problem
    ]
    return tuple(out)


def violations_by_tenant(specs: dict[str, dict[str, Any]]) -> dict[str, list[tuple]]:
    """Tenant → (severity, policy, message, object) of every policy violation in its bundle."""
    return {name: list(_violations(json.dumps(doc, sort_keys=True))) for name, doc in specs.items()}


def severity_counts(found: dict[str, list[tuple]]) -> dict[str, dict[str, int]]:
    return {
        name: {s: sum(1 for v in items if v[0] == s) for s in SEVERITIES}
        for name, items in found.items()
    }


@dataclass(frozen=True)
class ExceptionView:
    name: str
    policies: tuple[str, ...]
    expires: date
    days_left: int
    state: str  # "expired" | "expiring" (within the metrics' window) | "in-force"


def exception_views(records: list[Any], today: date) -> list[ExceptionView]:
    from riskgrid.threats.metrics import EXPIRY_WINDOW_DAYS

    out = []
    for r in sorted(records, key=lambda r: r.expires):
        left = (r.expires - today).days
        state = "expired" if left < 0 else "expiring" if left <= EXPIRY_WINDOW_DAYS else "in-force"
        out.append(ExceptionView(r.name, tuple(r.policies), r.expires, left, state))
    return out


class ThreatCache:
    """``assess`` + ``build`` takes seconds: kept for a minute per (model, evidence) state."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[tuple, float, dict[str, Any], list[Any]] | None = None

    def get(self, model_dir: Path, evidence: Path | None, today: date):
        from riskgrid.threats.workflow import assess

        ev = evidence if evidence is not None and evidence.exists() else None
        key = (str(model_dir), str(ev), ev.stat().st_mtime if ev else 0.0, today)
        with self._lock:
            if self._entry and self._entry[0] == key and time.monotonic() < self._entry[1]:
                return self._entry[2], self._entry[3]
            repo = model_dir.resolve().parent
            a = assess(model_dir, repo, evidence_path=ev, today=today, allow_dirty=True)
            doc = a.report()
            self._entry = (key, time.monotonic() + THREAT_CACHE_SECONDS, doc, list(a.exceptions))
            return doc, list(a.exceptions)


def today_utc() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    decision: str = ""
    tenant: str = ""

    def keep(self, row: Any) -> bool:
        return (
            (not self.actor or self.actor.lower() in (row.actor or "").lower())
            and (not self.action or row.action == self.action)
            and (not self.decision or row.decision == self.decision)
            and (not self.tenant or row.tenant == self.tenant)
        )


def audit_rows(svc: Any, flt: AuditFilter) -> tuple[list[dict[str, Any]], int, list[str]]:
    """(the newest matching records, newest first; how many matched; the actions seen)."""
    from riskgrid.service.audit import AuditLog

    rows = AuditLog(svc.db).rows()
    actions = sorted({r.action for r in rows})
    kept = [r for r in rows if flt.keep(r)]
    out = []
    for r in reversed(kept[-AUDIT_PAGE:]):
        try:
            detail = json.dumps(json.loads(r.detail), sort_keys=True)
        except ValueError:
            detail = r.detail
        out.append({
            "seq": r.seq, "ts": r.ts, "actor": r.actor, "tenant": r.tenant or "",
            "action": r.action, "object": r.object or "", "decision": r.decision,
            "detail": detail,
        })  # fmt: skip
    return out, len(kept), actions


def audit_verification(svc: Any) -> Any:
    """The chain check ``riskgrid audit verify`` runs, with the server's key and checkpoints."""
    from riskgrid.service.audit import CheckpointStore, load_public_key, verify_database

    settings = svc.settings
    key = load_public_key(settings.audit_key_path) if settings.audit_key_path.exists() else None
    cps = settings.audit_checkpoint_path
    return verify_database(
        svc.db, public_key=key, checkpoints=CheckpointStore(cps) if cps.exists() else None
    )

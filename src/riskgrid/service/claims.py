"""Exactly-once job claims across runner replicas: row locks, leases, fencing tokens.

A runner *claims* a job in one transaction: it locks the tenant row (so replicas count a
tenant's running jobs one at a time and never exceed its limit together), then locks the job
row with ``SELECT … FOR UPDATE SKIP LOCKED`` (a row another replica is claiming is skipped,
not waited for), checks it is still claimable — queued, or running under a lease that has
expired — and writes a fresh random **fencing token**, its runner id and a lease expiry.

While the job runs, a heartbeat renews the lease. Every later write about the job (progress,
the final state and the result files) is conditional on the token: after a lease expired and
another runner took the job over, the old runner's writes match no row, so it can neither
overwrite progress nor finish the job a second time. The final state is written while holding
the job row's lock, after the result files are stored, so a takeover cannot slip in between.

Time comes from the database's clock (PostgreSQL ``clock_timestamp()``), never from the
replicas', so clock skew between replicas cannot expire a live lease. SQLite has one writer
and one runner: there the local UTC clock is the database's clock.

Each claim is recorded in ``job_claims`` with how it ended (``succeeded``, ``failed``,
``cancelled``; ``expired`` when another runner took the job over, ``released`` on a clean
shutdown, ``fenced`` when a runner finished after losing its lease and was refused).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from riskgrid.service.db import Database, rowcount
from riskgrid.service.models import ClaimRow, JobRow, TenantRow, utcnow

#: Outcomes a claim can end with.
ENDINGS = ("succeeded", "failed", "cancelled", "expired", "released", "fenced")


@dataclass(frozen=True)
class Claim:
    """A runner's hold on one job; ``token`` fences every write it makes about the job."""

    job_id: str
    tenant: str
    token: str
    attempt: int


def _holds(claim: Claim) -> ColumnElement[bool]:
    """The job row still held by ``claim``: its fencing token, and still running."""
    return and_(
        JobRow.id == claim.job_id, JobRow.claim_token == claim.token, JobRow.state == "running"
    )


class ClaimStore:
    """Claims, lease renewal and fenced writes for one runner (``runner_id``)."""

    def __init__(self, db: Database, runner_id: str, lease_seconds: float) -> None:
        if lease_seconds <= 0:
            raise ValueError("lease seconds must be > 0")
        self.db = db
        self.runner_id = runner_id
        self.lease = timedelta(seconds=lease_seconds)

    # -- time ----------------------------------------------------------------------------------

    def now(self, s: Session) -> datetime:
        """The database's clock (the only clock leases are measured against)."""
        if self.db.dialect == "postgresql":
            value = s.scalar(select(func.clock_timestamp()))
            assert isinstance(value, datetime)
            return value
        return utcnow()

    @staticmethod
    def _claimable(now: datetime) -> Any:
        return or_(
            JobRow.state == "queued",
            and_(
                JobRow.state == "running",
                or_(JobRow.lease_expires_at.is_(None), JobRow.lease_expires_at < now),
            ),
        )

    # -- reading the queue ---------------------------------------------------------------------

    def candidates(self, s: Session, limit: int = 1000) -> list[tuple[str, str]]:
        """(job id, tenant) of claimable jobs, oldest first."""
        now = self.now(s)
        rows = s.execute(
            select(JobRow.id, JobRow.tenant)
            .where(self._claimable(now))
            .order_by(JobRow.submitted_at, JobRow.id)
            .limit(limit)
        )
        return [(r.id, r.tenant) for r in rows]

    def running_by_tenant(self, s: Session) -> dict[str, int]:
        """Jobs running under a live lease, per tenant (all replicas)."""
        now = self.now(s)
        rows = s.execute(
            select(JobRow.tenant, func.count())
            .where(JobRow.state == "running", JobRow.lease_expires_at >= now)
            .group_by(JobRow.tenant)
        )
        return {t: int(n) for t, n in rows.all()}

    # -- claiming ------------------------------------------------------------------------------

    def claim(self, s: Session, job_id: str, tenant: str, max_running: int) -> Claim | None:
        """Claim ``job_id`` in the caller's transaction, or None if it is taken or not allowed.

        Lock order is tenant row, then job row, in every replica (no deadlock).
        """
        s.execute(select(TenantRow.name).where(TenantRow.name == tenant).with_for_update())
        now = self.now(s)
        live = s.scalar(
            select(func.count())
            .select_from(JobRow)
            .where(
                JobRow.tenant == tenant,
                JobRow.state == "running",
                JobRow.lease_expires_at >= now,
            )
        )
        if (live or 0) >= max_running:
            return None
        row = s.scalars(
            select(JobRow)
            .where(JobRow.id == job_id, self._claimable(now))
            .with_for_update(skip_locked=True)
        ).one_or_none()
        if row is None:
            return None
        if row.state == "running" and row.claim_token:
            # the previous holder's lease ran out: its claim ends here, whatever it does next
            s.execute(
                update(ClaimRow)
                .where(ClaimRow.token == row.claim_token, ClaimRow.outcome == "running")
                .values(outcome="expired", ended_at=now)
            )
        token = uuid.uuid4().hex
        row.state = "running"
        row.claim_token = token
        row.claimed_by = self.runner_id
        row.lease_expires_at = now + self.lease
        row.attempts = (row.attempts or 0) + 1
        row.started_at = now
        s.add(
            ClaimRow(
                token=token,
                job_id=job_id,
                tenant=tenant,
                runner_id=self.runner_id,
                attempt=row.attempts,
                claimed_at=now,
                outcome="running",
            )
        )
        return Claim(job_id=job_id, tenant=tenant, token=token, attempt=row.attempts)

    def expire_own(self) -> int:
        """On start: this runner id's earlier claims belong to a dead process; free them now
        instead of waiting for their leases (the jobs resume from their checkpoints)."""
        with self.db.session() as s:
            now = self.now(s)
            res = s.execute(
                update(JobRow)
                .where(JobRow.state == "running", JobRow.claimed_by == self.runner_id)
                .values(lease_expires_at=now - timedelta(seconds=1))
            )
            return rowcount(res) or 0

    # -- while running -------------------------------------------------------------------------

    def renew(self, claims: list[Claim]) -> set[str]:
        """Extend the leases of ``claims``; returns the tokens that are no longer held."""
        lost: set[str] = set()
        if not claims:
            return lost
        with self.db.session() as s:
            now = self.now(s)
            for c in claims:
                n = rowcount(
                    s.execute(
                        update(JobRow).where(_holds(c)).values(lease_expires_at=now + self.lease)
                    )
                )
                if not n:
                    lost.add(c.token)
        return lost

    def update(self, claim: Claim, **values: Any) -> bool:
        """A fenced write (progress): applied only while ``claim`` still holds the job."""
        with self.db.session() as s:
            n = rowcount(
                s.execute(
                    update(JobRow)
                    .where(JobRow.id == claim.job_id, JobRow.claim_token == claim.token)
                    .values(**values)
                )
            )
        return bool(n)

    # -- ending --------------------------------------------------------------------------------

    def finish(
        self,
        claim: Claim,
        state: str,
        store_results: Callable[[], list[str]] | None = None,
        **values: Any,
    ) -> bool:
        """End the job as ``state`` if ``claim`` still holds it; False (and nothing written
        about the job) if another runner has taken it over.

        ``store_results`` runs while the job row is locked, before the state changes, so the
        files and the state land together or not at all.
        """
        if state not in ("succeeded", "failed", "cancelled"):
            raise ValueError(f"not a final state: {state}")
        with self.db.session() as s:
            row = s.scalars(select(JobRow).where(_holds(claim)).with_for_update()).one_or_none()
            if row is not None:
                now = self.now(s)
                names = store_results() if store_results is not None else []
                s.execute(
                    update(JobRow)
                    .where(JobRow.id == claim.job_id)
                    .values(
                        state=state,
                        finished_at=now,
                        claim_token=None,
                        lease_expires_at=None,
                        **({"result_files": names} if store_results is not None else {}),
                        **values,
                    )
                )
                self._end(s, claim, state, now)
                return True
        self._end_after_loss(claim)
        return False

    def release(self, claim: Claim) -> bool:
        """Clean shutdown: hand the job back to the queue at once (it resumes elsewhere)."""
        with self.db.session() as s:
            n = rowcount(
                s.execute(
                    update(JobRow)
                    .where(_holds(claim))
                    .values(state="queued", claim_token=None, lease_expires_at=None)
                )
            )
            if n:
                self._end(s, claim, "released", self.now(s))
        if not n:
            self._end_after_loss(claim)
        return bool(n)

    def _end(self, s: Session, claim: Claim, outcome: str, now: datetime) -> None:
        s.execute(
            update(ClaimRow)
            .where(ClaimRow.token == claim.token, ClaimRow.outcome == "running")
            .values(outcome=outcome, ended_at=now)
        )

    def _end_after_loss(self, claim: Claim) -> None:
        # Usually already 'expired' by whoever took over; if the job ended another way
        # (say, cancelled while queued again) the claim still gets an ending.
        with self.db.session() as s:
            self._end(s, claim, "fenced", self.now(s))


def claim_history(db: Database, job_id: str | None = None) -> list[ClaimRow]:
    """Every claim (of one job), oldest first: who ran what, and how it ended."""
    with db.session() as s:
        q = select(ClaimRow).order_by(ClaimRow.claimed_at, ClaimRow.token)
        if job_id is not None:
            q = q.where(ClaimRow.job_id == job_id)
        return list(s.scalars(q))

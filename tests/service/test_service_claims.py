"""Exactly-once job claims (service/claims.py) on SQLite and a real PostgreSQL.

Two claim stores with different runner ids stand for two replicas; the database decides.
The end-to-end version, with real `riskgrid serve` processes and a SIGKILL, is in
test_service_replicas.py.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from riskgrid.service.claims import ClaimStore, claim_history
from riskgrid.service.db import Database, migrate
from riskgrid.service.models import JobRow, TenantRow, utcnow


def _db_with_jobs(url: str, tenants: dict[str, int]) -> tuple[Database, list[str]]:
    db = Database(url)
    migrate(db.engine)
    ids: list[str] = []
    with db.session() as s:
        for tenant, n in tenants.items():
            now = utcnow()
            s.add(
                TenantRow(
                    name=tenant,
                    spec={},
                    generation=1,
                    created_at=now,
                    created_by="test",
                    updated_at=now,
                    updated_by="test",
                )
            )
            for i in range(n):
                job_id = f"{tenant}-{i:03d}"
                ids.append(job_id)
                s.add(
                    JobRow(
                        id=job_id,
                        tenant=tenant,
                        name=job_id,
                        state="queued",
                        submitted_by="test",
                        submitted_at=utcnow(),
                        inputs={},
                        tasks_total=0,
                        tasks_done=0,
                        tasks_failed=0,
                        tasks_retried=0,
                        tasks_resumed=0,
                        attempts=0,
                        cancel_requested=False,
                        result_files=[],
                    )
                )
    return db, ids


def test_concurrent_runners_claim_each_job_exactly_once(db_url: str):
    """Four 'replicas' race over 40 queued jobs of 4 tenants; no job is claimed twice."""
    db, ids = _db_with_jobs(db_url, {f"t{k}": 10 for k in range(4)})
    stores = [ClaimStore(db, f"runner-{k}", lease_seconds=60) for k in range(4)]
    won: dict[str, list[str]] = {s.runner_id: [] for s in stores}
    errors: list[BaseException] = []

    def race(store: ClaimStore) -> None:
        try:
            while True:
                with db.session() as s:
                    queue = store.candidates(s)
                    if not queue:
                        return
                    # every replica goes for the oldest job first: maximum contention
                    job_id, tenant = queue[0]
                    claim = store.claim(s, job_id, tenant, max_running=100)
                if claim is not None:
                    won[store.runner_id].append(claim.job_id)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(st,)) for st in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    claimed = [j for js in won.values() for j in js]
    assert sorted(claimed) == sorted(ids)  # every job once, none twice
    history = claim_history(db)
    assert Counter(c.job_id for c in history) == Counter({j: 1 for j in ids})
    with db.session() as s:
        rows = s.query(JobRow).all()
    assert {r.state for r in rows} == {"running"} and all(r.attempts == 1 for r in rows)
    db.dispose()


def test_tenant_limit_holds_across_runners(db_url: str):
    """Two replicas together never run more than the tenant's limit (the tenant row lock)."""
    db, _ = _db_with_jobs(db_url, {"desk": 5})
    a = ClaimStore(db, "a", lease_seconds=60)
    b = ClaimStore(db, "b", lease_seconds=60)
    got = []
    for store in (a, b, a, b):
        with db.session() as s:
            job_id, tenant = store.candidates(s)[0]
            got.append(store.claim(s, job_id, tenant, max_running=2))
    assert [c is not None for c in got] == [True, True, False, False]
    db.dispose()


def test_expired_lease_is_taken_over_and_the_old_holder_is_fenced(db_url: str):
    db, (job_id,) = _db_with_jobs(db_url, {"desk": 1})
    old = ClaimStore(db, "old", lease_seconds=0.5)
    new = ClaimStore(db, "new", lease_seconds=60)
    with db.session() as s:
        first = old.claim(s, job_id, "desk", max_running=1)
    assert first is not None
    with db.session() as s:  # lease still live: not claimable, and it counts for the limit
        assert new.candidates(s) == []
        assert new.claim(s, job_id, "desk", max_running=5) is None
    assert old.renew([first]) == set()
    time.sleep(0.7)  # the old runner stops renewing (it hangs, or is partitioned away)
    with db.session() as s:
        second = new.claim(s, job_id, "desk", max_running=1)
    assert second is not None and second.token != first.token and second.attempt == 2
    # the old runner wakes up: every write it makes is refused
    assert old.renew([first]) == {first.token}
    assert not old.update(first, tasks_done=99)
    assert not old.finish(first, "succeeded", store_results=lambda: ["stale.json"])
    assert new.update(second, tasks_done=3)
    stored: list[str] = []
    assert new.finish(second, "succeeded", store_results=lambda: stored or ["result.json"])
    with db.session() as s:
        row = s.get(JobRow, job_id)
        assert row is not None
        assert (row.state, row.tasks_done, row.result_files) == ("succeeded", 3, ["result.json"])
        assert row.claim_token is None and row.attempts == 2
    outcomes = [(c.runner_id, c.outcome) for c in claim_history(db, job_id)]
    assert outcomes == [("old", "expired"), ("new", "succeeded")]
    db.dispose()


def test_restarted_runner_frees_its_own_claims_at_once(db_url: str):
    db, (job_id,) = _db_with_jobs(db_url, {"desk": 1})
    before = ClaimStore(db, "replica-0", lease_seconds=3600)
    with db.session() as s:
        assert before.claim(s, job_id, "desk", max_running=1) is not None
    other = ClaimStore(db, "replica-1", lease_seconds=60)
    assert other.expire_own() == 0  # someone else's claim is left to its lease
    with db.session() as s:
        assert other.candidates(s) == []
    after = ClaimStore(db, "replica-0", lease_seconds=60)  # same id: the process restarted
    assert after.expire_own() == 1
    with db.session() as s:
        again = after.claim(s, job_id, "desk", max_running=1)
    assert again is not None and again.attempt == 2
    db.dispose()


def test_finish_refuses_a_non_final_state(db_url: str):
    db, (job_id,) = _db_with_jobs(db_url, {"desk": 1})
    store = ClaimStore(db, "r", lease_seconds=60)
    with db.session() as s:
        claim = store.claim(s, job_id, "desk", max_running=1)
    assert claim is not None
    with pytest.raises(ValueError, match="not a final state: queued"):
        store.finish(claim, "queued")
    db.dispose()

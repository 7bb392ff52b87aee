"""Submission verdicts by content: the same job over the same files for the same tenant spec is
loaded and admitted once.

A verdict (the loader's problems, or the job's name and the policy violations) is a function of
the stamped job document, the bytes of its files and the tenant's spec — the policy library is
fixed for the life of the process. The key is the SHA-256 of those in canonical JSON, with the
files by their SHA-256, so a desk resubmitting a job over the same 1.4 MB of market data costs a
hash of a small document and a lookup, not an upload, a parse and a policy evaluation.
Bounded (least recently used out); per process.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any


def verdict_key(
    tenant_spec: dict[str, Any], job_doc: dict[str, Any], digests: dict[str, str]
) -> str:
    doc = {"tenant": tenant_spec, "job": job_doc, "files": digests}
    return hashlib.sha256(_canonical(doc)).hexdigest()


def _canonical(doc: dict[str, Any]) -> bytes:
    """Sorted-key JSON bytes, tagged by encoder so the two forms never collide. orjson (~10x
    faster) is used unless it could lose a distinction: it writes NaN and infinities as
    ``null`` (so any ``null`` in its output sends the document to the standard library) and
    refuses integers beyond 64 bits (also sent there)."""
    import orjson

    try:
        fast = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    except (orjson.JSONEncodeError, TypeError):
        fast = b"null"
    if b"null" not in fast:
        return b"o" + fast
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return b"j" + text.encode()


class VerdictCache:
    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[Any, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> tuple[Any, ...] | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: str, value: tuple[Any, ...]) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

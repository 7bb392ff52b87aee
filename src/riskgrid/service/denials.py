"""Repeated denials become one audit record with a count, not one record each.

The first denial of a kind (same actor, same key: client address and reason, say) in a window
is written at once, so an alert sees it immediately; further ones in the window are counted in
memory and written as a single summary record (``detail.count``, first and last request id)
when the window closes, on the next denial after it, on the periodic flush, or at shutdown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from riskgrid.service.audit import AuditEvent, AuditLog


@dataclass
class _Window:
    opened: float
    actor: str
    action: str
    detail: dict[str, Any]
    count: int = 0
    first_request: str = ""
    last_request: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class DenialAggregator:
    def __init__(
        self,
        audit: AuditLog,
        *,
        window_seconds: float = 60.0,
        max_windows: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.audit = audit
        self.window = window_seconds
        self.max_windows = max_windows
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[tuple[Hashable, ...], _Window] = {}

    def record(
        self,
        *,
        actor: str,
        action: str,
        request_id: str,
        key: tuple[Hashable, ...],
        detail: dict[str, Any],
    ) -> bool:
        """Count one denial; returns whether it was written now (the first in its window)."""
        now = self._clock()
        full_key = (actor, action, *key)
        due = self._take_due(now)
        with self._lock:
            win = self._open.get(full_key)
            if win is None and len(self._open) < self.max_windows:
                self._open[full_key] = _Window(now, actor, action, dict(detail))
                first = True
            else:
                first = False
                if win is not None:
                    win.count += 1
                    win.first_request = win.first_request or request_id
                    win.last_request = request_id
        for w in due:
            self._write_summary(w)
        if first:
            self.audit.append(
                AuditEvent(
                    actor=actor,
                    action=action,
                    decision="deny",
                    request_id=request_id,
                    detail={**detail, "count": 1},
                )
            )
        elif win is None:  # too many distinct windows: never drop the record
            self.audit.append(
                AuditEvent(actor, action, "deny", request_id, detail={**detail, "count": 1})
            )
        return first

    def _take_due(self, now: float, everything: bool = False) -> list[_Window]:
        with self._lock:
            keys = [k for k, w in self._open.items() if everything or now - w.opened >= self.window]
            return [self._open.pop(k) for k in keys]

    def _write_summary(self, w: _Window) -> None:
        if w.count == 0:
            return
        self.audit.append(
            AuditEvent(
                actor=w.actor,
                action=w.action,
                decision="deny",
                request_id=w.last_request,
                detail={
                    **w.detail,
                    "count": w.count,
                    "aggregated": True,
                    "window_seconds": self.window,
                    "first_request_id": w.first_request,
                },
            )
        )

    def flush(self, everything: bool = False) -> int:
        """Write the summaries of closed windows (all windows at shutdown); returns how many."""
        due = self._take_due(self._clock(), everything)
        for w in due:
            self._write_summary(w)
        return sum(1 for w in due if w.count)

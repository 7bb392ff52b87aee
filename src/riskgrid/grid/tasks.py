"""The unit of grid work: a block of positions × a block of scenarios, with a stable key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TaskKind = Literal["pnl", "pos", "paths"]


@dataclass(frozen=True, slots=True)
class Task:
    """One task of a plan.

    ``pnl`` tasks revalue positions ``[row_start, row_stop)`` under scenarios
    ``[col_start, col_stop)``; ``pos`` tasks compute base PV (and Greeks, when asked) of
    positions ``[row_start, row_stop)`` and ignore the columns. The key depends only on the
    kind and the bounds, so the same plan always gives the same keys (checkpoints, fault
    injection and keyed random streams rely on that).
    """

    kind: TaskKind
    row_start: int
    row_stop: int
    col_start: int = 0
    col_stop: int = 0

    @property
    def key(self) -> str:
        if self.kind == "pos":
            return f"pos-r{self.row_start}-{self.row_stop}"
        if self.kind == "paths":  # exposure: Monte Carlo paths [row_start, row_stop)
            return f"paths-{self.row_start}-{self.row_stop}"
        return f"pnl-r{self.row_start}-{self.row_stop}-c{self.col_start}-{self.col_stop}"

    @property
    def rows(self) -> slice:
        return slice(self.row_start, self.row_stop)

    @property
    def cols(self) -> slice:
        return slice(self.col_start, self.col_stop)

    @property
    def elements(self) -> int:
        """Positions × scenarios for ``pnl``; positions for ``pos``."""
        n_rows = self.row_stop - self.row_start
        if self.kind == "pos":
            return n_rows
        return n_rows * (self.col_stop - self.col_start)

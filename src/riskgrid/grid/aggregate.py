"""Streaming aggregation: task blocks → group scenario vectors, VaR/ES, contributors, Greeks.

The driver never holds the positions × scenarios P&L matrix. What it keeps while tasks run:

- one scenario vector per group of every grouping, plus the portfolio's: O(S × groups);
- per-position base PV and Greeks (from the cheap ``pos`` tasks): O(P × (1 + Greeks)), the
  same order as the book the driver already holds;
- a bounded reorder buffer of blocks that arrived ahead of their turn (see below).

Every block also goes to its on-disk shard (:mod:`riskgrid.grid.shards`); component VaR/ES and
the top contributors are computed at the end from the shards, reading only the VaR and ES-tail
scenario columns.

Determinism (bit-identical whatever the engine, worker count, block sizes, completion order,
retries or checkpoint resume): every group vector is the *sequential* sum of its positions' P&L
rows in position order, ``((r₀ + r₁) + r₂) + …`` — the order ``pnl[mask].sum(axis=0)`` uses on
a C-ordered matrix. Blocks are folded into the vectors in row order per column block: a block
that arrives early waits in the reorder buffer until every block above it has been folded —
tracked per scenario column, so row bands may cut their columns differently
(``np.add.accumulate`` along the rows is sequential by definition, so the fold's result does not
depend on how the rows were cut into blocks). When the buffer exceeds its byte limit, waiting
blocks are dropped from memory and re-read from their shards when their turn comes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from riskgrid.grid.shards import ShardStore
from riskgrid.grid.tasks import Task
from riskgrid.risk import measures as rm
from riskgrid.risk.portfolio import Portfolio
from riskgrid.risk.theta import ROLL_CONVENTION

#: Greeks that add up across underlyings (base currency); the others only by underlying.
#: ``theta`` is there only when the job sets a theta horizon.
ADDITIVE_GREEKS = ("delta_cash", "gamma_cash", "vega", "rho", "theta")
UNIT_GREEKS = ("delta", "gamma")
#: Default bytes of early blocks kept in memory before they are re-read from their shards.
DEFAULT_REORDER_BYTES = 256 * 2**20


class IncompleteResult(RuntimeError):
    """Aggregation was asked for before every task had delivered."""


def conf_key(c: float) -> str:
    return repr(float(c))


def measures_of(
    pnl: np.ndarray,
    pv: float,
    var_levels: Sequence[float],
    es_levels: Sequence[float],
    n: int,
    convention: str = "quantile",
) -> dict:
    return {
        "pv": float(pv),
        "var": {conf_key(c): rm.var(pnl, c, convention) for c in var_levels},
        "es": {conf_key(c): rm.es(pnl, c, convention) for c in es_levels},
        "positions": n,
    }


def fold_rows(acc: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``acc + rows[0] + rows[1] + …``, added strictly in row order (any block cut agrees)."""
    if rows.shape[0] == 0:
        return acc
    stacked = np.concatenate((acc[None, :], rows), axis=0)
    return np.add.accumulate(stacked, axis=0)[-1]


@dataclass
class _Grouping:
    labels: list[str]
    codes: np.ndarray  # (P,) index into labels
    vectors: np.ndarray  # (groups, S)


@dataclass
class _Waiting:
    key: Task
    block: np.ndarray | None  # None: dropped from memory, re-read from the shard


@dataclass
class Assembly:
    """Collects task results in the driver, in O(S × groups) memory (see module docstring)."""

    portfolio: Portfolio
    n_scenarios: int
    group_by: Sequence[str]
    greeks: bool
    shards: ShardStore
    reorder_bytes: int = DEFAULT_REORDER_BYTES
    portfolio_pnl: np.ndarray = field(init=False)
    pv: np.ndarray = field(init=False)
    greek_values: dict[str, np.ndarray] = field(init=False, default_factory=dict)
    done: set[str] = field(init=False, default_factory=set)
    groupings: dict[str, _Grouping] = field(init=False, default_factory=dict)
    #: per scenario column: the next position row to fold (blocks fold in row order)
    _next_row: np.ndarray = field(init=False)
    #: blocks that arrived early, by their first row
    _waiting: dict[int, list[_Waiting]] = field(init=False, default_factory=dict)
    _buffered: int = field(init=False, default=0)
    peak_buffered: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        n = self.portfolio.n
        self.portfolio_pnl = np.zeros(self.n_scenarios, dtype=np.float64)
        self._next_row = np.zeros(self.n_scenarios, dtype=np.int64)
        self.pv = np.zeros(n, dtype=np.float64)
        for key in self.group_by:
            labels, codes = np.unique(self.portfolio.groups[key], return_inverse=True)
            self.groupings[key] = _Grouping(
                [str(x) for x in labels.tolist()],
                codes.astype(np.int32),
                np.zeros((len(labels), self.n_scenarios), dtype=np.float64),
            )

    @property
    def n_positions(self) -> int:
        return self.portfolio.n

    def place(self, task: Task, value: Mapping[str, np.ndarray]) -> None:
        """Take one task's result (its shard must already be saved)."""
        if task.key in self.done:
            return  # a duplicate (speculative copy, replayed checkpoint): same numbers
        self.done.add(task.key)
        if task.kind == "pos":
            self.pv[task.rows] = value["pv"]
            for name, arr in value.items():
                if name != "pv":
                    if name not in self.greek_values:
                        self.greek_values[name] = np.zeros(self.n_positions, dtype=np.float64)
                    self.greek_values[name][task.rows] = arr
            return
        if not self._ready(task):
            block = np.asarray(value["pnl"])
            waiting = _Waiting(task, block)
            if self._buffered + block.nbytes > self.reorder_bytes:
                waiting.block = None
            else:
                self._buffered += block.nbytes
                self.peak_buffered = max(self.peak_buffered, self._buffered)
            self._waiting.setdefault(task.row_start, []).append(waiting)
            return
        self._fold(task, np.asarray(value["pnl"]))
        self._drain(task.row_stop)

    def _ready(self, task: Task) -> bool:
        """Whether every column of the block has been folded up to the block's first row.

        Plans may cut columns differently in different row bands (a heavy Monte Carlo row
        split across tasks by scenario range), so readiness is tracked per column."""
        return bool(np.all(self._next_row[task.col_start : task.col_stop] == task.row_start))

    def _drain(self, row: int) -> None:
        """Fold waiting blocks that became ready (those starting at ``row``, then onwards)."""
        rows = [row]
        while rows:
            start = rows.pop()
            waiting = self._waiting.get(start)
            if not waiting:
                continue
            for w in [w for w in waiting if self._ready(w.key)]:
                waiting.remove(w)
                if w.block is None:
                    loaded = self.shards.load(w.key)
                    if loaded is None:
                        raise IncompleteResult(f"shard of {w.key.key} vanished before aggregation")
                    block = loaded["pnl"]
                else:
                    block = w.block
                    self._buffered -= block.nbytes
                self._fold(w.key, block)
                rows.append(w.key.row_stop)
            if not waiting:
                del self._waiting[start]

    def _fold(self, task: Task, block: np.ndarray) -> None:
        cols = task.cols
        self.portfolio_pnl[cols] = fold_rows(self.portfolio_pnl[cols], block)
        for g in self.groupings.values():
            codes = g.codes[task.rows]
            first, last = codes[0], codes[-1]
            if first == last and (codes == first).all():  # books sorted by group: no gather
                g.vectors[first, cols] = fold_rows(g.vectors[first, cols], block)
                continue
            for code in np.unique(codes):
                g.vectors[code, cols] = fold_rows(g.vectors[code, cols], block[codes == code])
        self._next_row[task.col_start : task.col_stop] = task.row_stop

    def check_complete(self, tasks: Sequence[Task]) -> None:
        missing = [t.key for t in tasks if t.key not in self.done]
        if missing:
            raise IncompleteResult(f"{len(missing)} task(s) missing, e.g. {missing[0]}")
        stuck = sum(len(w) for w in self._waiting.values())
        if stuck:
            raise IncompleteResult(f"{stuck} block(s) never folded: the plan does not tile")


@dataclass
class Aggregates:
    """Everything the result and the Parquet files need."""

    portfolio: dict
    portfolio_pnl: np.ndarray
    groups: dict[str, dict[str, dict]]
    group_pnl: dict[str, dict[str, np.ndarray]]
    top: dict | None
    greeks: dict[str, dict[str, dict[str, float]]]
    #: (n_positions,) theta per position, base currency (None without a theta horizon)
    theta: np.ndarray | None = None


def _greek_sums(
    values: Mapping[str, np.ndarray], mask: np.ndarray | None, names: Sequence[str]
) -> dict[str, float]:
    return {
        n: float(values[n].sum() if mask is None else values[n][mask].sum())
        for n in names
        if n in values
    }


def aggregate(
    asm: Assembly,
    tasks: Sequence[Task],
    *,
    var_levels: Sequence[float],
    es_levels: Sequence[float],
    top_n: int,
    convention: str = "quantile",
) -> Aggregates:
    """Measures from the folded vectors; component VaR/ES from the shards."""
    port_pnl = asm.portfolio_pnl
    port = measures_of(port_pnl, asm.pv.sum(), var_levels, es_levels, asm.n_positions, convention)
    groups: dict[str, dict[str, dict]] = {}
    group_pnl: dict[str, dict[str, np.ndarray]] = {}
    greeks: dict[str, dict[str, dict[str, float]]] = {}
    if asm.greek_values:
        greeks["total"] = {"total": _greek_sums(asm.greek_values, None, ADDITIVE_GREEKS)}
    for key, g in asm.groupings.items():
        groups[key], group_pnl[key], per_greeks = {}, {}, {}
        for code, label in enumerate(g.labels):
            mask = g.codes == code
            vec = g.vectors[code]
            group_pnl[key][label] = vec
            groups[key][label] = measures_of(
                vec, asm.pv[mask].sum(), var_levels, es_levels, int(mask.sum()), convention
            )
            if asm.greek_values:
                names = ADDITIVE_GREEKS + (UNIT_GREEKS if key == "underlying" else ())
                per_greeks[label] = _greek_sums(asm.greek_values, mask, names)
        if asm.greek_values:
            greeks[key] = per_greeks
    top = None
    if top_n > 0 and var_levels:
        top = _top_contributors(asm, tasks, port, var_levels[0], es_levels, top_n, convention)
    theta = asm.greek_values.get("theta")
    return Aggregates(port, port_pnl, groups, group_pnl, top, greeks, theta)


def component_from_shards(asm: Assembly, tasks: Sequence[Task], weights: np.ndarray) -> np.ndarray:
    r"""(P,) :math:`-\sum_k w_k \mathrm{PnL}_{ik}` over the scenarios where ``w`` is non-zero.

    Reads only those scenario columns of each shard. The sum runs over the scenarios in index
    order, one elementwise step each, so it does not depend on how rows or columns were cut.
    """
    needed = np.flatnonzero(weights)
    out = np.zeros(asm.n_positions, dtype=np.float64)
    by_rows: dict[tuple[int, int], list[Task]] = {}
    for t in tasks:
        if t.kind == "pnl":
            by_rows.setdefault((t.row_start, t.row_stop), []).append(t)
    for (r0, r1), row_tasks in by_rows.items():
        sub = np.empty((r1 - r0, needed.size), dtype=np.float64)
        for t in row_tasks:
            inside = (needed >= t.col_start) & (needed < t.col_stop)
            if inside.any():
                sub[:, inside] = asm.shards.read_scenarios(t, needed[inside].tolist())
        acc = np.zeros(r1 - r0, dtype=np.float64)
        for j, k in enumerate(needed.tolist()):
            acc = acc + sub[:, j] * weights[k]
        out[r0:r1] = -acc
    return out


def _top_contributors(
    asm: Assembly,
    tasks: Sequence[Task],
    port: dict,
    c: float,
    es_levels: Sequence[float],
    top_n: int,
    convention: str,
) -> dict:
    port_pnl = asm.portfolio_pnl
    # the VaR scenario's weight (1), or the two bracketing scenarios' under ``linear``
    cvar = component_from_shards(asm, tasks, rm.var_weights(port_pnl, c, convention))
    ces = None
    if es_levels:
        w = rm.tail_weights(port_pnl, es_levels[0], convention)
        ces = component_from_shards(asm, tasks, w)
    total_var = port["var"][conf_key(c)]
    order = np.argsort(-cvar, kind="stable")[:top_n]
    groups = asm.portfolio.groups
    return {
        "confidence": conf_key(c),
        "positions": [
            {
                "id": str(asm.portfolio.ids[i]),
                "componentVar": float(cvar[i]),
                "share": float(cvar[i] / total_var) if total_var != 0 else 0.0,
                "componentEs": None if ces is None else float(ces[i]),
                "groups": {key: str(v[i]) for key, v in sorted(groups.items())},
            }
            for i in order
        ],
    }


def theta_report(agg: Aggregates, portfolio: Portfolio, horizon_days: int) -> dict | None:
    """result.json's ``theta`` section (None without a theta horizon); sums are in ``greeks``."""
    if horizon_days <= 0 or agg.theta is None:
        return None
    return {
        "horizonDays": horizon_days,
        "roll": ROLL_CONVENTION,
        "total": float(agg.theta.sum()),
        "positions": {str(i): float(v) for i, v in zip(portfolio.ids, agg.theta, strict=True)},
    }

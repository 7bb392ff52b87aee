"""What the job page shows, read from the job's own result files.

Every number is taken from ``result.json`` as the grid wrote it (the same document
``GET /v1/jobs/{id}/result`` and ``riskgrid run`` return); the tail scenarios are the ones
:func:`riskgrid.risk.measures.tail_weights` and :func:`~riskgrid.risk.measures.var_scenario`
pick from the stored portfolio P&L vector — the functions the grid computed VaR/ES with.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

PORTFOLIO_PNL = "pnl_portfolio.parquet"
_DATED = re.compile(r"^(?:hs|mc)?:?(\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True)
class TailRow:
    scenario: str
    date: str  # the historical date the scenario replays, or "" (stress, Monte Carlo)
    pnl: float
    weight: float  # its weight in the ES (0 < w ≤ 1)
    is_var: bool  # the scenario whose loss is the VaR


@dataclass(frozen=True)
class Tail:
    es_confidence: str
    var_confidence: str | None
    rows: list[TailRow]


def read_pnl(parquet: bytes) -> tuple[list[str], np.ndarray]:
    """(scenario labels, portfolio P&L) from ``pnl_portfolio.parquet``."""
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(parquet))
    return [str(s) for s in table.column("scenario").to_pylist()], np.asarray(
        table.column("pnl").to_numpy(), dtype=float
    )


def scenario_date(label: str) -> str:
    m = _DATED.match(label)
    return m.group(1) if m else ""


def tails(result: dict[str, Any], labels: list[str], pnl: np.ndarray) -> list[Tail]:
    """For each ES confidence: the scenarios in the tail, worst first."""
    from riskgrid.risk.measures import tail_weights, var_scenario

    convention = result.get("convention") or "quantile"
    var_levels = list((result.get("portfolio") or {}).get("var") or {})
    out = []
    for conf in (result.get("portfolio") or {}).get("es") or {}:
        w = tail_weights(pnl, float(conf), convention)
        var_conf = var_levels[0] if var_levels else None
        var_idx = var_scenario(pnl, float(var_conf), convention) if var_conf else -1
        picked = [i for i in np.argsort(pnl, kind="stable") if w[i] > 0]
        rows = [
            TailRow(labels[i], scenario_date(labels[i]), float(pnl[i]), float(w[i]), i == var_idx)
            for i in picked
        ]
        out.append(Tail(conf, var_conf, rows))
    return out


def group_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (grouping, group): PV, VaR and ES at each confidence, positions."""
    rows = [{"grouping": "portfolio", "group": "total", **(result.get("portfolio") or {})}]
    for grouping, groups in (result.get("groups") or {}).items():
        for name, m in groups.items():
            rows.append({"grouping": grouping, "group": name, **m})
    return rows


def greek_rows(result: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """(greek names, rows of grouping/group/values) from ``result.greeks``."""
    greeks = result.get("greeks") or {}
    names: list[str] = []
    rows = []
    for grouping, groups in greeks.items():
        for name, values in (groups or {}).items():
            for k in values or {}:
                if k not in names:
                    names.append(k)
            rows.append({"grouping": grouping, "group": name, "vals": values or {}})
    return names, rows


def histogram_svg(result: dict[str, Any], pnl: np.ndarray) -> bytes:
    """The portfolio P&L histogram with a line at −VaR and −ES for each confidence (matplotlib,
    SVG; imported only when a chart is asked for)."""
    from matplotlib.figure import Figure  # no pyplot: no global state shared between threads

    base = result.get("baseCurrency") or ""
    fig = Figure(figsize=(8, 3.6))
    ax = fig.subplots()
    bins = max(10, min(60, int(np.sqrt(max(pnl.size, 1))) * 2))
    ax.hist(pnl, bins=bins, color="#4a6fa5", edgecolor="white", label="scenarios")
    portfolio = result.get("portfolio") or {}
    styles = [("VaR", portfolio.get("var") or {}, "#b00020", "-"),
              ("ES", portfolio.get("es") or {}, "#7a4a00", "--")]  # fmt: skip
    for label, levels, colour, dash in styles:
        for conf, value in levels.items():
            ax.axvline(-float(value), color=colour, linestyle=dash, linewidth=1.6,
                       label=f"−{label} {float(conf):.1%}: {-float(value):,.0f}")  # fmt: skip
    ax.set_xlabel(f"portfolio P&L ({base})")
    ax.set_ylabel("scenarios")
    ax.set_title(f"{result.get('job', '')}: P&L over {pnl.size} scenarios")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="svg")
    return buf.getvalue()

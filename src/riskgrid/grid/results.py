"""The results directory of a completed run, written atomically.

Layout::

    result.json                Result (see ``riskgrid schema Result``)
    pnl_portfolio.parquet      scenario, pnl — the portfolio P&L vector
    pnl_<grouping>.parquet     scenario + one column per group (desk, book, underlying…)
    pnl_positions.parquet      id + one column per scenario (only when positions × scenarios
                               is at most ``positions_limit`` elements)
    theta_positions.parquet    id, theta — only when the job sets a theta horizon
    positions.parquet          id, pv, pv_se — each position's PV and its Monte Carlo
                               standard error (0 for closed forms); jobs with exotics only

Everything is written into a hidden sibling temp directory first and renamed into place at the
end, replacing an older results directory only then. A run that fails or is cancelled writes
nothing, so a directory with a ``result.json`` always holds a complete answer.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from riskgrid.grid import arrow
from riskgrid.grid.aggregate import Aggregates
from riskgrid.risk.portfolio import Portfolio
from riskgrid.spec.result import Result

RESULT_FILE = "result.json"
POSITIONS_LIMIT = 2_000_000


def _write_table(path: Path, columns: dict[str, np.ndarray | Sequence[str]]) -> None:
    # Dictionary encoding only for the label columns: P&L floats almost never repeat, so the
    # writer would build a dictionary per column only to fall back to plain encoding — half the
    # write time of the 505-column positions file, and a larger file (see D-#14.12).
    labels = [name for name, values in columns.items() if not isinstance(values, np.ndarray)]
    arrow.write(path, columns, compression="zstd", use_dictionary=labels)


def _column_names(labels: Sequence[str]) -> list[str]:
    """Scenario labels as column names, made unique (``label#2``) if they repeat."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        n = seen.get(label, 0) + 1
        seen[label] = n
        out.append(label if n == 1 else f"{label}#{n}")
    return out


def output_names(
    group_keys: Sequence[str],
    n_positions: int,
    n_scenarios: int,
    positions_limit: int,
    with_pv_table: bool = False,
    theta: bool = False,
) -> dict[str, str]:
    names = {"result": RESULT_FILE, "portfolioPnl": "pnl_portfolio.parquet"}
    for key in group_keys:
        names[f"{key}Pnl"] = f"pnl_{key}.parquet"
    if n_positions * n_scenarios <= positions_limit:
        names["positionsPnl"] = "pnl_positions.parquet"
    if theta:
        names["thetaPositions"] = "theta_positions.parquet"
    if with_pv_table:
        names["positionsPv"] = "positions.parquet"
    return names


def write_results(
    out_dir: str | Path,
    result: Result,
    agg: Aggregates,
    pnl: np.ndarray | Callable[[], np.ndarray],
    portfolio: Portfolio,
    scenario_labels: Sequence[str],
    pv: np.ndarray | None = None,
    pv_se: np.ndarray | None = None,
) -> Path:
    """Write the directory (see module docstring); return its path.

    ``pnl`` is the positions × scenarios matrix or a function that loads it (from the run's
    shards); it is only used, and only loaded, for ``pnl_positions.parquet``."""
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    # mkdtemp makes the directory private (0700); the results are as readable as any file the
    # user writes, so apply the umask like mkdir would.
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    try:
        labels = list(scenario_labels)
        _write_table(tmp / "pnl_portfolio.parquet", {"scenario": labels, "pnl": agg.portfolio_pnl})
        for key, vectors in agg.group_pnl.items():
            cols: dict[str, np.ndarray | Sequence[str]] = {"scenario": labels}
            cols.update(vectors)
            _write_table(tmp / f"pnl_{key}.parquet", cols)
        if "positionsPnl" in result.outputs:
            matrix = pnl() if callable(pnl) else pnl
            cols = {"id": [str(i) for i in portfolio.ids]}
            cols.update(zip(_column_names(labels), matrix.T, strict=True))
            _write_table(tmp / result.outputs["positionsPnl"], cols)
        if "thetaPositions" in result.outputs and agg.theta is not None:
            ids = [str(i) for i in portfolio.ids]
            _write_table(tmp / result.outputs["thetaPositions"], {"id": ids, "theta": agg.theta})
        if "positionsPv" in result.outputs:
            _write_table(
                tmp / result.outputs["positionsPv"],
                {
                    "id": [str(i) for i in portfolio.ids],
                    "pv": pv if pv is not None else np.zeros(portfolio.n),
                    "pv_se": pv_se if pv_se is not None else np.zeros(portfolio.n),
                },
            )
        body = result.model_dump_json(by_alias=True, indent=2, exclude_none=False)
        (tmp / RESULT_FILE).write_text(body + "\n", encoding="utf-8")
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _swap_into_place(tmp: Path, out: Path) -> None:
    if not out.exists():
        os.replace(tmp, out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    os.replace(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def read_result(out_dir: str | Path) -> Result:
    text = (Path(out_dir) / RESULT_FILE).read_text(encoding="utf-8")
    return Result.model_validate(json.loads(text))

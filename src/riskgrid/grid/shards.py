"""Per-task result shards on disk: where the positions × scenarios P&L lives during a run.

Each finished task's arrays go to ``<root>/<task key>.parquet`` as they arrive (temp file +
rename, so a shard on disk is always whole):

- a ``pnl`` task (positions ``r0:r1`` × scenarios ``c0:c1``) → one float64 column per scenario,
  named ``s<j>`` by the scenario's index in the job, one row per position. Reading a few
  scenarios of every position (component VaR/ES) reads only those columns.
- a ``pos`` task → one column per array it returned (``pv``, Greeks), one row per position.

Shards are uncompressed, without dictionary encoding or statistics: P&L numbers don't
compress, and the shards are read back once or twice. The driver never needs all of them in
memory at once; :meth:`ShardStore.load_matrix` builds the full matrix only on request (tests,
notebooks, the small-book ``pnl_positions.parquet``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from riskgrid.grid.tasks import Task


def scenario_column(j: int) -> str:
    return f"s{j}"


class ShardStore:
    """A directory of task shards (see the module docstring).

    ``durable`` fsyncs each shard before the rename (checkpoints: a shard that exists survives
    a crash); a run's private work directory skips that cost.
    """

    def __init__(self, root: str | Path, *, durable: bool = False):
        self.root = Path(root)
        self.durable = durable
        self.bytes_written = 0

    def path(self, key: str) -> Path:
        return self.root / f"{key}.parquet"

    def keys(self) -> set[str]:
        if not self.root.exists():
            return set()
        return {p.name.removesuffix(".parquet") for p in self.root.glob("*.parquet")}

    def save(self, task: Task, value: Mapping[str, np.ndarray]) -> None:
        from riskgrid.grid import arrow

        columns: dict[str, np.ndarray]
        if task.kind == "pnl":
            block = np.asarray(value["pnl"], dtype=np.float64)
            cols = np.ascontiguousarray(block.T)  # one contiguous array per scenario
            names = [scenario_column(j) for j in range(task.col_start, task.col_stop)]
            columns = dict(zip(names, cols, strict=True))
        else:
            columns = {k: np.asarray(v) for k, v in value.items()}
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.path(task.key)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{final.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                arrow.write(
                    fh,
                    columns,
                    compression="none",
                    use_dictionary=False,
                    write_statistics=False,
                )
                fh.flush()
                if self.durable:
                    os.fsync(fh.fileno())
                self.bytes_written += fh.tell()
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, task: Task) -> dict[str, np.ndarray] | None:
        """The arrays a task returned, or None when its shard is missing or damaged."""
        from riskgrid.grid import arrow

        path = self.path(task.key)
        if not path.exists():
            return None
        try:
            table = arrow.read(path)
        except (OSError, ValueError):
            return None  # a damaged shard is recomputed, not trusted
        if task.kind == "pnl":
            names = [scenario_column(j) for j in range(task.col_start, task.col_stop)]
            n_rows = task.row_stop - task.row_start
            if table.column_names != names or table.num_rows != n_rows:
                return None
            return {"pnl": _matrix(table, names)}
        return {name: arrow.to_numpy(table.column(name)) for name in table.column_names}

    def read_scenarios(self, task: Task, scenarios: Sequence[int]) -> np.ndarray:
        """(rows of ``task``, len(scenarios)) P&L of a ``pnl`` shard, for scenarios it holds."""
        from riskgrid.grid import arrow

        names = [scenario_column(j) for j in scenarios]
        return _matrix(arrow.read(self.path(task.key), columns=names), names)

    def load_matrix(self, tasks: Iterable[Task], n_positions: int, n_scenarios: int) -> np.ndarray:
        """The full positions × scenarios matrix, assembled from the ``pnl`` shards."""
        out = np.empty((n_positions, n_scenarios), dtype=np.float64)
        for t in tasks:
            if t.kind == "pnl":
                block = self.load(t)
                if block is None:
                    raise FileNotFoundError(f"{self.path(t.key)}: shard missing or damaged")
                out[t.rows, t.cols] = block["pnl"]
        return out

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.glob("*.parquet"))


class MemoryShardStore(ShardStore):
    """Shards held in the driver's memory, for a run in process without a checkpoint.

    Such a job is small by construction (cheaper than starting a worker), nothing else reads
    its shards, and a Parquet round trip per task (write, then read back for component VaR/ES
    and ``pnl_positions.parquet``) costs the demo ≈ 0.1 s. The arrays are kept as the file
    round trip would return them: float64 P&L blocks, read-only copies, so numbers are the same
    bit for bit.
    """

    def __init__(self) -> None:
        super().__init__("<memory>")
        self._blocks: dict[str, dict[str, np.ndarray]] = {}

    def keys(self) -> set[str]:
        return set(self._blocks)

    def save(self, task: Task, value: Mapping[str, np.ndarray]) -> None:
        if task.kind == "pnl":
            kept = {"pnl": np.array(value["pnl"], dtype=np.float64)}
        else:
            kept = {k: np.array(v) for k, v in value.items()}
        for arr in kept.values():
            arr.flags.writeable = False
            self.bytes_written += arr.nbytes
        self._blocks[task.key] = kept

    def load(self, task: Task) -> dict[str, np.ndarray] | None:
        saved = self._blocks.get(task.key)
        return dict(saved) if saved is not None else None

    def read_scenarios(self, task: Task, scenarios: Sequence[int]) -> np.ndarray:
        block = self._blocks[task.key]["pnl"]
        return block[:, [j - task.col_start for j in scenarios]]

    def size_bytes(self) -> int:
        return sum(a.nbytes for v in self._blocks.values() for a in v.values())


def _matrix(table: Any, names: Sequence[str]) -> np.ndarray:
    from riskgrid.grid import arrow

    cols = [arrow.to_numpy(table.column(n)) for n in names]
    if not cols:
        return np.empty((table.num_rows, 0))
    return np.stack(cols, axis=1)

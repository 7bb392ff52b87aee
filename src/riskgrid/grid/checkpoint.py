"""Per-task checkpoints, so that a restarted job loads finished tasks instead of recomputing.

Layout of a checkpoint directory::

    manifest.json              job fingerprint (input hashes) + the plan's block sizes
    tasks/<task key>.parquet   the task's shard (:mod:`riskgrid.grid.shards`), fsynced + renamed

The shards *are* the run's streaming output: a checkpointed run writes each task's shard here
instead of into a private work directory, so checkpointing costs one fsync per task.

The manifest pins the plan: a restart reuses the recorded block sizes (a fresh calibration
could choose others, and keys would no longer match). A checkpoint written for different
inputs is refused rather than silently mixed in.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from riskgrid.grid.shards import ShardStore
from riskgrid.spec.errors import RiskgridError

MANIFEST = "manifest.json"
FORMAT = 2  # 1: .npz per task; 2: Parquet shards


class CheckpointMismatch(RiskgridError):
    """The checkpoint directory belongs to another job or inputs."""


def _atomic_write(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class CheckpointStore:
    """A directory of finished task results for one job (see module docstring)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.tasks_dir = self.root / "tasks"

    def open(self, fingerprint: str, plan: Mapping[str, Any]) -> dict[str, Any]:
        """Create or reopen the store; return the plan to use (the recorded one on reopen)."""
        self.tasks_dir.mkdir(parents=True, exist_ok=True)
        path = self.root / MANIFEST
        if path.exists():
            try:
                manifest = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise CheckpointMismatch(f"{path}: unreadable checkpoint manifest: {exc}") from None
            if manifest.get("format") != FORMAT:
                raise CheckpointMismatch(
                    f"{path}: checkpoint format {manifest.get('format')!r}, this riskgrid "
                    f"reads format {FORMAT} (Parquet shards); use an empty checkpoint directory"
                )
            if manifest.get("fingerprint") != fingerprint:
                raise CheckpointMismatch(
                    f"{path}: checkpoint belongs to other inputs "
                    f"(fingerprint {str(manifest.get('fingerprint'))[:12]}…, "
                    f"this job {fingerprint[:12]}…); use an empty checkpoint directory"
                )
            return dict(manifest["plan"])
        body = {"format": FORMAT, "fingerprint": fingerprint, "plan": dict(plan)}
        data = json.dumps(body, indent=2, sort_keys=True).encode()
        _atomic_write(path, lambda fh: fh.write(data))
        return dict(plan)

    def shards(self) -> ShardStore:
        """The store of finished tasks (durable: fsynced before each rename)."""
        return ShardStore(self.tasks_dir, durable=True)

    def completed(self) -> set[str]:
        return self.shards().keys()

    # Runs whose tasks return arrays rather than P&L shards (exposure path blocks).
    def save_arrays(self, key: str, arrays: Mapping[str, np.ndarray]) -> None:
        # allow_pickle as np.savez's default, named so that ``**arrays`` cannot be mistaken for it
        _atomic_write(
            self.tasks_dir / f"{key}.npz", lambda fh: np.savez(fh, allow_pickle=True, **arrays)
        )

    def load_arrays(self, key: str) -> dict[str, np.ndarray] | None:
        path = self.tasks_dir / f"{key}.npz"
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError):
            return None  # a damaged file is recomputed, not trusted

"""NumPy ↔ Arrow for the grid's Parquet files, without importing pandas.

``pyarrow.array``, ``pyarrow.table`` over Python objects, ``pyarrow.parquet.read_table`` and
``Array.to_numpy`` all consult pyarrow's pandas shim, which imports pandas when it is installed:
≈ 0.2–0.4 s of a short run's wall time for nothing, since the grid only ever moves flat float64,
int64 and string columns. These helpers build and read such columns from their buffers directly
(zero-copy for numbers) and fall back to pyarrow's general path for anything else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

_FIXED = {np.dtype(np.float64): pa.float64(), np.dtype(np.int64): pa.int64()}
_NUMPY = {pa.float64(): np.dtype(np.float64), pa.int64(): np.dtype(np.int64)}


def column(values: np.ndarray | Sequence[str]) -> pa.Array:
    """An Arrow array of float64/int64 NumPy data (zero-copy) or of strings."""
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype in _FIXED:
        data = np.ascontiguousarray(values)
        return pa.Array.from_buffers(_FIXED[data.dtype], len(data), [None, pa.py_buffer(data)])
    if not isinstance(values, np.ndarray) and all(isinstance(v, str) for v in values):
        encoded = [v.encode("utf-8") for v in values]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
        big = offsets[-1] > np.iinfo(np.int32).max
        kind = pa.large_string() if big else pa.string()
        off = offsets if big else offsets.astype(np.int32)
        return pa.Array.from_buffers(
            kind, len(encoded), [None, pa.py_buffer(off), pa.py_buffer(b"".join(encoded))]
        )
    return pa.array(values)  # anything else: pyarrow's general conversion


def table(columns: Mapping[str, np.ndarray | Sequence[str]]) -> pa.Table:
    """A table from named columns (see :func:`column`)."""
    return pa.Table.from_arrays([column(v) for v in columns.values()], names=list(columns))


def write(target: str | Path | IO[bytes], columns: Mapping[str, Any], **options: Any) -> None:
    """Write named columns as one Parquet file (``options`` go to ``pq.write_table``)."""
    pq.write_table(table(columns), target, **options)


def read(path: str | Path, columns: Sequence[str] | None = None) -> pa.Table:
    """Read a Parquet file (or some of its columns), ignoring pandas metadata."""
    return pq.ParquetFile(path).read(
        columns=list(columns) if columns is not None else None, use_pandas_metadata=False
    )


def to_numpy(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A float64/int64 column without nulls as a read-only NumPy view; others via pyarrow."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    dtype = _NUMPY.get(arr.type)
    if dtype is None or arr.null_count:
        return np.asarray(arr.to_numpy(zero_copy_only=False))
    data = arr.buffers()[1]
    if data is None:  # an empty array may carry no data buffer
        return np.empty(0, dtype=dtype)
    return np.frombuffer(data, dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize)

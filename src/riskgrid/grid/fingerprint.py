"""Content hashes of job inputs (sha256), for reproducibility and checkpoint matching.

The hash is of the *content* (arrays with dtype and shape, dataclass fields, pydantic models
as JSON), so the same inputs give the same hash wherever their files live.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel


def _feed(h: Any, obj: Any) -> None:
    if isinstance(obj, np.ndarray):
        h.update(f"nd:{obj.dtype.str}:{obj.shape}:".encode())
        if obj.dtype.kind == "O":
            for item in obj.ravel().tolist():
                _feed(h, item)
        else:  # numbers and fixed-width strings: the dtype above fixes how bytes map to items
            h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, BaseModel):
        h.update(b"model:" + type(obj).__name__.encode())
        h.update(obj.model_dump_json(by_alias=True).encode())
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        h.update(b"dc:" + type(obj).__name__.encode())
        for f in dataclasses.fields(obj):
            h.update(f"|{f.name}=".encode())
            _feed(h, getattr(obj, f.name))
    elif isinstance(obj, Mapping):
        h.update(b"map{")
        for k in sorted(obj, key=repr):
            _feed(h, k)
            h.update(b":")
            _feed(h, obj[k])
        h.update(b"}")
    elif isinstance(obj, list | tuple):
        h.update(f"seq{len(obj)}[".encode())
        for item in obj:
            _feed(h, item)
            h.update(b",")
        h.update(b"]")
    elif isinstance(obj, str | int | float | bool | type(None) | dt.date | np.generic):
        h.update(f"{type(obj).__name__}:{obj!r};".encode())
    else:
        raise TypeError(f"cannot hash {type(obj).__name__}")


def content_hash(obj: Any) -> str:
    """Hex sha256 of ``obj``'s content (see module docstring)."""
    h = hashlib.sha256()
    _feed(h, obj)
    return h.hexdigest()


def input_hashes(inputs: Any) -> dict[str, str]:
    """sha256 of the job spec, portfolio, market data and scenarios, and of all four."""
    parts = {
        "job": content_hash(inputs.job),
        "portfolio": content_hash(inputs.portfolio),
        "market": content_hash(inputs.market),
        "scenarios": content_hash(inputs.scenarios),
    }
    parts["fingerprint"] = content_hash(parts)
    return parts

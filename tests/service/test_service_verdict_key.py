"""The verdict cache's key: documents that could be judged differently never share a key."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from riskgrid.service.verdicts import verdict_key

TENANT = {"metadata": {"name": "t0"}, "spec": {"costCentre": "cc-1"}}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"x": float("nan")}, {"x": None}),  # orjson writes NaN as null
        ({"x": float("inf")}, {"x": None}),
        ({"x": 10**30}, {"x": 10**30 + 1}),  # beyond 64 bits: the standard library's encoder
        ({"x": 1}, {"x": 1.5}),
        ({"x": "a"}, {"x": ["a"]}),
    ],
    ids=["nan_null", "inf_null", "bigint", "int_float", "str_list"],
)
def test_distinct_documents_distinct_keys(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert verdict_key(TENANT, a, {}) != verdict_key(TENANT, b, {})


def test_key_ignores_order_and_follows_every_part() -> None:
    job = {"b": 1, "a": {"d": 2, "c": datetime.date(2026, 11, 20)}}
    reordered = {"a": {"c": datetime.date(2026, 11, 20), "d": 2}, "b": 1}
    files = {"f/2": "b" * 64, "f/1": "a" * 64}
    key = verdict_key(TENANT, job, files)
    assert key == verdict_key(TENANT, reordered, dict(reversed(list(files.items()))))
    assert key != verdict_key(TENANT, job, {**files, "f/1": "c" * 64})
    assert key != verdict_key({**TENANT, "spec": {"costCentre": "cc-2"}}, job, files)
    assert len(key) == 64

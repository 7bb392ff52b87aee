"""Exact arithmetic on Kubernetes quantities, and formatting results back to canonical text."""

from __future__ import annotations

from decimal import Decimal

from riskgrid.spec.tenant import parse_quantity

_BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))


def add(*values: str | int | float | None) -> Decimal:
    """Sum of quantities; ``None`` counts as zero."""
    return sum((parse_quantity(v) for v in values if v is not None), Decimal(0))


def cpu(value: Decimal) -> str:
    """CPU cores as ``"4"`` or, for fractions, millicores ``"1500m"``."""
    if value == value.to_integral_value():
        return str(int(value))
    return f"{int((value * 1000).to_integral_value())}m"


def memory(value: Decimal) -> str:
    """Bytes with the largest binary suffix that divides them exactly (``"16Gi"``)."""
    whole = int(value.to_integral_value())
    for suffix, size in _BINARY:
        if whole and whole % size == 0:
            return f"{whole // size}{suffix}"
    return str(whole)


def count(value: Decimal) -> str:
    """An integer quantity (GPUs, pods)."""
    return str(int(value.to_integral_value()))


def canonical(value: str | int | float | None, kind: str) -> str | None:
    """Re-format a quantity from a spec in the canonical form for ``kind`` (cpu/memory/count).

    Specs give quantities as YAML strings or numbers (``4``, ``0.5``), as
    :func:`~riskgrid.spec.tenant.parse_quantity` accepts."""
    if value is None:
        return None
    d = parse_quantity(value)
    return {"cpu": cpu, "memory": memory, "count": count}[kind](d)

"""The CI gate: fail on any verification that did not pass, or a metric outside its floor.

Pure: it compares numbers. Floors live in ``threatmodel/floors.yaml`` and are set at what the
model achieves; a floor is raised when the model improves and never lowered to make CI pass.
"""

from __future__ import annotations

from typing import Any

from riskgrid.threats.evidence import Evidence
from riskgrid.threats.model import Floors


def mutation_failures(mutation: dict[str, dict[str, Any]]) -> list[str]:
    """A sampled control whose tests still pass with its code's body removed is not exercised
    by them. Only fresh results count (their source and test files are unchanged)."""
    return [
        f"{cid}: its tests pass with {r['function']} removed ({r['file']}:{r['line']})"
        for cid, rec in sorted(mutation.items())
        if rec.get("fresh")
        for r in rec.get("results", [])
        if r["operator"] == "body" and r["outcome"] == "survived"
    ]


def gate_failures(
    headline: dict[str, float],
    evidence: Evidence,
    floors: Floors,
    mutation: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    """Reasons the gate fails; empty when it passes."""
    out = mutation_failures(mutation or {})
    out += [
        f"verification {r.ref} of {r.control}: {r.outcome} ({r.node_id})"
        for r in evidence.verifications
        if r.outcome != "passed"
    ]
    for name, floor in floors.floors.items():
        if name not in headline:
            out.append(f"floors.yaml names unknown metric {name!r}")
            continue
        value = headline[name]
        if floor.min is not None and value < floor.min:
            out.append(f"{name} = {value} is below its floor {floor.min}")
        if floor.max is not None and value > floor.max:
            out.append(f"{name} = {value} is above its ceiling {floor.max}")
    return out

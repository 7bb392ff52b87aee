"""The CI gate: fail on any verification that did not pass, or a metric outside its floor.

Pure: it compares numbers. Floors live in ``threatmodel/floors.yaml`` and are set at what the
model achieves; a floor is raised when the model improves and never lowered to make CI pass.
"""

from __future__ import annotations

from riskgrid.threats.evidence import Evidence
from riskgrid.threats.model import Floors


def gate_failures(headline: dict[str, float], evidence: Evidence, floors: Floors) -> list[str]:
    """Reasons the gate fails; empty when it passes."""
    out = [
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

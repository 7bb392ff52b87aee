"""``CapacityDay``: a day of desk submissions to simulate against a ``CapacityPlan``.

Each desk submits groups of identical jobs (a job = a RiskJob's shape: positions × scenarios,
Greeks or not) at seeded-random times inside an arrival window, each as one Kueue workload of
``cores`` cores with a WorkloadPriorityClass. Times are ``HH:MM`` on the day's clock.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from riskgrid.spec.base import DnsLabel, Finite, Resource, Strict
from riskgrid.spec.loading import load_resource

_CLOCK = re.compile(r"^([0-9]{1,2}):([0-5][0-9])$")


def clock_seconds(text: str) -> int:
    """``"18:30"`` → 66600 seconds after midnight; hours up to 47 (the next day)."""
    m = _CLOCK.match(text)
    if not m or int(m.group(1)) > 47:
        raise ValueError(f"{text!r} is not a time HH:MM (00:00 to 47:59)")
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60


def _clock(v: str) -> str:
    clock_seconds(v)
    return v


Clock = Annotated[str, AfterValidator(_clock)]


class Window(Strict):
    start: Clock = Field(alias="from")
    end: Clock = Field(alias="to")

    @model_validator(mode="after")
    def _order(self) -> Window:
        if clock_seconds(self.end) < clock_seconds(self.start):
            raise ValueError(f"to ({self.end}) is before from ({self.start})")
        return self


class JobGroup(Strict):
    """``count`` identical jobs arriving uniformly at random inside ``arrivals``."""

    name: DnsLabel
    priority_class: DnsLabel = Field(alias="priorityClass")
    count: int = Field(ge=1, le=1_000_000)
    arrivals: Window
    positions: int = Field(ge=1, le=100_000_000)
    scenarios: int = Field(ge=1, le=1_000_000)
    greeks: bool = True
    cores: int = Field(ge=1, le=1_000_000, description="Cores the job's workload requests.")
    deadline: bool = Field(
        default=True, description="Whether these jobs count towards the desk's deadline."
    )


class DayDesk(Strict):
    name: DnsLabel
    deadline: Clock
    jobs: list[JobGroup] = Field(min_length=1)


class CostModelSpec(Strict):
    """Seconds per P&L element and per position (the grid planner's cost model)."""

    per_element_seconds: Annotated[Finite, Field(gt=0, lt=1)] = Field(alias="perElementSeconds")
    per_position_seconds: Annotated[Finite, Field(gt=0, lt=10)] = Field(alias="perPositionSeconds")
    source: str = Field(default="", description="Where the figures were measured.")


class CapacityDaySpec(Strict):
    platform: str = Field(description="CapacityPlan YAML, relative to this file.")
    seed: int = Field(default=0, ge=0)
    task_seconds: Annotated[Finite, Field(gt=0, le=3600)] = Field(
        default=20.0,
        alias="taskSeconds",
        description="Seconds per task the grid planner cuts jobs into (retry granularity).",
    )
    cost_model: CostModelSpec = Field(alias="costModel")
    desks: list[DayDesk] = Field(min_length=1)
    mode: Literal["both", "burst", "onPremises"] = "both"


class CapacityDay(Resource):
    kind: Literal["CapacityDay"]
    spec: CapacityDaySpec


def load_day(path: str | Path) -> CapacityDay:
    return load_resource(path, CapacityDay)

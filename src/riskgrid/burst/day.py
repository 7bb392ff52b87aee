"""A ``CapacityDay`` → jobs → the simulation, on-premises only and with bursting, side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from riskgrid.burst.simulate import Job, Outcome, Settings, Simulation, cohort_for
from riskgrid.burst.sizing import job_size
from riskgrid.grid.planner import CostModel
from riskgrid.spec.capacity import CapacityPlan, load_capacity_plan
from riskgrid.spec.capacity_day import CapacityDay, clock_seconds, load_day
from riskgrid.spec.errors import Problem, SpecError


def _duration(text: str) -> float:
    """Karpenter durations as the plan writes them: ``300s``, ``5m``, ``1h30m``, ``Never``."""
    if text == "Never":
        return float("inf")
    total, num = 0.0, ""
    for ch in text:
        if ch.isdigit():
            num += ch
        else:
            total += int(num or 0) * {"s": 1, "m": 60, "h": 3600}[ch]
            num = ""
    return total


def build_jobs(day: CapacityDay, plan: CapacityPlan, source: str) -> list[Job]:
    """Every job of the day, with seeded arrival times; bad references name their field."""
    s = day.spec
    cost = CostModel(
        per_element=s.cost_model.per_element_seconds,
        per_position=s.cost_model.per_position_seconds,
        measured=True,
    )
    priorities = plan.priorities
    rng = np.random.default_rng(s.seed)
    problems: list[Problem] = []
    jobs: list[Job] = []
    cohort, _ = cohort_for(plan, burst=True)
    for i, d in enumerate(s.desks):
        try:
            desk = plan.desk(d.name)
        except KeyError as exc:
            problems.append(Problem(source, ("spec", "desks", i, "name"), str(exc.args[0])))
            continue
        deadline = clock_seconds(d.deadline)
        for j, g in enumerate(d.jobs):
            where = ("spec", "desks", i, "jobs", j)
            if g.priority_class not in desk.priority_classes:
                problems.append(
                    Problem(
                        source,
                        (*where, "priorityClass"),
                        f"desk {d.name!r} may not use {g.priority_class!r} (the plan grants "
                        f"{', '.join(desk.priority_classes)})",
                    )
                )
                continue
            most = max(cohort.most(d.name, f) for f in cohort.flavors)
            if g.cores > most:
                problems.append(
                    Problem(
                        source,
                        (*where, "cores"),
                        f"{g.cores} cores can never be admitted: desk {d.name!r} may use at "
                        f"most {most} cores in any one flavor",
                    )
                )
                continue
            size = job_size(
                g.positions, g.scenarios, cost, greeks=g.greeks, task_seconds=s.task_seconds
            )
            t0, t1 = clock_seconds(g.arrivals.start), clock_seconds(g.arrivals.end)
            times = np.sort(rng.uniform(t0, t1, g.count)) if t1 > t0 else np.full(g.count, t0)
            for t in times:
                jobs.append(
                    Job(
                        key=len(jobs),
                        desk=d.name,
                        group=f"{d.name}/{g.name}",
                        priority=priorities[g.priority_class],
                        arrival=float(round(t, 3)),
                        cores=g.cores,
                        core_seconds=size.core_seconds,
                        deadline=float(deadline) if g.deadline else None,
                    )
                )
    if problems:
        raise SpecError(problems)
    return jobs


def check_prices(plan: CapacityPlan, source: str, *, burst: bool) -> None:
    """Every flavor the simulation may use needs a price."""
    _, flavors = cohort_for(plan, burst=burst)
    missing = [f for f in flavors if f not in plan.spec.prices.per_core_hour]
    if missing:
        raise SpecError(
            Problem(
                source,
                ("spec", "prices", "perCoreHour", f),
                f"no price for flavor {f!r}, which the simulation uses",
            )
            for f in missing
        )


def settings_for(day: CapacityDay, plan: CapacityPlan) -> Settings:
    k = plan.spec.karpenter
    after = {}
    for f in plan.spec.flavors:
        pool = plan.node_pool_for(f.name) if f.kind != "reserved" else None
        after[f.name] = _duration(pool.consolidate_after) if pool else 0.0
    return Settings(
        provisioning=(k.provisioning.min_seconds, k.provisioning.max_seconds),
        spot_rate_per_node_second=k.spot_interruptions_per_node_hour / 3600.0,
        notice_seconds=k.interruption_notice_seconds,
        consolidate_after=after,
        task_seconds=day.spec.task_seconds,
        seed=day.spec.seed,
    )


def simulate_day(
    day: CapacityDay, plan: CapacityPlan, *, day_source: str, plan_source: str
) -> dict[str, Outcome]:
    """Run the modes the day asks for (``both``: on-premises only, then burst)."""
    jobs = build_jobs(day, plan, day_source)
    deadlines = {d.name: float(clock_seconds(d.deadline)) for d in day.spec.desks}
    modes = {"both": ("onPremises", "burst"), "burst": ("burst",), "onPremises": ("onPremises",)}
    out: dict[str, Outcome] = {}
    settings = settings_for(day, plan)
    for mode in modes[day.spec.mode]:
        burst = mode == "burst"
        check_prices(plan, plan_source, burst=burst)
        sim = Simulation(plan, jobs, settings, burst=burst, desk_deadlines=deadlines)
        out[mode] = sim.run()
    return out


def load_and_simulate(path: str | Path) -> tuple[CapacityDay, dict[str, Outcome]]:
    path = Path(path)
    day = load_day(path)
    plan_path = path.parent / day.spec.platform
    if not plan_path.is_file():
        raise SpecError.one(
            str(path), f"platform file {str(plan_path)!r} not found", ("spec", "platform")
        )
    plan = load_capacity_plan(plan_path)
    return day, simulate_day(day, plan, day_source=str(path), plan_source=str(plan_path))


def summary(day: CapacityDay, outcomes: dict[str, Outcome]) -> dict[str, Any]:
    """The ``--json`` document: ``onPremises`` and/or ``burst``, each from :meth:`to_dict`."""
    jobs = sum(g.count for d in day.spec.desks for g in d.jobs)
    out: dict[str, Any] = {"day": day.metadata.name, "jobs": jobs, "tasks": tasks_of(day)}
    for mode, o in outcomes.items():
        out[mode] = o.to_dict()
    return out


def tasks_of(day: CapacityDay) -> int:
    cost = CostModel(
        per_element=day.spec.cost_model.per_element_seconds,
        per_position=day.spec.cost_model.per_position_seconds,
    )
    n = 0
    for d in day.spec.desks:
        for g in d.jobs:
            size = job_size(
                g.positions, g.scenarios, cost, greeks=g.greeks, task_seconds=day.spec.task_seconds
            )
            n += size.tasks * g.count
    return n

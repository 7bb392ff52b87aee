"""What ``riskgrid burst plan|simulate`` print: the plan for one job, a day side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from riskgrid.burst.planner import plan_burst
from riskgrid.burst.sizing import calibrate_job, job_size
from riskgrid.spec.capacity import load_capacity_plan
from riskgrid.spec.capacity_day import clock_seconds
from riskgrid.spec.errors import SpecError


def _clock_option(text: str, option: str, source: str) -> int:
    try:
        return clock_seconds(text)
    except ValueError as exc:
        raise SpecError.one(source, str(exc), (option,)) from None


def burst_plan_for_job(
    job: str | Path,
    platform: str | Path,
    *,
    deadline: str,
    start: str,
    desk: str | None = None,
    copies: int = 1,
) -> dict[str, Any]:
    """Calibrate the job's cost model, size it and plan the capacity that meets ``deadline``."""
    source = str(job)
    t_deadline = _clock_option(deadline, "--deadline", source)
    t_start = _clock_option(start, "--now", source)
    if t_deadline <= t_start:
        raise SpecError.one(
            source, f"{deadline} is already past (now {start}); give a later time", ("--deadline",)
        )
    plan = load_capacity_plan(platform)
    name = desk or plan.spec.desks[0].name
    try:
        plan.desk(name)
    except KeyError as exc:
        raise SpecError.one(str(platform), str(exc.args[0]), ("--desk",)) from None
    inputs, calibration = calibrate_job(job)
    task_seconds = float(inputs.job.spec.grid.target_task_seconds)
    size = job_size(
        inputs.portfolio.n,
        inputs.scenarios.n,
        calibration.cost,
        greeks=bool(inputs.measures.greeks),
        task_seconds=task_seconds,
    )
    bp = plan_burst(
        plan,
        name,
        size.core_seconds * copies,
        start=t_start,
        deadline=t_deadline,
        plan_source=str(platform),
    )
    return {
        "job": source,
        "copies": copies,
        "calibration": calibration.to_dict(),
        "size": size.to_dict(),
        "plan": bp.to_dict(),
    }


def format_plan(result: dict[str, Any]) -> str:
    c, s, p = result["calibration"], result["size"], result["plan"]
    lines = [
        f"job: {result['job']}  ({s['positions']} positions × {s['scenarios']} scenarios"
        f"{', Greeks' if s['greeks'] else ''}, × {result['copies']})",
        f"calibration: {c['perElementSeconds']:.3g} s/element, {c['perPositionSeconds']:.3g} "
        f"s/position (measured on {c['samplePositions']} positions × {c['sampleScenarios']} "
        f"scenarios in {c['calibrationSeconds']} s)",
        f"work: {p['coreSeconds']:.6g} core-seconds, {s['tasks'] * result['copies']} tasks",
        f"desk {p['desk']}: start {p['start']}, deadline {p['deadline']}",
    ]
    for sh in p["shares"]:
        nodes = f", {sh['nodes']} nodes" if sh["nodes"] else ""
        lines.append(
            f"  {sh['role']:<9} {sh['flavor']:<18} {sh['cores']:>7} cores{nodes}"
            f"  (from +{sh['startsAfterSeconds']:.0f} s)"
        )
    verdict = "met" if p["deadlineMet"] else "MISSED"
    lines.append(
        f"finish: {p['finish'] or 'never'}  deadline {verdict}  cost {p['cost']:.2f} "
        f"{p['currency']}"
    )
    return "\n".join(lines)


def format_simulation(result: dict[str, Any]) -> str:
    lines = [f"day: {result['day']}  ({result['jobs']} jobs, {result['tasks']} tasks)"]
    modes = [m for m in ("onPremises", "burst") if m in result]
    header = f"{'desk':<14}" + "".join(f"{m + ' finish':>22}{'p99 wait':>10}" for m in modes)
    lines.append(header)
    for desk in result[modes[0]]["desks"]:
        row = f"{desk:<14}"
        for m in modes:
            d = result[m]["desks"][desk]
            mark = "ok" if d["deadlineMet"] else "MISSED"
            wait = d["queueWaitP99Seconds"]
            row += f"{(d['finishedAt'] or 'never') + ' ' + mark:>22}"
            row += f"{'-' if wait is None else f'{wait:.0f}s':>10}"
        lines.append(row)
    for m in modes:
        r = result[m]
        lines.append(
            f"{m}: cost {r['costTotal']:.2f} {r['currency']}, peak {r['peakCores']} cores, "
            f"utilisation {r['utilisation']:.0%}, {r['preemptions']} preemptions, "
            f"{r['interruptions']} spot interruptions"
        )
    return "\n".join(lines)

"""Per-policy A/B of two versions of the Rego library, policy bodies only.

    .venv/bin/python benchmarks/ab_policy_bodies.py --old DIR [--new DIR] [--objects 10000]
        [--rounds 7] [--only RG-PSS-007,...]

``ab_rego.py --only`` times a policy together with the normalisation of every object (~35 µs
per object, the same on both sides), so a change worth 2 µs per *workload* moves its ratio by
~1%, inside the noise. This script takes normalisation out: the corpus is normalised once (by
the old library's ``lib/``), and each policy is timed alone on those normalised objects
(``norms := input.norms``, as ``bench_policy.py``'s cost table does), old and new alternately,
round after round. Per policy: min and median CPU µs per object the policy applies to (the
driver's per-object loop and the call included), the ratio of the minima, and whether the
two sides' violations are identical (exit 1 if not). The ratio is the figure to trust.

Both sides normalise with the old ``lib/``: this compares policy bodies, not normalisation.
Run it pinned (``taskset -c 0``) and say the load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from ab_rego import HERE_REGO, modules_of
from bench_policy import corpus
from riskgrid.policy.config import default_config, resolved_params
from riskgrid.policy.engine import NORMS_RULE, Dispatch, PolicyKey, driver_module
from riskgrid.policy.library import load_library


def engine(modules: dict[str, str], driver: str) -> Any:
    import regorus

    e = regorus.Engine()
    for path, source in modules.items():
        e.add_policy(path, source)
    e.add_policy("driver.rego", driver)
    return e


def normalised(old: Path, key: tuple[PolicyKey, ...], payload: dict[str, Any]) -> Any:
    """The corpus as the old library normalises it (JSON, ready to be the new input)."""
    e = engine(modules_of(old), driver_module(key))
    e.set_input(payload)
    return json.loads(e.eval_rule_as_json("data.riskgrid.batch.norms"))


def time_policy(
    entry: PolicyKey, sides: dict[str, Path], payload: dict[str, Any], rounds: int
) -> tuple[dict[str, list[float]], bool]:
    """CPU µs per applicable object of each side over the rounds, and identical verdicts."""
    driver = driver_module((entry,)).replace(NORMS_RULE, "norms := input.norms")
    engines = {side: engine(modules_of(path), driver) for side, path in sides.items()}
    n = max(len(payload["by_policy"].get(entry[0], [])), 1)
    found = {}
    for side, e in engines.items():
        e.set_input(payload)
        found[side] = sorted(
            map(json.dumps, json.loads(e.eval_rule_as_json("data.riskgrid.batch.results")))
        )
    cpu: dict[str, list[float]] = {side: [] for side in engines}
    for _ in range(rounds):
        for side, e in engines.items():
            t0 = time.process_time()
            e.eval_rule_as_json("data.riskgrid.batch.results")
            cpu[side].append((time.process_time() - t0) * 1e6 / n)
    return cpu, found["old"] == found["new"]


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--old", required=True, type=Path)
    ap.add_argument("--new", type=Path, default=HERE_REGO)
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--only", default="", help="comma-separated policy ids")
    args = ap.parse_args()

    library = load_library()
    params = resolved_params(default_config(), library)
    key = library.engine_key()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {k[0] for k in key}
        if unknown:
            raise SystemExit(f"error: --only: unknown policy ids {sorted(unknown)}")
        key = tuple(k for k in key if k[0] in wanted)
    objs = corpus(args.objects)
    by_policy = Dispatch(key).by_policy(objs)
    raw = {"objects": objs, "params": params, "by_policy": by_policy}
    payload = {"norms": normalised(args.old, key, raw), "params": params, "by_policy": by_policy}

    with open("/proc/loadavg", encoding="ascii") as fh:
        load = fh.read().split()[:3]
    print(f"corpus {len(objs)} objects, {len(key)} policies, {args.rounds} rounds, load {load}")
    print("CPU µs per object the policy applies to (policy body, driver loop and call; no")
    print("normalisation): old min/median, new min/median, new/old of the minima")
    sides = {"old": args.old, "new": args.new}
    differ, totals = [], {"old": 0.0, "new": 0.0}
    for entry in key:
        cpu, same = time_policy(entry, sides, payload, args.rounds)
        n = len(by_policy.get(entry[0], []))
        if not n:
            continue
        for side in totals:
            totals[side] += min(cpu[side]) * n / len(objs)
        print(
            f"{entry[0]:12s} {n:6d} objects  old {min(cpu['old']):6.2f} "
            f"{statistics.median(cpu['old']):6.2f}  new {min(cpu['new']):6.2f} "
            f"{statistics.median(cpu['new']):6.2f}  {min(cpu['new']) / min(cpu['old']):.3f}"
            f"{'' if same else '  DIFFERENT verdicts'}"
        )
        if not same:
            differ.append(entry[0])
    print(
        f"sum over these policies, µs per corpus object: old {totals['old']:.1f} "
        f"new {totals['new']:.1f} ({totals['new'] / max(totals['old'], 1e-9):.3f})"
    )
    if differ:
        print("DIFFERENT verdicts:", ", ".join(differ))
        return 1
    print("verdicts identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())

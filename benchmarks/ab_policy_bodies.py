"""A/B timing of policy bodies alone: two versions of the Rego library, normalisation left out.

    .venv/bin/python benchmarks/ab_policy_bodies.py --old DIR [--new DIR] --only RG-IMG-001,...
        [--objects 10000] [--rounds 7]

``ab_rego.py --only`` times a policy together with the normalisation of every object, which
costs ~35-45 µs per object while one policy's body costs 1-5: a 20% cheaper body moves that
figure by about the noise. This script normalises the corpus once per side (with that side's
``lib``; both normalisations must be identical, else it exits 1), then times only
``violations(w, params)`` of each named policy over the normalised objects it applies to,
old and new alternately, round after round. Per policy: min and median CPU µs per object it
applies to (each query's rule overhead included on both sides alike), the ratio of the
minima, and whether the violations are identical (exit 1 naming the policy if not).

Run it pinned (``taskset -c 0``) and say the load.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from ab_rego import ab_parser, default_setup, modules_of
from bench_policy import corpus
from riskgrid.policy.engine import LIB_PACKAGE, Dispatch

HARNESS = "riskgrid_ab"


def harness(slugs: dict[str, str]) -> str:
    """Rules: the normalised input objects, and each policy's violations over input.norms."""
    lines = [
        f"package {HARNESS}",
        "",
        f"import data.{LIB_PACKAGE}.workload",
        "",
        "norms := [w | some o in input.objects; w := workload.normalise(o)]",
        "",
    ]
    for n, slug in enumerate(slugs.values()):
        lines += [
            f"found_{n} := [[i, v] |",
            "\tps := input.params",
            "\tns := input.norms",
            "\tsome i",
            "\tw := ns[i]",
            f"\tsome v in data.{LIB_PACKAGE}.policies.{slug}.violations(w, ps)",
            "]",
            "",
        ]
    return "\n".join(lines)


def build(rego_dir: Path, slugs: dict[str, str]) -> Any:
    import regorus

    engine = regorus.Engine()
    for path, source in modules_of(rego_dir).items():
        engine.add_policy(path, source)
    engine.add_policy("ab_harness.rego", harness(slugs))
    return engine


def main() -> int:
    ap = ab_parser(__doc__)
    ap.add_argument("--only", required=True, help="comma-separated policy ids")
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()

    library, params = default_setup()
    key = {k[0]: k for k in library.engine_key()}
    wanted = args.only.split(",")
    unknown = sorted(set(wanted) - set(key))
    if unknown:
        raise SystemExit(f"error: --only: unknown policy ids {unknown}")
    slugs = {pid: key[pid][1] for pid in wanted}
    objs = corpus(args.objects)
    applies = Dispatch([key[pid] for pid in wanted]).by_policy(objs)
    engines = {side: build(path, slugs) for side, path in (("old", args.old), ("new", args.new))}
    with open("/proc/loadavg", encoding="ascii") as fh:
        load = fh.read().split()[:3]
    print(f"corpus {len(objs)} objects, {args.rounds} rounds, load {load}")
    status = 0
    for n, pid in enumerate(wanted):
        mine = [objs[i] for i in applies.get(pid, [])]
        if not mine:
            print(f"{pid}: applies to no object of the corpus")
            continue
        found: dict[str, Any] = {}
        norms: dict[str, Any] = {}
        for side, eng in engines.items():
            eng.set_input({"objects": mine})
            norms[side] = json.loads(eng.eval_rule_as_json(f"data.{HARNESS}.norms"))
        if norms["old"] != norms["new"]:
            print(f"{pid}: the two libraries normalise its objects DIFFERENTLY")
            return 1
        cpu: dict[str, list[float]] = {"old": [], "new": []}
        for side, eng in engines.items():
            eng.set_input({"norms": norms[side], "params": params.get(pid, {})})
            rows = json.loads(eng.eval_rule_as_json(f"data.{HARNESS}.found_{n}"))
            found[side] = sorted(json.dumps(r, sort_keys=True) for r in rows)
        for _ in range(args.rounds):
            for side, eng in engines.items():
                t0 = time.process_time()
                eng.eval_rule(f"data.{HARNESS}.found_{n}")
                cpu[side].append((time.process_time() - t0) * 1e6 / len(mine))
        same = "identical" if found["old"] == found["new"] else "DIFFERENT"
        status |= same != "identical"
        print(
            f"{pid}: {len(mine)} objects, {len(found['new'])} violations ({same}); CPU µs/object "
            f"old {min(cpu['old']):.2f} min {statistics.median(cpu['old']):.2f} median, "
            f"new {min(cpu['new']):.2f} min {statistics.median(cpu['new']):.2f} median, "
            f"new/old (minima) {min(cpu['new']) / min(cpu['old']):.3f}"
        )
    return status


if __name__ == "__main__":
    sys.exit(main())

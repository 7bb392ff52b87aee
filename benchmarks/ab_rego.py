"""A/B timing of two versions of the Rego library on the policy benchmark's corpus.

    .venv/bin/python benchmarks/ab_rego.py --old DIR [--new DIR] [--objects 10000] [--rounds 5]
        [--only RG-PSS-007,...]

``DIR`` is a ``rego`` directory (``lib/*.rego`` + ``policies/*.rego``), e.g. the one of a git
worktree of ``main``; ``--new`` defaults to this checkout's. Both engines are built in this one
process and evaluated over the same corpus *alternately*, round after round, so that whatever
else the machine is doing weighs on both sides alike: per side, the min and median CPU µs per
object over the rounds, and the ratio of the minima. The results of both sides must be
identical (every violation: object, policy, message, path, value); the script says so, or
exits 1 naming the first difference. ``--only``: time just these policies (the driver holds
them alone), for a change to one policy.

Run it pinned (``taskset -c 0``) and say the load: the ratio is the figure to trust.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench_policy import corpus
from riskgrid.policy.config import default_config, resolved_params
from riskgrid.policy.engine import Dispatch, RegorusEngine, driver_module, rego_modules
from riskgrid.policy.library import Library, load_library

HERE_REGO = Path(__file__).resolve().parents[1] / "src" / "riskgrid" / "policy" / "rego"


def modules_of(rego_dir: Path) -> dict[str, str]:
    """The modules of a rego directory, keyed as the engine keys them (lib first)."""
    out = rego_modules(rego_dir)
    if not out:
        raise SystemExit(f"error: {rego_dir}: no lib/*.rego or policies/*.rego here")
    return out


def ab_parser(doc: str | None) -> argparse.ArgumentParser:
    """The command line every library-against-library script shares: ``--old DIR [--new DIR]``."""
    ap = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--old", required=True, type=Path)
    ap.add_argument("--new", type=Path, default=HERE_REGO)
    return ap


def default_setup() -> tuple[Library, dict[str, Any]]:
    """The shipped library and its default parameters, as ``riskgrid policy check`` uses them."""
    library = load_library()
    return library, resolved_params(default_config(), library)


def main() -> int:
    ap = ab_parser(__doc__)
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated policy ids")
    args = ap.parse_args()

    library, params = default_setup()
    key = library.engine_key()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {k[0] for k in key}
        if unknown:
            raise SystemExit(f"error: --only: unknown policy ids {sorted(unknown)}")
        key = tuple(k for k in key if k[0] in wanted)
    objs = corpus(args.objects)
    engines = {
        side: RegorusEngine(modules_of(path), driver_module(key), Dispatch(key))
        for side, path in (("old", args.old), ("new", args.new))
    }
    results: dict[str, Any] = {}
    cpu: dict[str, list[float]] = {"old": [], "new": []}
    for side, eng in engines.items():
        results[side] = eng.evaluate(objs, params)  # warm-up, and the verdicts to compare
    for _ in range(args.rounds):
        for side, eng in engines.items():
            t0 = time.process_time()
            eng.evaluate(objs, params)
            cpu[side].append((time.process_time() - t0) * 1e6 / len(objs))
    with open("/proc/loadavg", encoding="ascii") as fh:
        load = fh.read().split()[:3]
    print(f"corpus {len(objs)} objects, {len(key)} policies, {args.rounds} rounds, load {load}")
    for side in ("old", "new"):
        print(
            f"{side}: {min(cpu[side]):7.1f} min {statistics.median(cpu[side]):7.1f} median "
            f"CPU µs/object, {len(results[side])} violations"
        )
    print(f"new / old (minima): {min(cpu['new']) / min(cpu['old']):.3f}")
    if results["old"] != results["new"]:
        old, new = results["old"] + [None], results["new"] + [None]
        diff = next((a, b) for a, b in zip(old, new, strict=False) if a != b)
        print("DIFFERENT verdicts; first difference (old, new):", json.dumps(diff, default=str))
        return 1
    print("verdicts identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())

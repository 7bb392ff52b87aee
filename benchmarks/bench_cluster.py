"""Cluster audit at scale: a synthetic snapshot of 200 namespaces / 50,000 pods / 2,000
NetworkPolicies (riskgrid.cluster.synthetic), audited and analysed for reachability.

The snapshot is written once; then, for each of ``--runs`` runs, two fresh processes (so that
each peak RSS is its own):

* **riskgrid cluster**: load the snapshot, ``audit_snapshot`` (pods folded into their
  controllers, one evaluation per identical replica), the connectivity matrix with real pod
  addresses and address-dependence flags, and the tenant isolation proof;
* **peer**: the same snapshot the way the pre-#16 tools would take it — ``check_documents``
  over every object (what ``riskgrid policy check`` does on a kubectl dump: every pod
  evaluated and reported) and ``netpol.connectivity`` with pod addresses removed (the
  unknown-address model).

Prints each phase's time (min/median over the runs), the peak RSS of each process and
``/proc/loadavg`` (the machine is shared). Run:
``.venv/bin/python benchmarks/bench_cluster.py [--namespaces 200] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _phase(name: str, fn: Any, times: dict[str, float]) -> Any:
    t0 = time.perf_counter()
    out = fn()
    times[name] = time.perf_counter() - t0
    return out


def _run_riskgrid(snapdir: Path) -> dict[str, Any]:
    from riskgrid.cluster.audit import audit_snapshot
    from riskgrid.cluster.reach import isolation, snapshot_matrix
    from riskgrid.cluster.snapshot import load_snapshot

    t: dict[str, float] = {}
    snap = _phase("load", lambda: load_snapshot([snapdir]), t)
    res = _phase("audit", lambda: audit_snapshot(snap), t)
    mx, _ = _phase("matrix", lambda: snapshot_matrix(snap), t)
    iso = _phase("isolation", lambda: isolation(snap, mx), t)
    return {
        "times": t,
        "objects": len(snap.objects),
        "findings": len(res.report.violations),
        "classes": mx.n_classes,
        "isolation": iso.verdict(),
    }


def _run_peer(snapdir: Path) -> dict[str, Any]:
    from riskgrid.cluster.reach import network_world
    from riskgrid.cluster.snapshot import load_snapshot
    from riskgrid.netpol.analysis import connectivity
    from riskgrid.policy.check import Document, check_documents

    t: dict[str, float] = {}
    snap = _phase("load", lambda: load_snapshot([snapdir]), t)
    docs = [Document(o.source, o.index, o.obj) for o in snap.objects]
    rep = _phase("audit", lambda: check_documents(docs), t)
    world = network_world(snap)
    plain = [
        {k: v for k, v in o.items() if k != "status"} if o["kind"] == "Pod" else o
        for o in world.objects
    ]
    mx = _phase("matrix", lambda: connectivity(plain, add_cluster_dns=False), t)
    return {
        "times": t,
        "objects": len(snap.objects),
        "findings": len(rep.violations),
        "classes": mx.n_classes,
    }


def _child(which: str, snapdir: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", which, "--snapshot", str(snapdir)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--namespaces", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peer", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--peer-runs", type=int, default=None, help="default: --runs")
    ap.add_argument("--child", choices=("riskgrid", "peer"))
    ap.add_argument("--snapshot", type=Path)
    args = ap.parse_args()
    if args.child:
        fn = _run_riskgrid if args.child == "riskgrid" else _run_peer
        out = fn(args.snapshot)
        out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out))
        return

    from riskgrid.cluster.snapshot import write_objects
    from riskgrid.cluster.synthetic import synthetic_objects

    print(f"load before: {Path('/proc/loadavg').read_text().strip()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        snapdir = Path(tmp) / "snap"
        t0 = time.perf_counter()
        write_objects(snapdir, synthetic_objects(namespaces=args.namespaces), cluster="bench")
        size = sum(p.stat().st_size for p in snapdir.rglob("*")) / 2**20
        print(
            f"snapshot: {args.namespaces} namespaces, {args.namespaces * 250} pods, "
            f"{args.namespaces * 10} NetworkPolicies; written in "
            f"{time.perf_counter() - t0:.1f} s, {size:.0f} MiB",
            flush=True,
        )
        runs: dict[str, list[dict[str, Any]]] = {"riskgrid": [], "peer": []}
        for i in range(args.runs):
            peer_runs = args.runs if args.peer_runs is None else args.peer_runs
            for which in ("riskgrid", "peer") if args.peer and i < peer_runs else ("riskgrid",):
                runs[which].append(_child(which, snapdir))
                print(f"run {i + 1} {which}: {json.dumps(runs[which][-1])}", flush=True)
        for which, results in runs.items():
            if not results:
                continue
            first = results[0]
            facts = {k: v for k, v in first.items() if k not in ("times", "peak_rss_mib")}
            print(f"\n{which} ({len(results)} runs) {facts}")
            for phase in first["times"]:
                xs = [r["times"][phase] for r in results]
                print(f"  {phase:10} min {min(xs):8.2f} s  median {statistics.median(xs):8.2f} s")
            rss = [r["peak_rss_mib"] for r in results]
            print(f"  peak RSS   min {min(rss):8.0f} MiB median {statistics.median(rss):8.0f} MiB")
    print(f"\nload after: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()

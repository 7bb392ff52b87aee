"""Render and verify N tenants (10 → 100) with the full isolation matrix: time and memory.

    .venv/bin/python benchmarks/bench_tenancy.py [--sizes 10,25,50,100] [--no-tracemalloc]

For each N it renders N synthetic tenants (shaped like examples/tenants/eq-vol.yaml, each
with its own namespace and allow-list) plus the platform bundle (Gatekeeper export included),
then times each verify check separately: schema validation, the policy library (regorus), and
the network analysis (connectivity matrix over every pod class + the isolation assertions over
all N·(N−1) ordered tenant pairs). Memory, in a second traced pass: tracemalloc peak of Python
allocations per stage (numpy buffers included; regorus's Rust heap is not traced) and the
process's max RSS.
"""

from __future__ import annotations

import argparse
import copy
import gc
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import yaml

from riskgrid.spec.tenant import Tenant, check_tenant_set
from riskgrid.tenancy.platform import render_platform
from riskgrid.tenancy.render import render_tenants
from riskgrid.tenancy.verify import verify

BASE = Path(__file__).resolve().parents[1] / "examples" / "tenants" / "eq-vol.yaml"


def synthetic_tenants(n: int) -> list[Tenant]:
    base = yaml.safe_load(BASE.read_text())
    out = []
    for i in range(n):
        doc = copy.deepcopy(base)
        name = f"desk-{i:03d}"
        doc["metadata"]["name"] = name
        doc["spec"]["costCentre"] = f"CC-{1000 + i}"
        doc["spec"]["egress"] = [
            {"cidrs": [f"10.{100 + i // 250}.{i % 250}.0/24"], "ports": [{"port": 443}]}
        ]
        out.append(Tenant.model_validate(doc))
    check_tenant_set(out)
    return out


def _stage(fn: Any, *, trace: bool) -> tuple[Any, float, float]:
    gc.collect()
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - t0
    peak = 0.0
    if trace:
        _, peak_b = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peak = peak_b / 2**20
    return result, elapsed, peak


def _stages(tenants: list[Tenant], objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "render": lambda: [*render_platform(tenants, gatekeeper=True), *render_tenants(tenants)],
        **{
            check: (lambda c=check: verify(tenants, objects, checks=(c,)))
            for check in ("schema", "policy", "network")
        },
    }


def run(n: int, *, trace: bool) -> dict[str, Any]:
    """Time each stage untraced; with ``trace``, run each again under tracemalloc for memory
    (tracing slows pure-Python code severalfold, so the two are measured separately)."""
    tenants = synthetic_tenants(n)
    objects = [*render_platform(tenants, gatekeeper=True), *render_tenants(tenants)]
    row: dict[str, Any] = {"tenants": n, "objects": len(objects)}
    for name, fn in _stages(tenants, objects).items():
        result, elapsed, _ = _stage(fn, trace=False)
        row[f"{name}_s"] = elapsed
        if name == "render":
            continue
        if result.problems:
            raise SystemExit(f"{name} failed at N={n}: {result.problems[0]}")
        if name == "network":
            row["pairs"] = result.tenant_pairs_checked
            row["pairs_ok"] = result.tenant_pairs_passed
    if trace:
        for name, fn in _stages(tenants, objects).items():
            row[f"{name}_mib"] = _stage(fn, trace=True)[2]
    row["total_s"] = sum(row[f"{k}_s"] for k in ("render", "schema", "policy", "network"))
    row["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,25,50,100")
    ap.add_argument("--no-tracemalloc", action="store_true", help="time without tracing overhead")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    trace = not args.no_tracemalloc
    # warm caches (schemas, CRDs, Rego engine) so N=10 does not pay one-off costs
    run(2, trace=False)
    cols = [
        ("tenants", "{:>7}"),
        ("objects", "{:>7}"),
        ("pairs", "{:>6}"),
        ("pairs_ok", "{:>8}"),
        ("render_s", "{:>8.2f}"),
        ("schema_s", "{:>8.2f}"),
        ("policy_s", "{:>8.2f}"),
        ("network_s", "{:>9.2f}"),
        ("total_s", "{:>7.2f}"),
    ]
    if trace:
        cols += [
            ("render_mib", "{:>10.1f}"),
            ("schema_mib", "{:>10.1f}"),
            ("policy_mib", "{:>10.1f}"),
            ("network_mib", "{:>11.1f}"),
        ]
    cols.append(("maxrss_mib", "{:>10.0f}"))
    print(
        " ".join(
            f"{name:>{len(fmt.format(0) if 'f' not in fmt else fmt.format(0.0))}}"
            for name, fmt in cols
        )
    )
    rows = []
    for n in sizes:
        row = run(n, trace=trace)
        rows.append(row)
        print(" ".join(fmt.format(row[name]) for name, fmt in cols), flush=True)
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        f = b["tenants"] / a["tenants"]
        pf = b["pairs"] / a["pairs"]
        print(f"\ngrowth {a['tenants']}→{b['tenants']} tenants (×{f:g}; pairs ×{pf:.0f}):")
        for k in ("render_s", "schema_s", "policy_s", "network_s", "total_s"):
            print(f"  {k:<10} ×{b[k] / a[k]:.1f}")
    print(f"\npython {sys.version.split()[0]}; peer: none for render/verify (see docs/tenancy.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Policy engine benchmark: riskgrid (regorus, one query per batch) side by side with checkov.

    .venv/bin/python benchmarks/bench_policy.py [--objects 10000] [--latency-reps 2000]
        [--checkov PATH_TO_CHECKOV | --no-checkov]

The corpus is generated (seeded): tenant bundles of Deployments, StatefulSets, Jobs,
CronJobs, RayClusters, Services, Ingresses, NetworkPolicies, Roles and RoleBindings,
Namespaces — most hardened, a realistic share with one or two mistakes. It is written as
multi-document YAML files that both tools read from disk.

checkov is not a riskgrid dependency (its pins clash with the lock); by default the script
uses benchmarks/.peers/checkov-venv/bin/checkov, created with
``uv venv benchmarks/.peers/checkov-venv && uv pip install --python
benchmarks/.peers/checkov-venv/bin/python checkov`` (gitignored). checkov runs offline:
BC_SKIP_MAPPING, no API key, --skip-download, SCA scans off, kubernetes framework only.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from riskgrid.policy import cases
from riskgrid.policy.check import check_documents, check_objects
from riskgrid.policy.inputs import read_inputs

MISTAKES: list[dict[str, Any]] = [
    {"container": {"securityContext": {"privileged": True}}},
    {"container": {"image": "docker.io/library/python:latest"}},
    {"init": {"securityContext": {"allowPrivilegeEscalation": True}}},
    {"pod": {"hostNetwork": True}},
    {"container": {"resources": None}},
    {
        "container": {
            "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]
        }
    },
    {"pod": {"automountServiceAccountToken": None}},
    {"container": {"securityContext": {"readOnlyRootFilesystem": False}}},
    {"pod": {"volumes": [{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}]}},
]
WORKLOAD_KINDS = ["Deployment", "StatefulSet", "Job", "CronJob", "RayCluster", "DaemonSet"]


def other_objects(rng: random.Random, tenant: str, i: int) -> list[dict[str, Any]]:
    ns = f"desk-{tenant}"
    labels = {"riskgrid.dev/tenant": tenant, "riskgrid.dev/cost-centre": "cc-1"}
    svc_type = "NodePort" if rng.random() < 0.05 else "ClusterIP"
    return [
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": f"svc-{i}", "namespace": ns, "labels": labels},
         "spec": {"type": svc_type, "selector": {"app": f"w-{i}"}, "ports": [{"port": 8080}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": f"np-{i}", "namespace": ns},
         "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                  "ingress": [{"from": [{"podSelector": {}}]}]}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": f"rb-{i}", "namespace": ns},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "cluster-admin" if rng.random() < 0.03 else "edit"},
         "subjects": [{"kind": "Group", "name": f"{ns}-quants"}]},
    ]  # fmt: skip


def corpus(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    i = 0
    while len(out) < n:
        tenant = rng.choice(["rates", "fx", "credit", "equities", "commodities"])
        spec: dict[str, Any] = {"kind": rng.choice(WORKLOAD_KINDS), "namespace": f"desk-{tenant}"}
        if rng.random() < 0.35:
            spec.update(rng.choice(MISTAKES))
        out.append(cases.build(spec, name=f"w-{i}"))
        out.extend(other_objects(rng, tenant, i))
        i += 1
    return out[:n]


def write_corpus(objs: list[dict[str, Any]], folder: Path, per_file: int = 100) -> None:
    for start in range(0, len(objs), per_file):
        chunk = objs[start : start + per_file]
        (folder / f"bundle-{start // per_file:04d}.yaml").write_text(yaml.safe_dump_all(chunk))


def bench_riskgrid(objs: list[dict[str, Any]], folder: Path, reps: int) -> dict[str, float]:
    check_objects(objs[:10])  # build the engine once (as a long-running process would)
    t0, c0 = time.perf_counter(), time.process_time()
    report = check_objects(objs)
    engine_s, engine_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    docs, errors = read_inputs([str(folder)])
    report_files = check_documents(docs, errors=errors)
    files_s, files_cpu = time.perf_counter() - t0, time.process_time() - c0
    assert report_files.objects == len(objs) and not report_files.errors
    lat, cpu_lat = [], []
    for k in range(reps):
        obj = objs[k % len(objs)]
        t, c = time.perf_counter(), time.process_time()
        check_objects([obj])
        lat.append((time.perf_counter() - t) * 1000)
        cpu_lat.append((time.process_time() - c) * 1000)
    lat.sort()
    cpu_lat.sort()
    return {
        "objects": len(objs),
        "violations": len(report.violations),
        "in_memory_s": engine_s,
        "in_memory_obj_s": len(objs) / engine_s,
        "in_memory_cpu_s": engine_cpu,
        "from_files_cpu_s": files_cpu,
        "from_files_s": files_s,
        "from_files_obj_s": len(objs) / files_s,
        "p50_ms": statistics.median(lat),
        "p99_ms": lat[int(0.99 * (len(lat) - 1))],
        "cpu_p50_ms": statistics.median(cpu_lat),
        "cpu_p99_ms": cpu_lat[int(0.99 * (len(cpu_lat) - 1))],
    }


def bench_checkov(checkov: str, folder: Path, n: int) -> dict[str, float] | None:
    env = {
        **os.environ,
        "BC_SKIP_MAPPING": "TRUE",
        "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
        "BC_API_KEY": "",
        "PRISMA_API_URL": "",
        "CHECKOV_ENABLE_CONFIG_SECRETS_SCAN": "false",
    }
    cmd = [
        checkov,
        "-d",
        str(folder),
        "--framework",
        "kubernetes",
        "--skip-download",
        "--quiet",
        "--compact",
        "-o",
        "json",
        "--output-file-path",
        str(folder / ".."),
    ]
    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    if proc.returncode not in (0, 1):
        print(f"checkov failed ({proc.returncode}): {proc.stderr[-2000:]}", file=sys.stderr)
        return None
    t0 = time.perf_counter()
    subprocess.run([checkov, "--version"], env=env, capture_output=True, check=False)
    startup = time.perf_counter() - t0
    return {"objects": n, "wall_s": wall, "obj_s": n / wall, "startup_s": startup, "cpu_s": cpu}


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--latency-reps", type=int, default=2000)
    default_checkov = Path(__file__).parent / ".peers" / "checkov-venv" / "bin" / "checkov"
    ap.add_argument("--checkov", default=str(default_checkov))
    ap.add_argument("--no-checkov", action="store_true")
    ap.add_argument("--checkov-objects", type=int, default=0, help="checkov on a prefix (0: all)")
    args = ap.parse_args()

    objs = corpus(args.objects)
    with tempfile.TemporaryDirectory(prefix="rg-bench-") as tmp:
        folder = Path(tmp) / "corpus"
        folder.mkdir()
        write_corpus(objs, folder)
        rg = bench_riskgrid(objs, folder, args.latency_reps)
        print(f"corpus: {rg['objects']} objects, {rg['violations']} violations found by riskgrid")
        print(
            f"{'tool':30} {'objects':>7} {'wall s':>7} {'obj/s':>7} {'CPU s':>7} {'obj/CPU-s':>9}"
        )
        n = rg["objects"]
        for label, wall, cpu in (
            ("riskgrid check_objects", rg["in_memory_s"], rg["in_memory_cpu_s"]),
            ("riskgrid files (parse+check)", rg["from_files_s"], rg["from_files_cpu_s"]),
        ):
            print(f"{label:30} {n:7d} {wall:7.2f} {n / wall:7.0f} {cpu:7.2f} {n / cpu:9.0f}")
        print(
            f"single-object decision: p50 {rg['p50_ms']:.2f} ms, p99 {rg['p99_ms']:.2f} ms wall; "
            f"p50 {rg['cpu_p50_ms']:.2f} ms, p99 {rg['cpu_p99_ms']:.2f} ms CPU "
            f"({args.latency_reps} reps, warm engine)",
            flush=True,
        )
        if args.no_checkov:
            return 0
        if not Path(args.checkov).exists():
            print(f"checkov not found at {args.checkov}; see the module docstring", file=sys.stderr)
            return 1
        # checkov gets the first --checkov-objects of the same corpus (default: all of it).
        ck_n = min(args.checkov_objects or len(objs), len(objs))
        ck_folder = Path(tmp) / "checkov-corpus"
        ck_folder.mkdir()
        write_corpus(objs[:ck_n], ck_folder)
        ck = bench_checkov(args.checkov, ck_folder, ck_n)
    if ck:
        wall, cpu = ck["wall_s"], ck["cpu_s"]
        print(
            f"{'checkov -d (kubernetes)':30} {ck_n:7d} {wall:7.2f} {ck_n / wall:7.0f} "
            f"{cpu:7.2f} {ck_n / cpu:9.0f}   (start-up alone {ck['startup_s']:.1f} s wall)"
        )
        rg_rate = rg["objects"] / rg["from_files_s"]
        rg_cpu_rate = rg["objects"] / rg["from_files_cpu_s"]
        print(
            f"riskgrid (files) / checkov: {rg_rate / (ck_n / wall):.0f}x by wall clock, "
            f"{rg_cpu_rate / (ck_n / cpu):.0f}x by CPU time"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Policy engine benchmark: riskgrid (regorus, one query per batch) side by side with checkov.

    .venv/bin/python benchmarks/bench_policy.py --pin 0 [--objects 10000] [--runs 3]
        [--checkov-objects 1000] [--latency-reps 2000] [--checkov PATH | --no-checkov]
        [--no-scaling] [--no-policy-table]

One run prints, on the same generated corpus:
- riskgrid in process: ``check_objects`` (in memory) and read + parse + check (from files),
  min/median of ``--runs`` runs, wall and CPU seconds, and the single-object p50/p99;
- riskgrid and checkov as command lines on the same files (the first ``--checkov-objects``
  objects: checkov does not finish the full corpus in reasonable time), each *cold* (its
  bytecode cache empty: a fresh ``PYTHONPYCACHEPREFIX``) and *warm* (the same cache again);
- the ratios: riskgrid's file path in process against checkov warm, and command line against
  command line at equal size; and each tool's *marginal* CPU per object (both command lines
  warm on a smaller and a bigger corpus — checkov half → whole CLI corpus, riskgrid the CLI
  corpus → the whole corpus — the difference over the extra objects, so that
  neither tool's start-up flatters the other);
- 1 → 2 worker processes over the files (a process pool; needs both cores, so unpinned);
- the per-policy cost table (each policy alone over pre-normalised objects) and the cost of
  normalisation, so that the next regression shows which policy it is.
``--pin 0`` runs everything but the scaling on CPU 0 (as ``taskset -c 0`` would; the script
prints its affinity). Read ``/proc/loadavg`` in the output: other jobs on the box inflate
wall time, so CPU seconds are printed beside it.

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
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from riskgrid.policy import cases
from riskgrid.policy.check import check_documents, check_objects
from riskgrid.policy.gcpause import gc_paused
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


def timed(fn: Callable[[], Any], runs: int) -> tuple[list[float], list[float], Any]:
    """Wall and CPU seconds of ``runs`` calls of ``fn`` (and its last result)."""
    walls, cpus, out = [], [], None
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return walls, cpus, out


def files_check(folder: str) -> Any:
    """What ``riskgrid policy check FOLDER`` does, in this process."""
    with gc_paused():
        docs, errors = read_inputs([folder])
        return check_documents(docs, errors=errors)


def bench_riskgrid(
    objs: list[dict[str, Any]], folder: Path, reps: int, runs: int
) -> dict[str, Any]:
    check_objects(objs[:10])  # build the engine once (as a long-running process would)
    mem_w, mem_c, report = timed(lambda: check_objects(objs), runs)
    files_w, files_c, report_files = timed(lambda: files_check(str(folder)), runs)
    assert report_files.objects == len(objs) and not report_files.errors
    assert len(report_files.violations) == len(report.violations)
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
        "mem_wall": mem_w,
        "mem_cpu": mem_c,
        "files_wall": files_w,
        "files_cpu": files_c,
        "p50_ms": statistics.median(lat),
        "p99_ms": lat[int(0.99 * (len(lat) - 1))],
        "cpu_p50_ms": statistics.median(cpu_lat),
        "cpu_p99_ms": cpu_lat[int(0.99 * (len(cpu_lat) - 1))],
    }


def _warm_worker() -> int:
    check_objects([cases.build({}, name="warm")])  # engine built in each worker first
    return os.getpid()


def _check_files(files: list[str]) -> int:
    return len(files_check_many(files).violations)


def files_check_many(files: list[str]) -> Any:
    docs, errors = read_inputs(files)
    return check_documents(docs, errors=errors)


def bench_scaling(folder: Path, runs: int) -> dict[int, list[float]]:
    """Wall seconds to check every file with a pool of 1 and of 2 warm worker processes
    (files dealt round-robin; each worker parses and checks its share)."""
    files = sorted(str(p) for p in folder.glob("*.yaml"))
    out: dict[int, list[float]] = {}
    for workers in (1, 2):
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for f in [pool.submit(_warm_worker) for _ in range(workers * 2)]:
                f.result()
            walls = []
            for _ in range(runs):
                shares = [files[w::workers] for w in range(workers)]
                t0 = time.perf_counter()
                sum(pool.map(_check_files, shares))
                walls.append(time.perf_counter() - t0)
        out[workers] = walls
    return out


def policy_table(
    objs: list[dict[str, Any]], runs: int
) -> tuple[float, list[tuple[str, float, int]]]:
    """CPU µs per object of normalisation, and per policy: CPU ms over the corpus when the
    policy runs alone over pre-normalised objects, and how many objects it applies to."""
    import regorus

    from riskgrid.policy.config import default_config, resolved_params
    from riskgrid.policy.engine import NORMS_RULE, Dispatch, driver_module, rego_modules
    from riskgrid.policy.library import load_library

    library = load_library()
    params = resolved_params(default_config(), library)
    modules = rego_modules()
    by_policy = Dispatch(library.engine_key()).by_policy(objs)

    def engine(policies: tuple[tuple[str, str, tuple[str, ...]], ...], swap: bool) -> Any:
        e = regorus.Engine()
        for path, source in modules.items():
            e.add_policy(path, source)
        driver = driver_module(policies)
        e.add_policy(
            "driver.rego", driver.replace(NORMS_RULE, "norms := input.norms") if swap else driver
        )
        return e

    base = engine(library.engine_key()[:1], swap=False)
    base.set_input({"objects": objs, "params": params, "by_policy": by_policy})
    base.add_policy(
        "count.rego", "package riskgrid.bench\n\nn := count(data.riskgrid.batch.norms)\n"
    )
    _, cpus, _ = timed(lambda: base.eval_rule_as_json("data.riskgrid.bench.n"), runs)
    normalise_us = min(cpus) * 1e6 / len(objs)
    norms = json.loads(base.eval_rule_as_json("data.riskgrid.batch.norms"))

    def cost(key: tuple[str, str, tuple[str, ...]]) -> float:
        e = engine((key,), swap=True)
        e.set_input({"norms": norms, "params": params, "by_policy": by_policy})
        _, cpus, _ = timed(lambda: e.eval_rule_as_json("data.riskgrid.batch.results"), runs)
        return min(cpus) * 1000

    # A query's fixed cost (a policy of a kind the corpus lacks), taken off every row.
    first = library.engine_key()[0]
    fixed = cost((first[0], first[1], ("NoSuchKind",)))
    rows = []
    for key in library.engine_key():
        rows.append((key[0], max(cost(key) - fixed, 0.0), len(by_policy.get(key[0], []))))
    rows.sort(key=lambda r: -r[1])
    return normalise_us, rows


CHECKOV_ENV = {
    "BC_SKIP_MAPPING": "TRUE",
    "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
    "BC_API_KEY": "",
    "PRISMA_API_URL": "",
    "CHECKOV_ENABLE_CONFIG_SECRETS_SCAN": "false",
}


def run_cli(cmd: list[str], env: dict[str, str], ok: tuple[int, ...]) -> tuple[float, float]:
    """Wall and CPU (children's user+system) seconds of one command line."""
    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=3600)
    wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in ok:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)


def cli_command(name: str, checkov: str | None, folder: Path, out_dir: Path) -> list[str]:
    """The command line of ``name`` ("riskgrid" or "checkov") checking ``folder``."""
    if name == "riskgrid":
        return [sys.executable, "-m", "riskgrid.cli.main", "policy", "check", str(folder),
                "-f", "json"]  # fmt: skip
    assert checkov is not None
    return [checkov, "-d", str(folder), "--framework", "kubernetes", "--skip-download",
            "--quiet", "--compact", "-o", "json", "--output-file-path", str(out_dir)]  # fmt: skip


def cli_env(name: str, pycache: Path) -> dict[str, str]:
    """The environment of a tool's runs: its own bytecode cache (empty: cold; reused: warm)."""
    env = {**os.environ, **(CHECKOV_ENV if name == "checkov" else {})}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def bench_clis(
    checkov: str | None, folder: Path, out_dir: Path, runs: int
) -> dict[str, list[tuple[float, float]]]:
    """riskgrid and checkov command lines on the same folder: cold (empty bytecode cache,
    once per run) and warm (the cache the cold run filled)."""
    out: dict[str, list[tuple[float, float]]] = {}
    for name in ("riskgrid", "checkov") if checkov else ("riskgrid",):
        cold, warm = [], []
        for r in range(runs):
            env = cli_env(name, out_dir / f"pycache-{name}-{r}")
            cmd = cli_command(name, checkov, folder, out_dir)
            cold.append(run_cli(cmd, env, (0, 1)))
            warm.append(run_cli(cmd, env, (0, 1)))
        out[f"{name} cold"] = cold
        out[f"{name} warm"] = warm
    return out


def bench_marginal(
    checkov: str, folders: dict[str, tuple[Path, Path]], out_dir: Path, runs: int
) -> dict[str, tuple[list[float], list[float]]]:
    """Both command lines, warm, each on a smaller and a bigger corpus (``folders[name]``),
    interleaved: the CPU seconds of each run, so that a tool's marginal cost per object (its
    start-up taken off) is the difference over the extra objects."""
    out: dict[str, tuple[list[float], list[float]]] = {}
    for name in ("riskgrid", "checkov"):
        small, big = folders[name]
        env = cli_env(name, out_dir / f"pycache-m-{name}")
        cmd_small = cli_command(name, checkov, small, out_dir)
        cmd_big = cli_command(name, checkov, big, out_dir)
        run_cli(cmd_small, env, (0, 1))  # fills the bytecode cache
        h, f = [], []
        for _ in range(runs):
            h.append(run_cli(cmd_small, env, (0, 1))[1])
            f.append(run_cli(cmd_big, env, (0, 1))[1])
        out[name] = (h, f)
    return out


def report_marginal(
    checkov: str,
    pairs: dict[str, tuple[Path, Path]],
    sizes: dict[str, tuple[int, int]],
    out_dir: Path,
    runs: int,
    cpu_rate: float,
) -> None:
    """Print each tool's marginal CPU per object from ``runs`` interleaved pairs of runs, by
    medians and by minima (noise only adds time, so the minima are the steadier estimate of a
    noisy tool: checkov's own warm runs spread by ~10%)."""
    marg = bench_marginal(checkov, pairs, out_dir, runs)
    for label, pick in (("medians", statistics.median), ("minima", min)):
        per = {
            k: (pick(f) - pick(h)) / (sizes[k][1] - sizes[k][0]) * 1e3 for k, (h, f) in marg.items()
        }
        print(
            f"marginal CPU per object, command lines warm ({label} of {runs}; start-up "
            f"taken off): checkov {per['checkov']:.2f} ms ({sizes['checkov'][0]} → "
            f"{sizes['checkov'][1]} objects), riskgrid {per['riskgrid']:.3f} ms "
            f"({sizes['riskgrid'][0]} → {sizes['riskgrid'][1]}): "
            f"{per['checkov'] / per['riskgrid']:.0f}x; "
            f"checkov marginal / riskgrid files in process: "
            f"{per['checkov'] / (1e3 / cpu_rate):.0f}x",
            flush=True,
        )


def baseline(src: str, n: int, runs: int, reps: int) -> dict[str, Any]:
    """The in-process figures of another checkout's ``src`` (this script, run as a child)."""
    env = {**os.environ, "PYTHONPATH": str(Path(src).resolve())}
    cmd = [sys.executable, __file__, "--inprocess-json", "--objects", str(n), "--runs",
           str(runs), "--latency-reps", str(reps)]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, timeout=3600)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def mm(values: list[float]) -> str:
    return f"{min(values):7.2f} {statistics.median(values):7.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--latency-reps", type=int, default=2000)
    default_checkov = Path(__file__).parent / ".peers" / "checkov-venv" / "bin" / "checkov"
    ap.add_argument("--checkov", default=str(default_checkov))
    ap.add_argument("--no-checkov", action="store_true")
    ap.add_argument("--checkov-objects", type=int, default=1000, help="CLI corpus (0: all)")
    ap.add_argument("--no-scaling", action="store_true")
    ap.add_argument("--no-policy-table", action="store_true")
    ap.add_argument(
        "--pin",
        type=int,
        default=None,
        metavar="CPU",
        help="run everything but the process-pool scaling on this one CPU (both tools' "
        "command lines inherit it)",
    )
    ap.add_argument(
        "--baseline-src",
        default=None,
        metavar="DIR",
        help="also time the in-process check of another checkout's src/ (e.g. a git worktree "
        "of main) in a child process on the same corpus, same pinning",
    )
    ap.add_argument("--inprocess-json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inprocess_json:  # the --baseline-src child: in-process figures only, as JSON
        objs = corpus(args.objects)
        with tempfile.TemporaryDirectory(prefix="rg-bench-") as tmp:
            write_corpus(objs, Path(tmp))
            print(json.dumps(bench_riskgrid(objs, Path(tmp), args.latency_reps, args.runs)))
        return 0
    all_cpus = os.sched_getaffinity(0)
    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})
    checkov = None if args.no_checkov else args.checkov
    if checkov and not Path(checkov).exists():
        print(f"checkov not found at {checkov}; see the module docstring", file=sys.stderr)
        return 1

    print(f"load average: {Path('/proc/loadavg').read_text().strip()}")
    print(f"CPU affinity: {sorted(os.sched_getaffinity(0))} of {os.cpu_count()} CPUs")
    objs = corpus(args.objects)
    n, runs = len(objs), args.runs
    with tempfile.TemporaryDirectory(prefix="rg-bench-") as tmp:
        folder = Path(tmp) / "corpus"
        folder.mkdir()
        write_corpus(objs, folder)
        rg = bench_riskgrid(objs, folder, args.latency_reps, runs)
        print(f"corpus: {n} objects, {rg['violations']} violations found by riskgrid")
        print(f"riskgrid in process, {runs} runs: min/median")
        print(f"{'':30} {'wall s':>15} {'obj/s (best)':>12} {'CPU s':>15} {'obj/CPU-s':>9}")
        for label, w, c in (
            ("check_objects (in memory)", rg["mem_wall"], rg["mem_cpu"]),
            ("read+parse+check (files)", rg["files_wall"], rg["files_cpu"]),
        ):
            print(f"{label:30} {mm(w)} {n / min(w):12.0f} {mm(c)} {n / min(c):9.0f}")
        if args.baseline_src:
            base = baseline(args.baseline_src, n, runs, args.latency_reps)
            for label, w, c in (
                ("baseline check_objects", base["mem_wall"], base["mem_cpu"]),
                ("baseline files", base["files_wall"], base["files_cpu"]),
            ):
                print(f"{label:30} {mm(w)} {n / min(w):12.0f} {mm(c)} {n / min(c):9.0f}")
            print(
                f"baseline single-object: p99 {base['p99_ms']:.2f} ms wall, "
                f"{base['cpu_p99_ms']:.2f} ms CPU ({args.baseline_src}; "
                f"{base['violations']} violations)"
            )
        print(
            f"single-object decision: p50 {rg['p50_ms']:.2f} ms, p99 {rg['p99_ms']:.2f} ms wall; "
            f"p50 {rg['cpu_p50_ms']:.2f} ms, p99 {rg['cpu_p99_ms']:.2f} ms CPU "
            f"({args.latency_reps} reps, warm engine)",
            flush=True,
        )
        if not args.no_scaling:
            os.sched_setaffinity(0, all_cpus)  # the pool needs every core
            scale = bench_scaling(folder, runs)
            if args.pin is not None:
                os.sched_setaffinity(0, {args.pin})
            one, two = min(scale[1]), min(scale[2])
            print(
                f"process pool over the files ({runs} runs, min/median wall s): "
                f"1 worker {mm(scale[1])} ({n / one:.0f} obj/s), "
                f"2 workers {mm(scale[2])} ({n / two:.0f} obj/s): x{one / two:.2f}",
                flush=True,
            )
        ck_n = min(args.checkov_objects or n, n)
        ck_folder = Path(tmp) / "cli-corpus"
        ck_folder.mkdir()
        write_corpus(objs[:ck_n], ck_folder)
        clis = bench_clis(checkov, ck_folder, Path(tmp), runs)
        print(f"command lines on the first {ck_n} objects, {runs} runs: min/median")
        print(f"{'':30} {'wall s':>15} {'obj/s (best)':>12} {'CPU s':>15}")
        for label, rows in clis.items():
            w, c = [r[0] for r in rows], [r[1] for r in rows]
            print(f"{label:30} {mm(w)} {ck_n / min(w):12.0f} {mm(c)}")
        if checkov:
            ck_warm = min(r[0] for r in clis["checkov warm"])
            ck_warm_cpu = min(r[1] for r in clis["checkov warm"])
            rg_cli = min(r[0] for r in clis["riskgrid warm"])
            rate = n / min(rg["files_wall"])
            cpu_rate = n / min(rg["files_cpu"])
            print(
                f"riskgrid files in process ({n} obj) / checkov warm ({ck_n} obj), per object: "
                f"{rate / (ck_n / ck_warm):.0f}x by wall, "
                f"{cpu_rate / (ck_n / ck_warm_cpu):.0f}x by CPU; "
                f"command line / command line at {ck_n} objects, both warm: "
                f"{ck_warm / rg_cli:.0f}x by wall",
                flush=True,
            )
            half_folder = Path(tmp) / "cli-corpus-half"
            half_folder.mkdir()
            write_corpus(objs[: ck_n // 2], half_folder)
            # Each tool over an increment it takes seconds to check, so that run-to-run noise
            # (~0.03 s) stays small beside it: checkov its half → whole CLI corpus, riskgrid
            # the CLI corpus → the whole corpus (its 500-object step is only ~0.1 s).
            sizes = {"checkov": (ck_n // 2, ck_n), "riskgrid": (ck_n, n)}
            if n <= ck_n:
                sizes["riskgrid"] = sizes["checkov"]
            pairs = {
                "checkov": (half_folder, ck_folder),
                "riskgrid": (ck_folder, folder) if n > ck_n else (half_folder, ck_folder),
            }
            report_marginal(checkov, pairs, sizes, Path(tmp), max(runs, 5), cpu_rate)
    if not args.no_policy_table:
        normalise_us, rows = policy_table(objs, runs)
        print(
            f"per-policy cost over the corpus (CPU, best of {runs}, a query's fixed cost taken "
            f"off each row); normalisation {normalise_us:.1f} µs/object"
        )
        print(f"{'policy':12} {'ms':>7} {'µs/object it applies to':>24} {'objects':>8}")
        for pid, ms, applies in rows:
            per = ms * 1000 / applies if applies else 0.0
            print(f"{pid:12} {ms:7.1f} {per:24.1f} {applies:8d}")
        print(f"{'sum':12} {sum(r[1] for r in rows):7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Connectivity-matrix benchmark: riskgrid vs IBM network-config-analyzer (NCA).

For 10, 50 and 100 synthetic tenants (riskgrid.netpol.synthetic: Ray head + 2 worker groups,
a pricer Deployment, a loader CronJob, tenancy-style NetworkPolicies; plus a Calico tier):

* riskgrid, full objects (with the Calico tier): matrix time, isolation-check time, and
  tracemalloc peak (measured in a separate run, since tracing slows Python down);
* the same objects without the Calico tier, for both riskgrid and NCA — NCA 2.1.0 rejects the
  Calico ``tier`` field, so the tier-free variant is the common ground. NCA gets the pods that
  riskgrid synthesises as plain Pod manifests (NCA does not read RayCluster/CronJob), and the
  two answers are compared pair by pair.

Run: ``.venv/bin/python benchmarks/bench_netpol.py [--sizes 10,50,100] [--nca-timeout 900]``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import yaml

from riskgrid.netpol.analysis import connectivity
from riskgrid.netpol.assertions import check_tenant_isolation
from riskgrid.netpol.matrix import ConnectivityMatrix
from riskgrid.netpol.synthetic import cluster_objects, tenants_and_allow_lists

_LINE = re.compile(r"^(?P<src>\S+) => (?P<dst>\S+) : (?P<conn>.+)$")


def _time(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _peak_mib(fn: Any) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def _nca_objects(objs: list[dict[str, Any]], mx: ConnectivityMatrix) -> list[dict[str, Any]]:
    """Namespaces + policies as given, workloads replaced by riskgrid's representative pods."""
    keep = [o for o in objs if o["kind"] in ("Namespace", "NetworkPolicy")]
    for pod in mx.pods:
        ports = [
            {
                "containerPort": p.number,
                "protocol": p.protocol,
                **({"name": p.name} if p.name else {}),
            }
            for p in pod.ports
        ]
        keep.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": pod.name, "namespace": pod.namespace, "labels": pod.labels},
                "spec": {"containers": [{"name": "c", "image": "x", "ports": ports}]},
            }
        )
    return keep


def _run_nca(objs: list[dict[str, Any]], timeout: float) -> tuple[float | None, str]:
    nca = Path(sys.executable).with_name("nca")
    with tempfile.TemporaryDirectory(prefix="bench-nca-") as tmp:
        path = Path(tmp) / "objects.yaml"
        path.write_text(yaml.safe_dump_all(objs), encoding="utf-8")
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                [str(nca), "--connectivity", "-r", str(path), "-o", "txt_no_fw_rules"],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None, ""
        return time.perf_counter() - t0, proc.stdout


def _pod_pairs_nca(text: str) -> dict[tuple[str, str], str]:
    pairs: dict[tuple[str, str], str] = {}
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if m and m["src"].endswith("[Pod]") and m["dst"].endswith("[Pod]"):
            key = (m["src"][:-5], m["dst"][:-5])
            pairs[key] = (pairs.get(key, "") + " " + m["conn"]).strip()
    return pairs


def _nca_allows(conn: str, protocol: str, port: int) -> bool:
    if conn.strip() == "All connections":
        return True
    for body in re.findall(r"\{([^}]*)\}", conn):
        protos = re.search(r"protocols:([A-Za-z0-9, ]+?)(?:,dst_ports:|$)", body)
        if not protos or protocol not in [p.strip() for p in protos.group(1).split(",")]:
            continue
        ports = re.search(r"dst_ports:([0-9,\-]+)", body)
        if not ports:
            return True
        for span in ports.group(1).split(","):
            lo, _, hi = span.partition("-")
            if int(lo) <= port <= int(hi or lo):
                return True
    return False


def _compare(mx: ConnectivityMatrix, nca_text: str) -> str:
    """Pod-pair agreement, and port agreement on both edges of every port atom."""
    nca = _pod_pairs_nca(nca_text)
    ours = {(c.src, c.dst): c for c in mx.connections(external=False)}
    # NCA only reports pairs it sees; riskgrid adds an assumed kube-dns only when none exists,
    # and the synthetic cluster declares one, so the pod sets are the same.
    only_ours = set(ours) - set(nca)
    only_nca = set(nca) - set(ours)
    port_diffs = 0
    for key in set(ours) & set(nca):
        for atom in mx.ports:
            if not atom.has_ports:
                continue
            for port in {atom.lo, atom.hi}:
                mine = mx.allowed(key[0], key[1], port, atom.protocol)
                if mine != _nca_allows(nca[key], atom.protocol, port):
                    port_diffs += 1
    return (
        f"pairs riskgrid={len(ours)} nca={len(nca)} only-riskgrid={len(only_ours)} "
        f"only-nca={len(only_nca)} port-disagreements={port_diffs}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,50,100")
    ap.add_argument("--nca-timeout", type=float, default=900.0)
    ap.add_argument("--no-nca", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"{'tenants':>7} {'pods':>5} {'classes':>7} {'policies':>8} "
        f"{'rg matrix s':>11} {'rg check s':>10} {'rg peak MiB':>11} "
        f"{'rg no-tier s':>12} {'nca no-tier s':>13}  agreement"
    )
    for n in sizes:
        objs = cluster_objects(n)
        t_mx, mx = _time(lambda objs=objs: connectivity(objs))
        tenants, allow = tenants_and_allow_lists(n)
        t_chk, findings = _time(lambda mx=mx, t=tenants, a=allow: check_tenant_isolation(mx, t, a))
        assert not findings, findings[:3]
        peak = _peak_mib(
            lambda objs=objs, t=tenants, a=allow: check_tenant_isolation(connectivity(objs), t, a)
        )
        plain = cluster_objects(n, with_tier=False)
        t_plain, mx_plain = _time(lambda plain=plain: connectivity(plain))
        nca_text = ""
        t_nca: float | None = None
        if not args.no_nca:
            t_nca, nca_text = _run_nca(_nca_objects(plain, mx_plain), args.nca_timeout)
        agreement = (
            _compare(mx_plain, nca_text)
            if t_nca is not None
            else ("skipped" if args.no_nca else f"NCA timed out after {args.nca_timeout:g}s")
        )
        nca_cell = f"{t_nca:13.2f}" if t_nca is not None else f"{'-':>13}"
        print(
            f"{n:>7} {len(mx.pods):>5} {len(mx.classes):>7} {len(mx.cluster.policies):>8} "
            f"{t_mx:>11.2f} {t_chk:>10.2f} {peak:>11.0f} {t_plain:>12.2f} {nca_cell}  {agreement}",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""Service benchmark: submit throughput and latency with 50 concurrent clients on loopback,
status-read latency, and end-to-end latency of a small job (submit → result.json).

A real `riskgrid serve --dev` subprocess (SQLite, local engine) is measured from this process
with asyncio + httpx. There is no named peer for the API itself; numbers are printed with the
machine they ran on. Run:  .venv/bin/python benchmarks/bench_service.py [--clients 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from riskgrid.service.devkeys import mint_token  # noqa: E402
from riskgrid.service.jobfiles import pack_job  # noqa: E402

ADMINS = "riskgrid-platform-admins"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(state: Path, runner: bool) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "RISKGRID_STATE_DIR": str(state),
        "RISKGRID_RATE_LIMIT_BURST": "1000000",
        "RISKGRID_RATE_LIMIT_PER_SECOND": "1000000",
        # runner off: jobs stay queued, so the API is measured alone
        "RISKGRID_RUNNER": "1" if runner else "0",
    }
    cmd = [
        sys.executable,
        "-m",
        "riskgrid.cli.main",
        "serve",
        "--dev",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    log = (state.parent / f"{state.name}.log").open("wb")
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def tenant_doc() -> dict:
    doc = yaml.safe_load((REPO / "examples/tenants/eq-vol.yaml").read_text())
    return doc


def job_body(tmp: Path) -> dict:
    src = REPO / "examples/jobs/small.yaml"
    doc = yaml.safe_load(src.read_text())
    doc["metadata"]["labels"] = {
        "riskgrid.dev/tenant": "eq-vol",
        "riskgrid.dev/cost-centre": "CC-4711",
    }
    for sec, key in (("portfolio", "file"), ("marketData", "snapshot"), ("marketData", "history")):
        if doc["spec"].get(sec, {}).get(key):
            doc["spec"][sec][key] = str((src.parent / doc["spec"][sec][key]).resolve())
    path = tmp / "job.yaml"
    path.write_text(yaml.safe_dump(doc))
    job, files = pack_job(path)
    return {"job": job, "files": files}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def load(
    url: str, token: str, method: str, path: str, body: dict | None, clients: int, per_client: int
) -> tuple[list[float], float, list[str]]:
    lat: list[float] = []
    ids: list[str] = []
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120, limits=limits
    ) as c:

        async def one() -> None:
            for _ in range(per_client):
                t = time.perf_counter()
                r = await c.request(method, path, json=body)
                lat.append(time.perf_counter() - t)
                if r.status_code >= 400:
                    raise SystemExit(f"{method} {path}: {r.status_code} {r.text[:200]}")
                if method == "POST":
                    ids.append(r.json()["id"])

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(clients)))
        wall = time.perf_counter() - t0
    return lat, wall, ids


def report(name: str, lat: list[float], wall: float) -> None:
    print(
        f"{name:<34} n={len(lat):>5}  {len(lat) / wall:8.1f} req/s  "
        f"p50 {statistics.median(lat) * 1000:8.1f} ms  p99 {pct(lat, 0.99) * 1000:8.1f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--per-client", type=int, default=4)
    ap.add_argument("--e2e-runs", type=int, default=5)
    args = ap.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory(prefix="rg-bench-") as tmp_s:
        tmp = Path(tmp_s)
        body = job_body(tmp)

        # -- API throughput (runner off) ----------------------------------------------------
        state = tmp / "a"
        proc, url = start(state, runner=False)
        try:
            admin = mint_token(state / "dev", "root", [ADMINS])
            dev = mint_token(state / "dev", "dana", ["risk-eq-vol-quants"])
            r = httpx.post(
                f"{url}/v1/tenants",
                json=tenant_doc(),
                headers={"Authorization": f"Bearer {admin}"},
                timeout=60,
            )
            r.raise_for_status()
            asyncio.run(load(url, dev, "POST", "/v1/tenants/eq-vol/jobs", body, 2, 2))  # warm-up
            lat, wall, ids = asyncio.run(
                load(
                    url, dev, "POST", "/v1/tenants/eq-vol/jobs", body, args.clients, args.per_client
                )
            )
            report(f"submit ({args.clients} clients)", lat, wall)
            lat, wall, _ = asyncio.run(
                load(
                    url, dev, "GET", f"/v1/jobs/{ids[-1]}", None, args.clients, args.per_client * 5
                )
            )
            report(f"job status ({args.clients} clients)", lat, wall)
            lat, wall, _ = asyncio.run(
                load(url, dev, "GET", "/v1/jobs?limit=50", None, args.clients, args.per_client * 2)
            )
            report(f"job list ({args.clients} clients)", lat, wall)
        except BaseException:
            print((state.parent / "a.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            stop(proc)

        # -- end to end: submit → running → result.json, one job at a time -----------------
        state = tmp / "b"
        proc, url = start(state, runner=True)
        try:
            admin = mint_token(state / "dev", "root", [ADMINS])
            dev = mint_token(state / "dev", "dana", ["risk-eq-vol-quants"])
            h = {"Authorization": f"Bearer {dev}"}
            httpx.post(
                f"{url}/v1/tenants",
                json=tenant_doc(),
                headers={"Authorization": f"Bearer {admin}"},
                timeout=60,
            ).raise_for_status()
            e2e: list[float] = []
            with httpx.Client(base_url=url, headers=h, timeout=60) as c:
                for _ in range(args.e2e_runs + 1):
                    t = time.perf_counter()
                    job_id = c.post("/v1/tenants/eq-vol/jobs", json=body).json()["id"]
                    while c.get(f"/v1/jobs/{job_id}").json()["state"] not in (
                        "succeeded",
                        "failed",
                        "cancelled",
                    ):
                        time.sleep(0.02)
                    c.get(f"/v1/jobs/{job_id}/result").raise_for_status()
                    e2e.append(time.perf_counter() - t)
            e2e = e2e[1:]  # the first run includes worker pool start-up
            print(
                f"{'small job submit→result (e2e)':<34} n={len(e2e):>5}  "
                f"p50 {statistics.median(e2e) * 1000:8.1f} ms  max {max(e2e) * 1000:8.1f} ms"
            )
        finally:
            stop(proc)


if __name__ == "__main__":
    main()

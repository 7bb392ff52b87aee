"""Service benchmark (issue #12 §2): 50 concurrent clients on loopback against a real
``riskgrid serve --dev`` subprocess (SQLite, runner off so the API is measured alone).

Reported per scenario, min/median over ``--repeats`` runs, with ``/healthz`` probed every 20 ms
throughout:

* submit with the files re-sent every time (the peer: what every submit cost before),
* submit content-addressed (hashes only: the files are already stored for the tenant),
* status reads,
* content-addressed submits while one abusive client (one principal, 200 concurrent submits
  and 2 MB policy dry-runs) floods the server; its own status codes are printed too.

Goals: submit ≥ 200 req/s and p99 ≤ 250 ms content-addressed; health p99 ≤ 100 ms under flood.
The load average is printed before and after: other processes share the machine.
Run:  .venv/bin/python benchmarks/bench_service.py [--clients 50] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from riskgrid.service.devkeys import mint_token  # noqa: E402
from riskgrid.service.jobfiles import content_hash, pack_job  # noqa: E402

ADMINS = "riskgrid-platform-admins"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(state: Path, runner: bool, **extra: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        **extra,
        "RISKGRID_STATE_DIR": str(state),
        # default rate limits (50/s, burst 200 per principal): the abusive client meets them
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


def tenant_doc(name: str = "eq-vol") -> dict:
    doc = yaml.safe_load((REPO / "examples/tenants/eq-vol.yaml").read_text())
    doc["metadata"]["name"] = name
    if name != "eq-vol":
        doc["spec"].pop("namespace", None)
        doc["spec"]["groups"] = {k: [f"{name}-{k}"] for k in doc["spec"]["groups"]}
        doc["spec"].pop("cloudIdentity", None)
    return json.loads(json.dumps(doc, default=str))


def job_body(tmp: Path, tenant: str = "eq-vol") -> dict:
    src = REPO / "examples/jobs/small.yaml"
    doc = yaml.safe_load(src.read_text())
    doc["metadata"]["labels"] = {
        "riskgrid.dev/tenant": tenant,
        "riskgrid.dev/cost-centre": "CC-4711",
    }
    for sec, key in (("portfolio", "file"), ("marketData", "snapshot"), ("marketData", "history")):
        if doc["spec"].get(sec, {}).get(key):
            doc["spec"][sec][key] = str((src.parent / doc["spec"][sec][key]).resolve())
    path = tmp / f"job-{tenant}.yaml"
    path.write_text(yaml.safe_dump(doc))
    job, files = pack_job(path)
    return {"job": job, "files": files}


def by_reference(body: dict) -> dict:
    """The same submission, content-addressed: hashes instead of the files' bytes."""
    return {
        "job": body["job"],
        "refs": {rel: content_hash(b64) for rel, b64 in body["files"].items()},
    }


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


@dataclass
class Run:
    lat: list[float] = field(default_factory=list)
    codes: dict[int, int] = field(default_factory=dict)
    wall: float = 0.0
    server_cpu_ms: float = 0.0  # server CPU (all its processes) per measured request

    def ok(self) -> list[float]:
        return self.lat

    @property
    def rate(self) -> float:
        return len(self.lat) / self.wall if self.wall else 0.0


class LeanConnection:
    """A keep-alive HTTP/1.1 connection on asyncio streams: the measured clients' load generator.

    httpx costs ~5 ms of CPU per request here, as much as the server's whole submit; on a 2-core
    machine shared by clients and server that cost is taken from the server. This client costs a
    fraction of a millisecond, so the figures measure the server (the CPU per request of each
    side is printed). It reads ``Content-Length`` and chunked bodies, and reconnects when the
    server closes the connection.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(head + body)
        status_line, *lines = (
            (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        )
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines if h)
        }
        if headers.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
                data += (await self.reader.readexactly(size + 2))[:-2]
            await self.reader.readuntil(b"\r\n")
        else:
            data = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.writer.close()
            self.reader = self.writer = None
        return int(status_line.split()[1]), data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def request_head(method: str, path: str, token: str, body: bytes) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()


async def clients_load(
    url: str,
    requests: list[tuple[str, str, str, dict | None]],  # (token, method, path, body) per client
    per_client: int,
    run: Run,
) -> None:
    host, port = url.removeprefix("http://").split(":")

    async def one(token: str, method: str, path: str, body: dict | None) -> None:
        data = json.dumps(body).encode() if body is not None else b""  # encoded once
        head = request_head(method, path, token, data)
        conn = LeanConnection(host, int(port))
        try:
            for _ in range(per_client):
                t = time.perf_counter()
                code, text = await asyncio.wait_for(conn.request(head, data), 120)
                took = time.perf_counter() - t
                run.codes[code] = run.codes.get(code, 0) + 1
                if code < 400:
                    run.lat.append(took)
                elif code >= 500:
                    raise SystemExit(f"{method} {path}: {code} {text[:200]!r}")
        finally:
            conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(one(*req) for req in requests))
    run.wall = time.perf_counter() - t0


async def abuse(url: str, token: str, body: dict, big: dict, stop: asyncio.Event, run: Run) -> None:
    """One principal: 200 concurrent submits and large policy dry-runs, until told to stop."""
    limits = httpx.Limits(max_connections=220)
    h = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    check, submit = json.dumps(big).encode(), json.dumps(body).encode()  # encoded once
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as c:

        async def loop(i: int) -> None:
            while not stop.is_set():
                try:
                    if i % 10 == 0:
                        r = await c.post("/v1/policy/check", content=check, headers=h)
                    else:
                        r = await c.post("/v1/tenants/t0/jobs", content=submit, headers=h)
                except httpx.HTTPError:  # a timed-out or refused request is counted, not fatal
                    run.codes[0] = run.codes.get(0, 0) + 1
                    continue
                run.codes[r.status_code] = run.codes.get(r.status_code, 0) + 1
                if r.status_code == 429:
                    await asyncio.sleep(float(r.headers.get("Retry-After", "1")) / 10)

        await asyncio.gather(*(loop(i) for i in range(200)))


def _probe_proc(url: str, stop: Any, out: Any) -> None:
    """Own process: health latency is measured without the load generator's own delays."""
    lat: list[float] = []
    asyncio.run(_probe_until(url, stop, lat))
    out.put(lat)


async def _probe_until(url: str, stop: Any, lat: list[float]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        while not stop.is_set():
            t = time.perf_counter()
            r = await c.get("/healthz")
            lat.append(time.perf_counter() - t)
            assert r.status_code == 200
            await asyncio.sleep(0.02)


def _abuse_proc(url: str, token: str, body: dict, big: dict, stop: Any, out: Any) -> None:
    """Own process, so the flood's request encoding does not slow the measured clients."""
    run = Run()

    async def main() -> None:
        flag = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set():
                await asyncio.sleep(0.05)
            flag.set()

        await asyncio.gather(watch(), abuse(url, token, body, big, flag, run))

    asyncio.run(main())
    out.put(run.codes)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the server and its work processes)."""
    import psutil

    proc = psutil.Process(pid)
    total = sum(proc.cpu_times()[:2])
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.Error):  # a child that just exited
            total += sum(child.cpu_times()[:2])
    return total


def scenario(
    url: str,
    reqs: list,
    per_client: int,
    abuser: tuple[str, dict, dict] | None,
    server_pid: int | None = None,
) -> tuple[Run, list[float], Run]:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    run, bad = Run(), Run()
    stop, q_health, q_bad = ctx.Event(), ctx.Queue(), ctx.Queue()
    probe = ctx.Process(target=_probe_proc, args=(url, stop, q_health), daemon=True)
    flood = None
    try:
        probe.start()
        if abuser:
            flood = ctx.Process(target=_abuse_proc, args=(url, *abuser, stop, q_bad), daemon=True)
            flood.start()
            time.sleep(3.0)  # the abuser is in full swing before the measured clients start
        else:
            time.sleep(1.0)
        cpu0 = cpu_seconds(server_pid) if server_pid else 0.0
        asyncio.run(clients_load(url, reqs, per_client, run))
        if server_pid and run.lat:
            run.server_cpu_ms = (cpu_seconds(server_pid) - cpu0) * 1000 / len(run.lat)
        stop.set()
        health = q_health.get(timeout=120)
        probe.join(30)
        if flood:
            bad.codes = q_bad.get(timeout=300)
            flood.join(30)
    finally:  # nothing outlives a failed scenario (a probe left running would spin forever)
        stop.set()
        for p in (probe, flood):
            if p is not None and p.is_alive():
                p.join(10)
                if p.is_alive():
                    p.terminate()
    return run, health, bad


def e2e(url: str, token: str, tenant: str, body: dict, runs: int) -> list[float]:
    """Submit (content-addressed) → poll every 10 ms until done → fetch result.json."""
    h = {"Authorization": f"Bearer {token}"}
    out: list[float] = []
    with httpx.Client(base_url=url, timeout=60, headers=h) as c:
        for _ in range(runs):
            t = time.perf_counter()
            r = c.post(f"/v1/tenants/{tenant}/jobs", json=body)
            r.raise_for_status()
            jid, state = r.json()["id"], "queued"
            deadline = time.monotonic() + 120
            while state in ("queued", "running"):
                if time.monotonic() > deadline:
                    raise SystemExit(f"job {jid} not done within 120 s")
                time.sleep(0.01)
                state = c.get(f"/v1/jobs/{jid}").json()["state"]
            if state != "succeeded":
                raise SystemExit(f"job {jid} {state}")
            c.get(f"/v1/jobs/{jid}/result").raise_for_status()
            out.append(time.perf_counter() - t)
    return out


def e2e_bench(tmp: Path, repeats: int, runs: int) -> None:
    """Small-job end to end, warm worker pool (default) vs per-job workers (the peer), same run."""
    servers = {}
    try:
        for name, warm in (("warm", "1"), ("cold", "0")):
            state = tmp / f"e2e-{name}"
            proc, url = start(state, runner=True, RISKGRID_WARM_WORKERS=warm)
            servers[name] = proc
            admin = mint_token(state / "dev", "root", [ADMINS])
            r = httpx.post(
                f"{url}/v1/tenants",
                json=tenant_doc("t0"),
                headers={"Authorization": f"Bearer {admin}"},
                timeout=60,
            )
            r.raise_for_status()
            token = mint_token(state / "dev", "dana", ["t0-developers"])
            full = job_body(tmp, "t0")
            e2e(url, token, "t0", full, 1)  # uploads the files; warms the pool (or not)
            servers[name] = (proc, url, token, by_reference(full))
        res: dict[str, list[float]] = {"warm": [], "cold": []}
        for _ in range(repeats):
            for name in ("warm", "cold"):
                _, url, token, body = servers[name]
                res[name].append(statistics.median(e2e(url, token, "t0", body, runs)))
        for name, label in (("warm", "warm worker pool"), ("cold", "peer: workers per job")):
            v = sorted(x * 1000 for x in res[name])
            print(
                f"{'small job e2e, ' + label:<44} p50 of {runs}: min {v[0]:7.1f} "
                f"med {statistics.median(v):7.1f} ms",
                flush=True,
            )
    finally:
        for entry in servers.values():
            stop(entry[0] if isinstance(entry, tuple) else entry)


def summary(name: str, runs: list[Run], health: list[list[float]] | None = None) -> None:
    rates = sorted(r.rate for r in runs)
    p50 = sorted(statistics.median(r.lat) * 1000 for r in runs if r.lat)
    p99 = sorted(pct(r.lat, 0.99) * 1000 for r in runs if r.lat)
    codes: dict[int, int] = {}
    for r in runs:
        for k, v in r.codes.items():
            codes[k] = codes.get(k, 0) + v
    line = (
        f"{name:<44} req/s min {rates[0]:7.1f} med {statistics.median(rates):7.1f} | "
        f"p50 med {statistics.median(p50):7.1f} ms | p99 min {p99[0]:7.1f} med "
        f"{statistics.median(p99):7.1f} ms | server CPU/req med "
        f"{statistics.median(r.server_cpu_ms for r in runs):5.1f} ms | "
        f"codes {dict(sorted(codes.items()))}"
    )
    if health:
        hp = sorted(pct(h, 0.99) * 1000 for h in health)
        hm = sorted(statistics.median(h) * 1000 for h in health)
        line += (
            f" | health p50 {statistics.median(hm):6.1f} ms p99 med {statistics.median(hp):6.1f} ms"
        )
    print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--tenants", type=int, default=5)
    ap.add_argument("--per-client", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--e2e-runs", type=int, default=5, help="jobs per e2e measurement")
    ap.add_argument("--only", choices=("api", "e2e"), default=None)
    ap.add_argument(
        "--scenarios",
        default="full,refs,status,abuse",
        help="comma-separated API scenarios to run (full, refs, status, abuse)",
    )
    args = ap.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, loadavg {Path('/proc/loadavg').read_text().strip()}"
    )
    print(
        f"{args.clients} clients (distinct developers, {args.tenants} tenants), "
        f"{args.per_client} requests each, {args.repeats} runs; min/median over runs"
    )
    with tempfile.TemporaryDirectory(prefix="rg-bench-") as tmp_s:
        tmp = Path(tmp_s)
        if args.only != "api":
            e2e_bench(tmp, args.repeats, args.e2e_runs)
            print(f"loadavg: {Path('/proc/loadavg').read_text().strip()}", flush=True)
        if args.only == "e2e":
            return
        state = tmp / "a"
        proc, url = start(state, runner=False)
        print(f"server pid {proc.pid}", flush=True)
        try:
            admin = mint_token(state / "dev", "root", [ADMINS])
            tenants = [f"t{i}" for i in range(args.tenants)]
            bodies = {}
            for t in tenants:
                r = httpx.post(
                    f"{url}/v1/tenants",
                    json=tenant_doc(t),
                    headers={"Authorization": f"Bearer {admin}"},
                    timeout=60,
                )
                r.raise_for_status()
                bodies[t] = job_body(tmp, t)
            devs = [
                (
                    mint_token(
                        state / "dev", f"dev{i}", [f"{tenants[i % len(tenants)]}-developers"]
                    ),
                    tenants[i % len(tenants)],
                )
                for i in range(args.clients)
            ]
            full = [(tok, "POST", f"/v1/tenants/{t}/jobs", bodies[t]) for tok, t in devs]
            refs = [
                (tok, "POST", f"/v1/tenants/{t}/jobs", by_reference(bodies[t])) for tok, t in devs
            ]
            # warm-up: every tenant has uploaded its files once
            scenario(url, full[: len(tenants)], 1, None)
            status = [
                (tok, "GET", "/v1/jobs?limit=1", None) for tok, _ in devs
            ]  # each reads its own tenant's newest job page
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p", "namespace": "x"},
                "spec": {"containers": [{"name": f"c{i}", "image": "nginx"} for i in range(40)]},
            }
            big = {"objects": [pod] * 500}
            abuser = (mint_token(state / "dev", "mallory", ["t0-developers"]), bodies["t0"], big)
            results: dict[str, list] = {k: [] for k in ("full", "refs", "status", "abuse")}
            health: dict[str, list] = {k: [] for k in results}
            bad_runs: list[Run] = []
            for _ in range(args.repeats):
                for key, reqs, ab in (
                    ("full", full, None),
                    ("refs", refs, None),
                    ("status", status, None),
                    ("abuse", refs, abuser),
                ):
                    if key not in args.scenarios.split(","):
                        continue
                    run, h, bad = scenario(
                        url, reqs, args.per_client * (5 if key == "status" else 1), ab, proc.pid
                    )
                    print(f"  {key}: {run.rate:.1f} req/s, codes {run.codes}", flush=True)
                    results[key].append(run)
                    health[key].append(h)
                    if ab:
                        bad_runs.append(bad)
            print(f"loadavg after: {Path('/proc/loadavg').read_text().strip()}")
            for key, name in (
                ("full", "submit, files re-sent (peer)"),
                ("refs", "submit, content-addressed (refs)"),
                ("status", "status reads (job list page)"),
                ("abuse", "submit refs + 1 abusive client"),
            ):
                if results[key]:
                    summary(name, results[key], health[key])
            codes: dict[int, int] = {}
            for r in bad_runs:
                for k, v in r.codes.items():
                    codes[k] = codes.get(k, 0) + v
            if bad_runs:
                print(f"{'  abusive client got':<44} codes {dict(sorted(codes.items()))}")
        except BaseException:
            print((state.parent / "a.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            stop(proc)


if __name__ == "__main__":
    main()

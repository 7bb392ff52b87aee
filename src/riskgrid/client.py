"""Python client for the riskgrid API, for notebooks and scripts.

>>> from riskgrid.client import Client
>>> c = Client("http://127.0.0.1:8000", token, tenant="eq-vol")
>>> res = c.submit("examples/jobs/small.yaml").result()   # waits
>>> res.measures          # DataFrame: portfolio and groups × PV/VaR/ES
>>> res.pnl               # DataFrame: scenario, pnl
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from riskgrid.spec.errors import RiskgridError

if TYPE_CHECKING:  # pandas is imported on first use: the client is light to import
    import pandas as pd

TERMINAL = ("succeeded", "failed", "cancelled")


class ClientError(RiskgridError):
    """The server said no; ``status`` is the HTTP status, the message is the server's detail."""

    def __init__(self, status: int, detail: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.body = body or {}


@dataclass
class JobResult:
    """A finished job's ``result.json`` and its Parquet tables as DataFrames."""

    job_id: str
    result: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def pnl(self) -> pd.DataFrame:
        """Portfolio P&L per scenario."""
        return self.tables["pnl_portfolio"]

    @property
    def measures(self) -> pd.DataFrame:
        """PV, VaR and ES of the portfolio and every group, one row each."""
        rows: list[dict[str, Any]] = []

        def add(grouping: str, group: str, m: dict[str, Any]) -> None:
            row: dict[str, Any] = {"grouping": grouping, "group": group, "pv": m["pv"]}
            row.update({f"var_{k}": v for k, v in m.get("var", {}).items()})
            row.update({f"es_{k}": v for k, v in m.get("es", {}).items()})
            row["positions"] = m.get("positions")
            rows.append(row)

        if self.result.get("portfolio"):
            add("portfolio", "total", self.result["portfolio"])
        for grouping, groups in self.result.get("groups", {}).items():
            for name, m in groups.items():
                add(grouping, name, m)
        import pandas as pd

        return pd.DataFrame(rows).set_index(["grouping", "group"])


class Job:
    """A submitted job; methods talk to the server each time."""

    def __init__(self, client: Client, data: dict[str, Any]) -> None:
        self.client = client
        self.id: str = data["id"]
        self.data = data

    def __repr__(self) -> str:
        return f"Job({self.id!r}, state={self.data.get('state')!r})"

    def status(self) -> dict[str, Any]:
        self.data = self.client._json("GET", f"/v1/jobs/{self.id}")
        return self.data

    def cancel(self) -> dict[str, Any]:
        self.data = self.client._json("POST", f"/v1/jobs/{self.id}/cancel")
        return self.data

    def wait(
        self,
        timeout: float | None = None,
        poll: float = 0.5,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the job is finished; returns its final status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            data = self.status()
            if on_progress is not None:
                on_progress(data)
            if data["state"] in TERMINAL:
                return data
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {self.id} still {data['state']} after {timeout}s")
            time.sleep(poll)

    def download(self, out_dir: str | Path) -> list[Path]:
        """Write every result file into ``out_dir`` (each via a temp file + rename)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        data = self.status()
        if data["state"] != "succeeded":
            raise ClientError(409, f"job has no results: it is {data['state']}")
        written = []
        for name in data["result_files"]:
            target = out / name
            tmp = target.with_name(f".{name}.part")
            with tmp.open("wb") as fh:
                for chunk in self.client._stream(f"/v1/jobs/{self.id}/files/{name}"):
                    fh.write(chunk)
            os.replace(tmp, target)
            written.append(target)
        return written

    def result(self, timeout: float | None = None) -> JobResult:
        """Wait for the job, then fetch ``result.json`` and the Parquet tables."""
        data = self.wait(timeout)
        if data["state"] != "succeeded":
            raise ClientError(409, f"job {data['state']}: {data.get('error') or ''}".strip())
        result = self.client._json("GET", f"/v1/jobs/{self.id}/result")
        import pandas as pd

        tables = {}
        for name in data["result_files"]:
            if name.endswith(".parquet"):
                raw = b"".join(self.client._stream(f"/v1/jobs/{self.id}/files/{name}"))
                tables[name.removesuffix(".parquet")] = pd.read_parquet(io.BytesIO(raw))
        return JobResult(job_id=self.id, result=result, tables=tables)


class Client:
    """HTTP client for one server and one bearer token."""

    def __init__(
        self,
        server: str,
        token: str,
        *,
        tenant: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.server = server.rstrip("/")
        self.default_tenant = tenant
        self._http = httpx.Client(
            base_url=self.server,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------------

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        resp = self._http.request(method, path, **kw)
        if resp.status_code >= 400:
            raise _error(resp)
        return resp.json()

    def _stream(self, path: str) -> Iterator[bytes]:
        with self._http.stream("GET", path) as resp:
            if resp.status_code >= 400:
                resp.read()
                raise _error(resp)
            yield from resp.iter_bytes()

    # -- API ---------------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        return self._json("GET", "/v1/me")

    def tenants(self) -> list[dict[str, Any]]:
        return self._json("GET", "/v1/tenants")["items"]

    def tenant(self, name: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/tenants/{name}")

    def create_tenant(self, doc: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/v1/tenants", json=doc)

    def update_tenant(self, name: str, doc: dict[str, Any]) -> dict[str, Any]:
        return self._json("PUT", f"/v1/tenants/{name}", json=doc)

    def submit(self, job: str | Path, tenant: str | None = None) -> Job:
        """Upload a job file and the files it references; returns the queued :class:`Job`."""
        from riskgrid.service.jobfiles import content_hash, pack_job

        tenant = tenant or self.default_tenant
        if not tenant:
            raise RiskgridError("submit: no tenant given (Client(tenant=...) or tenant=...)")
        doc, files = pack_job(Path(job))
        # content-addressed: send the hashes first, upload only what the server lacks
        digests = {rel: content_hash(b64) for rel, b64 in files.items()}
        missing = set(
            self._json(
                "POST",
                f"/v1/tenants/{tenant}/blobs/missing",
                json={"sha256": sorted(set(digests.values()))},
            )["missing"]
        )
        body = {
            "job": doc,
            "files": {rel: b64 for rel, b64 in files.items() if digests[rel] in missing},
            "refs": {rel: d for rel, d in digests.items() if d not in missing},
        }
        data = self._json("POST", f"/v1/tenants/{tenant}/jobs", json=body)
        return Job(self, data)

    def job(self, job_id: str) -> Job:
        return Job(self, self._json("GET", f"/v1/jobs/{job_id}"))

    def jobs(self, tenant: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        """Every job visible to you (follows pagination)."""
        params: dict[str, Any] = {"limit": 100}
        if tenant:
            params["tenant"] = tenant
        if state:
            params["state"] = state
        out: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            page = self._json("GET", "/v1/jobs", params={**params, "offset": offset})
            out.extend(page["items"])
            offset = page["next_offset"]
        return out

    def policy_check(self, objects: list[dict[str, Any]]) -> dict[str, Any]:
        return self._json("POST", "/v1/policy/check", json={"objects": objects})


def _error(resp: httpx.Response) -> ClientError:
    try:
        body = resp.json()
        detail = body.get("detail", resp.text) if isinstance(body, dict) else resp.text
    except ValueError:
        body, detail = {}, resp.text
    if isinstance(detail, list):  # FastAPI validation errors
        detail = "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}" for d in detail
        )
    if isinstance(body, dict):
        for v in body.get("violations", [])[:5]:
            detail += f"\n  {v.get('policy_id')}: {v.get('message')}"
        for p in body.get("problems", [])[:20]:
            detail += f"\n  {p}"
    return ClientError(resp.status_code, str(detail), body if isinstance(body, dict) else None)

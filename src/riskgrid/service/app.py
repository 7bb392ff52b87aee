"""The FastAPI application: wiring of settings, database, auth, audit, runner and routes.

Cross-cutting concerns sit in one ASGI middleware (:class:`FrontDoor`): a request id on every
response, the body-size limit (checked on ``Content-Length`` and again while streaming), the
dev-mode marker header, and the latency histogram.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select
from starlette.exceptions import HTTPException as StarletteHTTPException

from riskgrid.service.audit import AuditLog, AuditSigner, CheckpointStore
from riskgrid.service.auth import JwksCache, TokenVerifier
from riskgrid.service.bulkhead import Bulkheads
from riskgrid.service.db import Database, migrate, schema_ready
from riskgrid.service.denials import DenialAggregator

# re-exported: routes and other modules import these from deps (no app ↔ routes cycle)
from riskgrid.service.deps import (  # noqa: F401
    NOT_FOUND,
    ApiError,
    Caller,
    caller,
    request_id,
    services,
)
from riskgrid.service.metrics import Metrics
from riskgrid.service.models import JobRow
from riskgrid.service.ratelimit import RateLimiter, SqlRateLimiter
from riskgrid.service.runner import JobRunner
from riskgrid.service.settings import Settings
from riskgrid.service.store import ResultStore
from riskgrid.service.verdicts import VerdictCache
from riskgrid.service.workpool import WorkPool

log = logging.getLogger("riskgrid.service")

DEV_HEADER = "x-riskgrid-dev-mode"
DEV_BANNER = (
    "RISKGRID DEV MODE: tokens are signed by a key on local disk; anyone who can read "
    "{dir} can mint any identity. Never expose this server."
)


@dataclass
class Services:
    settings: Settings
    db: Database
    audit: AuditLog
    verifier: TokenVerifier
    limiter: RateLimiter | SqlRateLimiter
    metrics: Metrics
    store: ResultStore
    runner: JobRunner
    denials: DenialAggregator
    bulkheads: Bulkheads
    work: WorkPool  # processes for submissions' CPU-heavy steps (workpool.py)
    dry_runs: WorkPool  # processes of their own for policy dry-runs: they cannot starve submits
    verdicts: VerdictCache  # submission verdicts by content (verdicts.py)
    image_gate: Any = None  # riskgrid.supply.gate.Gate when a trust policy is configured
    # stored tenants by (name, generation, created, updated): routes_tenants._tenant_row
    tenant_rows: dict[Any, Any] = field(default_factory=dict)

    def job_counts(self) -> dict[str, int]:
        with self.db.read() as s:
            return dict(s.execute(select(JobRow.state, func.count()).group_by(JobRow.state)).all())


def uvicorn_options() -> dict[str, Any]:
    """How the server must be run: uvicorn's own proxy-header handling is off (by default it
    believes ``X-Forwarded-For`` from 127.0.0.1); :class:`FrontDoor` does it, and only for
    ``trusted_proxies``."""
    return {"proxy_headers": False, "server_header": False}


def client_address(peer: str, forwarded: str | None, trusted: tuple[str, ...]) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy, in which case the
    right-most ``X-Forwarded-For`` entry that is not itself a trusted proxy."""
    import ipaddress

    nets = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def is_trusted(addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr.strip())
        except ValueError:
            return False
        return any(ip in n for n in nets)

    if not nets or not forwarded or not is_trusted(peer):
        return peer
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if not is_trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage from the proxy's client: fall back to the proxy
    return peer


_HEALTH_BODY = b'{"status":"ok"}'


async def _health(scope: dict, send: Any) -> None:
    """``/healthz``'s answer (the same as the route's, which stays for the OpenAPI document)."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"15")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    body = b"" if scope.get("method") == "HEAD" else _HEALTH_BODY
    await send({"type": "http.response.body", "body": body})


#: Seconds a thread may hold the interpreter lock while another waits for it (CPython's
#: default is 5 ms). The event loop answers health probes and reads sockets; worker threads
#: parse and query. A shorter interval hands the lock back to the loop sooner.
SWITCH_INTERVAL = 0.001


def tune_process() -> None:
    """Process-wide settings for a server process (``riskgrid serve``)."""
    import sys

    sys.setswitchinterval(SWITCH_INTERVAL)


class FrontDoor:
    """Request id, client address, body limit, dev-mode marker and latency metrics."""

    def __init__(
        self,
        app: Any,
        *,
        max_body: int,
        dev_mode: bool,
        metrics: Metrics,
        trusted_proxies: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.dev_mode = dev_mode
        self.metrics = metrics
        self.trusted = trusted_proxies

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        client = scope.get("client")
        if client:
            fwd = dict(scope.get("headers", [])).get(b"x-forwarded-for")
            host = client_address(client[0], fwd.decode("latin-1") if fwd else None, self.trusted)
            scope["client"] = (host, client[1])
        started = time.perf_counter()
        state = {"status": 500, "started": False, "rejected": False}
        extra_headers = [(b"x-request-id", rid.encode())]
        if self.dev_mode:
            extra_headers.append((DEV_HEADER.encode(), b"insecure-local-signing-key"))

        async def send_marked(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["started"] = True
                message["headers"] = list(message.get("headers", [])) + extra_headers
            await send(message)

        async def reject() -> None:
            resp = JSONResponse(
                {"detail": "request body too large", "request_id": rid}, status_code=413
            )
            # a response reads nothing: the request's own receive is passed only to fit ASGI
            await resp({"type": "http"}, receive, send_marked)
            state["rejected"] = True

        async def send_wrapper(message: dict) -> None:
            if not state["rejected"]:  # after a 413, whatever the app says is dropped
                await send_marked(message)

        if scope.get("path") == "/healthz" and scope.get("method") in ("GET", "HEAD"):
            # liveness, answered here: no routing, no dependencies, nothing that can queue
            await _health(scope, send_marked)
            self.metrics.requests.labels(scope["method"], "/healthz", "200").observe(
                time.perf_counter() - started
            )
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        too_big = False
        if length is not None:
            try:
                too_big = int(length) > self.max_body
            except ValueError:
                too_big = True
        if too_big:
            await reject()
        else:
            seen = 0

            async def receive_wrapper() -> dict:
                nonlocal seen
                if state["rejected"]:
                    return {"type": "http.disconnect"}
                message = await receive()
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > self.max_body:
                        # answer now and tell the app the client went away
                        if not state["started"]:
                            await reject()
                        return {"type": "http.disconnect"}
                return message

            try:
                await self.app(scope, receive_wrapper, send_wrapper)
            except Exception:
                if not state["rejected"]:
                    raise
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        self.metrics.requests.labels(
            scope.get("method", ""), template, str(state["status"])
        ).observe(time.perf_counter() - started)


def build_services(settings: Settings) -> Services:
    settings.check()
    if settings.dev_mode:
        from riskgrid.service.devkeys import ensure_dev_key

        ensure_dev_key(settings.dev_dir)
    db = Database(settings.database_url)
    jwks = JwksCache(
        str(settings.jwks),
        ttl_seconds=settings.jwks_cache_seconds,
        min_refetch_seconds=settings.jwks_min_refetch_seconds,
    )
    verifier = TokenVerifier(
        issuer=str(settings.issuer),
        audience=str(settings.audience),
        jwks=jwks,
        leeway_seconds=settings.leeway_seconds,
    )
    holder: dict[str, Services] = {}
    metrics = Metrics(lambda: holder["svc"].job_counts() if "svc" in holder else {})
    store = ResultStore(settings.results_location)
    runner = JobRunner(db, settings, metrics, store)
    audit = AuditLog(
        db,
        signer=AuditSigner(settings.audit_key_path),
        checkpoints=CheckpointStore(settings.audit_checkpoint_path),
        checkpoint_every=settings.audit_checkpoint_every,
    )
    shared = settings.rate_limit_store == "database" or (
        settings.rate_limit_store == "auto" and db.dialect == "postgresql"
    )
    limiter: RateLimiter | SqlRateLimiter = (
        SqlRateLimiter(db, settings.rate_limit_per_second, settings.rate_limit_burst)
        if shared
        else RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    )
    svc = Services(
        settings=settings,
        db=db,
        audit=audit,
        verifier=verifier,
        limiter=limiter,
        metrics=metrics,
        store=store,
        runner=runner,
        denials=DenialAggregator(audit, window_seconds=settings.denial_window_seconds),
        bulkheads=Bulkheads(
            principal_concurrency=settings.principal_concurrency,
            tenant_concurrency=settings.tenant_concurrency,
            tenant_queue=settings.tenant_queue,
            work_threads=settings.work_threads,
        ),
        work=WorkPool("submit", settings.work_processes),
        dry_runs=WorkPool("dry-run", settings.dry_run_processes),
        verdicts=VerdictCache(),
    )
    if settings.trust_policy_file is not None:
        # a bad trust policy stops the server here, with the file, field and reason
        from riskgrid.supply.setup import gate_from_files

        svc.image_gate = gate_from_files(settings.trust_policy_file, settings.image_exceptions)
    holder["svc"] = svc
    return svc


async def _warm_quietly(pool: WorkPool) -> None:
    try:
        await pool.warm()
    except Exception as exc:  # it starts on first use instead
        log.warning("warming the %s work processes failed: %s", pool.name, exc)


def create_app(settings: Settings) -> FastAPI:
    from riskgrid.service import routes_jobs, routes_system, routes_tenants

    svc = build_services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.dev_mode:
            log.warning(DEV_BANNER.format(dir=settings.dev_dir))
        if settings.migrate:
            migrate(svc.db.engine)
        elif not schema_ready(svc.db.engine):
            raise RuntimeError("database schema missing: start with --migrate")
        svc.audit.start()  # the group-commit writer (audit.py)
        if settings.runner_enabled:
            svc.runner.start()
        import threading

        stop = threading.Event()

        def flusher() -> None:  # aggregated denials and checkpoints reach storage in time
            while not stop.wait(max(0.5, settings.denial_window_seconds / 4)):
                try:
                    svc.denials.flush()
                    svc.audit.checkpoint()
                except Exception:  # the next round retries; the request path is unaffected
                    log.exception("audit flush failed")

        flush_thread = threading.Thread(target=flusher, name="audit-flush", daemon=True)
        flush_thread.start()
        import anyio

        # own thread budgets: health probes and body parsing never queue behind route work
        app.state.probe_limiter = anyio.CapacityLimiter(2)
        app.state.parse_limiter = anyio.CapacityLimiter(max(2, settings.work_threads))
        try:  # warm work processes before the first request (not fatal: they start on demand)
            await asyncio.wait_for(svc.work.warm(), 120)
            app.state.warming = asyncio.get_running_loop().create_task(_warm_quietly(svc.dry_runs))
        except Exception:
            log.exception("warming the work processes failed; they start on first use")
        import gc

        # what startup built (routes, models, compiled policy, pools) is never garbage: moved
        # out of the collector's sight, so a full collection under load walks only request
        # objects (shorter pauses in the latency tail)
        gc.freeze()
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            stop.set()
            flush_thread.join(5)
            svc.runner.stop()
            svc.denials.flush(everything=True)
            svc.audit.stop()
            svc.audit.checkpoint()
            svc.db.dispose()
            if svc.image_gate is not None:
                svc.image_gate.close()  # its registry connections

    app = FastAPI(
        title="riskgrid",
        version="0.1.0",
        description=(
            "Self-service grid risk API: tenants, jobs, results, policy checks. "
            "Every call needs an OIDC bearer token." + (" DEV MODE." if settings.dev_mode else "")
        ),
        lifespan=lifespan,
    )
    app.state.services = svc
    app.state.ready = False

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        body = {"detail": exc.detail, "request_id": request_id(request), **exc.extra}
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # one shape for every 422 (see schemas.ProblemsBody); the offending input is not
        # echoed back
        problems = [
            {"loc": [p for p in e.get("loc", ()) if isinstance(p, str | int)], "msg": str(e["msg"])}
            for e in exc.errors()[:50]
        ]
        first = problems[0] if problems else {"loc": [], "msg": "invalid"}
        where = ".".join(str(p) for p in first["loc"])
        body = {
            "detail": f"invalid request: {where}: {first['msg']}",
            "request_id": request_id(request),
            "problems": problems,
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _framework(request: Request, exc: StarletteHTTPException) -> Response:
        # the framework's own 400/404/405/422 in the app's error shape, with the request id
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allow = _allowed_methods(request)
            if request.method == "OPTIONS":
                return Response(status_code=204, headers={"Allow": allow})
            headers["Allow"] = allow
        body: dict[str, Any] = {"detail": str(exc.detail), "request_id": request_id(request)}
        if exc.status_code == 422:
            body["problems"] = [str(exc.detail)]
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    def _allowed_methods(request: Request) -> str:
        methods = {"OPTIONS"}
        path = request.scope.get("path", "")
        for router in (routes_system.router, routes_tenants.router, routes_jobs.router):
            for route in router.routes:
                regex = getattr(route, "path_regex", None)
                if regex and regex.match(path):
                    methods |= set(getattr(route, "methods", None) or ())
        return ", ".join(sorted(methods))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # logged with the request id (never the headers: they hold the token)
        rid = request_id(request)
        log.error("request %s %s %s failed", rid, request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error", "request_id": rid}, status_code=500)

    app.include_router(routes_system.router)
    app.include_router(routes_tenants.router)
    app.include_router(routes_jobs.router)
    from riskgrid.service.ui.routes import router as console  # the web console (/ui)

    app.include_router(console)
    if settings.dev_mode:  # DEV ONLY: an OIDC issuer for the console's sign-in
        from riskgrid.service.devissuer import router as dev_issuer

        app.include_router(dev_issuer)
    app.add_middleware(
        FrontDoor,
        max_body=settings.max_body_bytes,
        dev_mode=settings.dev_mode,
        metrics=svc.metrics,
        trusted_proxies=settings.trusted_proxies,
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated document, plus the responses every operation can really get: 400 (a body
    that is not JSON) everywhere, 429 with its ``Retry-After`` header on the API."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    retry = {
        "Retry-After": {
            "description": "Seconds until a retry can succeed (at least 1).",
            "schema": {"type": "integer", "minimum": 1},
        }
    }
    for path, ops in doc["paths"].items():
        for op in ops.values():
            responses = op.setdefault("responses", {})
            responses.setdefault("400", {"description": "Malformed request.", "content": error})
            if path.startswith("/v1/"):
                r429 = responses.setdefault(
                    "429", {"description": "Rate or concurrency limit.", "content": error}
                )
                r429.setdefault("headers", {}).update(retry)
    doc.setdefault("components", {}).setdefault("schemas", {})
    app.openapi_schema = doc
    return doc

"""The FastAPI application: wiring of settings, database, auth, audit, runner and routes.

Cross-cutting concerns sit in one ASGI middleware (:class:`FrontDoor`): a request id on every
response, the body-size limit (checked on ``Content-Length`` and again while streaming), the
dev-mode marker header, and the latency histogram.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import func, select

from riskgrid.service.audit import AuditEvent, AuditLog
from riskgrid.service.auth import AuthError, JwksCache, Principal, TokenVerifier
from riskgrid.service.db import Database, migrate, schema_ready
from riskgrid.service.metrics import Metrics
from riskgrid.service.models import JobRow
from riskgrid.service.ratelimit import RateLimiter
from riskgrid.service.runner import JobRunner
from riskgrid.service.settings import Settings
from riskgrid.service.store import ResultStore

log = logging.getLogger("riskgrid.service")

DEV_HEADER = "x-riskgrid-dev-mode"
DEV_BANNER = (
    "RISKGRID DEV MODE: tokens are signed by a key on local disk; anyone who can read "
    "{dir} can mint any identity. Never expose this server."
)


class ApiError(Exception):
    """An error response: status, a message safe to show, optional extra fields and headers."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers or {}


NOT_FOUND = "not found"


@dataclass
class Services:
    settings: Settings
    db: Database
    audit: AuditLog
    verifier: TokenVerifier
    limiter: RateLimiter
    metrics: Metrics
    store: ResultStore
    runner: JobRunner

    def job_counts(self) -> dict[str, int]:
        with self.db.session() as s:
            return dict(s.execute(select(JobRow.state, func.count()).group_by(JobRow.state)).all())


@dataclass(frozen=True)
class Caller:
    """An authenticated request: who, which request, and the services to act with."""

    principal: Principal
    request_id: str
    svc: Services

    def audit(
        self,
        action: str,
        decision: str,
        *,
        tenant: str | None = None,
        obj: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.svc.audit.append(
            AuditEvent(
                actor=self.principal.subject,
                action=action,
                decision=decision,
                request_id=self.request_id,
                tenant=tenant,
                object=obj,
                detail=detail,
            )
        )

    def deny(
        self,
        action: str,
        status: int,
        detail: str,
        *,
        tenant: str | None = None,
        obj: str | None = None,
        reason: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> ApiError:
        """Audit a denial and return the error to raise."""
        self.audit(
            action,
            "deny",
            tenant=tenant,
            obj=obj,
            detail={"reason": reason or detail, "status": status},
        )
        return ApiError(status, detail, extra=extra)


bearer = HTTPBearer(auto_error=False, description="OIDC access token (JWT, RS256 or ES256).")


def request_id(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id") or uuid.uuid4().hex


def services(request: Request) -> Services:
    return request.app.state.services


def caller(
    request: Request,
    creds: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> Caller:
    """Authenticate the bearer token, then rate-limit the principal."""
    svc = services(request)
    rid = request_id(request)
    client = request.client.host if request.client else "unknown"
    if creds is None or creds.scheme.lower() != "bearer":
        reason = "missing bearer token"
        principal = None
    else:
        try:
            principal = svc.verifier.verify(creds.credentials)
            reason = ""
        except AuthError as exc:
            principal, reason = None, str(exc)
    if principal is None:
        allowed, wait = svc.limiter.allow(f"ip:{client}")
        svc.metrics.auth_failures.labels(reason).inc()
        svc.audit.append(
            AuditEvent(
                actor="anonymous",
                action=f"{request.method} {request.url.path}"[:64],
                decision="deny",
                request_id=rid,
                detail={"reason": reason, "status": 401, "client": client},
            )
        )
        if not allowed:
            raise ApiError(429, "too many requests", headers={"Retry-After": f"{wait:.0f}"})
        raise ApiError(401, f"not authenticated: {reason}", headers={"WWW-Authenticate": "Bearer"})
    allowed, wait = svc.limiter.allow(f"sub:{principal.subject}")
    c = Caller(principal=principal, request_id=rid, svc=svc)
    if not allowed:
        c.audit("rate-limit", "deny", detail={"status": 429})
        raise ApiError(429, "too many requests", headers={"Retry-After": f"{max(1, round(wait))}"})
    return c


class FrontDoor:
    """Request id, body limit, dev-mode marker and latency metrics for every HTTP request."""

    def __init__(self, app: Any, *, max_body: int, dev_mode: bool, metrics: Metrics) -> None:
        self.app = app
        self.max_body = max_body
        self.dev_mode = dev_mode
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        state = {"status": 500, "started": False, "rejected": False}
        extra_headers = [(b"x-request-id", rid.encode())]
        if self.dev_mode:
            extra_headers.append((DEV_HEADER.encode(), b"insecure-local-signing-key"))

        async def send_marked(message: dict) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["started"] = True
                message["headers"] = list(message.get("headers", [])) + extra_headers
            await send(message)

        async def reject() -> None:
            resp = JSONResponse(
                {"detail": "request body too large", "request_id": rid}, status_code=413
            )
            await resp({"type": "http"}, None, send_marked)
            state["rejected"] = True

        async def send_wrapper(message: dict) -> None:
            if not state["rejected"]:  # after a 413, whatever the app says is dropped
                await send_marked(message)

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
    svc = Services(
        settings=settings,
        db=db,
        audit=AuditLog(db),
        verifier=verifier,
        limiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
        metrics=metrics,
        store=store,
        runner=runner,
    )
    holder["svc"] = svc
    return svc


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
        if settings.runner_enabled:
            svc.runner.start()
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            svc.runner.stop()
            svc.db.dispose()

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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # logged with the request id (never the headers: they hold the token)
        rid = request_id(request)
        log.error("request %s %s %s failed", rid, request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error", "request_id": rid}, status_code=500)

    app.include_router(routes_system.router)
    app.include_router(routes_tenants.router)
    app.include_router(routes_jobs.router)
    app.add_middleware(
        FrontDoor,
        max_body=settings.max_body_bytes,
        dev_mode=settings.dev_mode,
        metrics=svc.metrics,
    )
    return app

"""What every route shares: the error type, the authenticated caller, the service container,
and the route class that parses request bodies off the event loop with a depth bound.

Routes import from here, never from ``app`` (which imports the routes): no import cycle.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import Depends, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from riskgrid.service.audit import AuditEvent
from riskgrid.service.auth import AuthError, KeysUnavailable, Principal

if TYPE_CHECKING:
    from riskgrid.service.app import Services

NOT_FOUND = "not found"
#: Methods named in audit records as sent; anything else is recorded as "other".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


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


def retry_after(seconds: float) -> dict[str, str]:
    """A truthful ``Retry-After``: the wait rounded up, never 0."""
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


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
        headers: dict[str, str] | None = None,
    ) -> ApiError:
        """Audit a denial and return the error to raise."""
        self.audit(
            action,
            "deny",
            tenant=tenant,
            obj=obj,
            detail={"reason": reason or detail, "status": status},
        )
        return ApiError(status, detail, extra=extra, headers=headers)


bearer = HTTPBearer(auto_error=False, description="OIDC access token (JWT, RS256 or ES256).")


def request_id(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id") or uuid.uuid4().hex


def services(request: Request) -> Services:
    return request.app.state.services


def route_template(request: Request) -> str:
    """The matched route's path template (server-owned text, never the caller's path)."""
    return getattr(request.scope.get("route"), "path", None) or "unmatched"


async def caller(
    request: Request,
    creds: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> Caller:
    """Authenticate the bearer token, then rate-limit the principal.

    Failed authentication is rate-limited per client address *before* anything is written:
    over the limit, the request is refused (429) and only counted; within it, the denial goes
    to the audit log through the aggregator (one record per client and reason per window, with
    a count), so a flood of bad tokens cannot turn into a flood of audit rows.

    Async, so that a request authenticated before its body was read (every route of the API:
    :class:`BoundedRoute`) costs no thread here.
    """
    early = request.scope.get("state", {}).get(_CALLER_KEY)
    if early is not None:  # authenticated (and limited) before the body was read
        return early
    fast = authenticate_cached(request, creds)
    if fast is not None:
        return fast
    return await anyio.to_thread.run_sync(authenticate, request, creds)


def authenticate_cached(
    request: Request, creds: HTTPAuthorizationCredentials | None
) -> Caller | None:
    """:func:`authenticate` without a thread, when it needs no I/O: a token verified before
    (cached until its ``exp``), the in-memory rate limiter, and a token left in the bucket.
    None otherwise (then :func:`authenticate` runs in a thread, and refuses or audits)."""
    from riskgrid.service.ratelimit import RateLimiter

    svc = services(request)
    if creds is None or creds.scheme.lower() != "bearer":
        return None
    if not isinstance(svc.limiter, RateLimiter):
        return None  # the shared limiter is a database statement
    principal = svc.verifier.cached(creds.credentials)
    if principal is None:
        return None
    allowed, _ = svc.limiter.allow(f"sub:{principal.subject}")
    if not allowed:  # (a refusal takes no token) the slow path refuses again, and audits
        return None
    return Caller(principal=principal, request_id=request_id(request), svc=svc)


def authenticate(request: Request, creds: HTTPAuthorizationCredentials | None) -> Caller:
    """:func:`caller`'s work: verify, rate-limit, audit (aggregated) — or raise ApiError."""
    svc = services(request)
    rid = request_id(request)
    client = request.client.host if request.client else "unknown"
    unavailable = False
    if creds is None or creds.scheme.lower() != "bearer":
        reason = "missing bearer token"
        principal = None
    else:
        try:
            principal = svc.verifier.verify(creds.credentials)
            reason = ""
        except KeysUnavailable as exc:
            principal, reason, unavailable = None, str(exc), True
        except AuthError as exc:
            principal, reason = None, str(exc)
    if principal is None:
        allowed, wait = svc.limiter.allow(f"ip:{client}")
        svc.metrics.auth_failures.labels(reason).inc()
        method = request.method if request.method in _METHODS else "other"
        svc.denials.record(
            actor="anonymous",
            action="auth",
            request_id=rid,
            key=(client, reason, allowed),
            detail={
                "reason": reason if allowed else "rate limited",
                "status": 401 if allowed else 429,
                "client": client,
                "route": f"{method} {route_template(request)}",
            },
        )
        if not allowed:
            raise ApiError(429, "too many requests", headers=retry_after(wait))
        if unavailable:
            raise ApiError(503, f"not authenticated: {reason}", headers=retry_after(10))
        raise ApiError(401, f"not authenticated: {reason}", headers={"WWW-Authenticate": "Bearer"})
    allowed, wait = svc.limiter.allow(f"sub:{principal.subject}")
    c = Caller(principal=principal, request_id=rid, svc=svc)
    if not allowed:
        svc.denials.record(
            actor=principal.subject,
            action="rate-limit",
            request_id=rid,
            key=("rate-limit",),
            detail={"status": 429, "route": route_template(request)},
        )
        raise ApiError(429, "too many requests", headers=retry_after(wait))
    return c


class BoundedRequest(Request):
    """A request whose JSON body is parsed in a worker thread, with a nesting bound.

    FastAPI parses bodies on the event loop; a 16 MB document there stalls every other request
    (health checks included) for the length of the parse.
    """

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            from riskgrid.spec.yamlbounds import MAX_DEPTH, YamlLimitError, loads_json

            body = await self.body()
            limiter = getattr(self.app.state, "parse_limiter", None)
            try:
                self._json = await anyio.to_thread.run_sync(loads_json, body, limiter=limiter)
            except YamlLimitError:
                raise StarletteHTTPException(
                    422, f"invalid request: body: nested deeper than {MAX_DEPTH} levels"
                ) from None
            except UnicodeDecodeError:
                raise StarletteHTTPException(400, "request body is not UTF-8 JSON") from None
        return self._json


def json_body(model: Any) -> dict[str, Any]:
    """OpenAPI for a route that reads its JSON body itself (in a work process, not through
    FastAPI on the event loop): the same request body FastAPI would have documented."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


_CALLER_KEY = "riskgrid_caller"
#: Endpoints whose work goes through the bulkheads: a principal already at its concurrency
#: limit is refused before its body is even read.
HEAVY_ENDPOINTS = frozenset({"submit_job", "policy_check"})


def _uses_caller(dependant: Any) -> bool:
    return any(d.call is caller or _uses_caller(d) for d in dependant.dependencies)


class BoundedRoute(APIRoute):
    """Every route of the API: bodies parsed by :class:`BoundedRequest`, and — for routes that
    need a caller — authentication, rate limiting and (heavy routes) the caller's concurrency
    limit checked *before* the body is read, so a refused request costs no parse."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        needs_caller = _uses_caller(self.dependant)
        heavy = getattr(self.endpoint, "__name__", "") in HEAVY_ENDPOINTS

        async def bounded(request: Request) -> Response:
            req = BoundedRequest(request.scope, request.receive)
            if needs_caller:
                creds = await bearer(req)
                fast = authenticate_cached(req, creds)
                c = (
                    fast
                    if fast is not None
                    else await anyio.to_thread.run_sync(authenticate, req, creds)
                )
                if heavy and c.svc.bulkheads.in_flight(c.principal.subject) >= (
                    c.svc.bulkheads.principal_limit
                ):
                    c.svc.denials.record(
                        actor=c.principal.subject,
                        action="concurrency-limit",
                        request_id=c.request_id,
                        key=(route_template(req),),
                        detail={"status": 429, "route": route_template(req)},
                    )
                    raise ApiError(
                        429,
                        "too many concurrent requests from you "
                        f"(limit {c.svc.bulkheads.principal_limit})",
                        headers=retry_after(1),
                    )
                req.scope.setdefault("state", {})[_CALLER_KEY] = c
            return await handler(req)

        return bounded

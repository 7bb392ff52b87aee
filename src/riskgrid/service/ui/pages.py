"""What every console page shares: error pages, the signed-in caller, CSRF checks."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import Response

from riskgrid.service import routes_system
from riskgrid.service.deps import ApiError, Caller
from riskgrid.service.ui.sessions import COOKIE, Session
from riskgrid.service.ui.web import UiError, current, render, session_caller

JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
TenantName = Annotated[str, Path(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]
FileName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]


def error_page(request: Request, exc: UiError) -> Response:
    session, _ = current(request)
    if exc.status == 401:
        session = None
    resp = render(
        request,
        "error.html",
        exc.status,
        session=session,
        status=exc.status,
        message=exc.message,
        problems=exc.problems,
    )
    if exc.status == 401:
        resp.delete_cookie(COOKIE, path="/ui")
    return resp


def as_ui_error(exc: ApiError) -> UiError:
    problems = [str(p) for p in exc.extra.get("problems", [])]
    problems += [
        f"{v.get('policy_id')}: {v.get('message')}" for v in exc.extra.get("violations", [])
    ]
    return UiError(exc.status, exc.detail, problems=problems)


def page(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn UiError / ApiError raised by a handler into an HTML error page with its status."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(request: Request, *args: Any, **kw: Any) -> Any:
            try:
                return await fn(request, *args, **kw)
            except UiError as exc:
                return error_page(request, exc)
            except ApiError as exc:
                return error_page(request, as_ui_error(exc))

        return run_async

    @functools.wraps(fn)
    def run(request: Request, *args: Any, **kw: Any) -> Any:
        try:
            return fn(request, *args, **kw)
        except UiError as exc:
            return error_page(request, exc)
        except ApiError as exc:
            return error_page(request, as_ui_error(exc))

    return run


def signed_in(request: Request) -> tuple[Session, Caller]:
    session, expired = current(request)
    if session is None:
        if expired:
            raise UiError(401, "Your session has expired. Sign in again.")
        raise UiError(401, "Sign in to use the console.")
    return session, session_caller(request, session)


def check_csrf(request: Request, session: Session, c: Caller, value: Any) -> None:
    """Every state-changing form carries the session's CSRF token; a form from before a
    sign-out (or from another site) does not."""
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    if not session.csrf_ok(value if isinstance(value, str) else None) or (
        origin is not None and origin != own
    ):
        c.deny("ui.csrf", 403, "csrf token invalid", obj=request.url.path)  # audited
        raise UiError(
            403, "This form has expired or did not come from this console. Reload the page."
        )


def me_of(c: Caller) -> dict[str, Any]:
    return routes_system.me(c).model_dump()

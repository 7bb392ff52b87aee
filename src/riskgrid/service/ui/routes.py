"""The console's pages under ``/ui``.

Each page authenticates its session's token exactly as the API authenticates a bearer token
(:func:`riskgrid.service.deps.authenticate`) and then calls the API's own route functions
(``routes_jobs.list_jobs``, ``get_job``, ``submit_job``, ``cancel_job``, ``get_result``,
``get_file``; ``routes_tenants.get_tenant``, ``update_tenant``; ``routes_system.me``): the same
authorisation, audit records, errors and numbers as the API, no second implementation.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response

from riskgrid.service.ui import admin, jobs, signin
from riskgrid.service.ui.pages import FileName
from riskgrid.service.ui.web import STATIC

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("")
def ui_root() -> Response:
    return RedirectResponse("/ui/jobs", status_code=303)


router.include_router(signin.router)
router.include_router(jobs.router)
router.include_router(admin.router)

_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


@router.get("/static/{name}")
def static(name: FileName) -> Response:
    path = STATIC / name
    if path.suffix not in _STATIC_TYPES or not path.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(
        path,
        media_type=_STATIC_TYPES[path.suffix],
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
        },
    )

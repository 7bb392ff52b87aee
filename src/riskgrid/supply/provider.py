"""The gate as an OPA Gatekeeper external data provider (ratify-compatible response values).

Gatekeeper POSTs ``ProviderRequest`` (``request.keys``: the image references of the object
under review) and expects ``ProviderResponse`` with one item per key. Each item's value
carries the digest the verdict is about, ``verified`` and the reasons (what RG-IMG-005 reads)
and, for tools written against ratify's provider, ``isSuccess``. A key that is not an image
reference (or could not be tied to a digest) gets an item ``error``; a malformed request gets
``systemError``. Either way the Rego sees no verified verdict and refuses: never fails open.
The contract is in docs/supply-chain.md; it was exercised with the exported ConstraintTemplate
evaluated by regorus calling this server over HTTP, never by a real Gatekeeper.
"""

from __future__ import annotations

from typing import Any

from riskgrid.supply.gate import Gate

API_VERSION = "externaldata.gatekeeper.sh/v1beta1"
MAX_KEYS = 256


def _response(items: list[dict[str, Any]], system_error: str = "") -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ProviderResponse",
        "response": {"idempotent": True, "items": items, "systemError": system_error},
    }


def provider_response(gate: Gate, body: Any) -> dict[str, Any]:
    """The ProviderResponse for a decoded ProviderRequest ``body``."""
    request = body.get("request") if isinstance(body, dict) else None
    keys = request.get("keys") if isinstance(request, dict) else None
    if (
        not isinstance(body, dict)
        or body.get("kind") != "ProviderRequest"
        or not isinstance(keys, list)
        or not all(isinstance(k, str) for k in keys)
    ):
        return _response(
            [],
            "malformed ProviderRequest: expected kind ProviderRequest and "
            "request.keys, a list of image references",
        )
    if len(keys) > MAX_KEYS:
        return _response([], f"too many keys ({len(keys)} > {MAX_KEYS})")
    items = []
    for key in dict.fromkeys(keys):
        d = gate.verify(key)
        value = {
            "digest": d.digest,
            "verified": d.allowed,
            "isSuccess": d.allowed,
            "reasons": [f"{r.rule}: {r.message}" for r in d.reasons],
        }
        # A refusal is a verdict (value.verified false, with reasons), not an error; only a
        # key that cannot be tied to a digest is an item error (Rego then has no verdict).
        error = "" if d.digest else "; ".join(d.messages())
        items.append({"key": key, "value": value, "error": error})
    return _response(items)


def provider_app(gate: Gate) -> Any:
    """An ASGI app with ``POST /validate`` (the path a Gatekeeper ``Provider`` names)."""
    import json

    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def validate(request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            body = json.loads(raw) if len(raw) <= 1024 * 1024 else None
        except ValueError:
            body = None
        # verification does network I/O: off the event loop
        answer = await run_in_threadpool(provider_response, gate, body)
        status = 400 if answer["response"]["systemError"] else 200
        return JSONResponse(answer, status_code=status)

    return Starlette(routes=[Route("/validate", validate, methods=["POST"])])

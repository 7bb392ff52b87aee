"""Registry trouble: verdict cache and outage (a real registry stopped mid-test), and hostile
registries (a real HTTP server on loopback answering 401, 404, 500 or nothing at all)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from registry_proc import Registry
from supply_helpers import NOW, release, trust_policy

from riskgrid.supply.gate import Gate

DIGEST = "sha256:" + "ab" * 32


def test_verdicts_are_cached_by_digest_and_an_outage_fails_closed(tmp_path, keys):
    reg = Registry(tmp_path / "registry")
    reg.start()
    try:
        host = reg.host
        first = release(host, "riskgrid/worker", "1.0", keys)
        second = release(host, "riskgrid/worker", "1.1", keys)
        now = [NOW]
        gate = Gate(trust_policy(host, keys, cache_ttl="10m"), clock=lambda: now[0])
        pinned = f"{host}/riskgrid/worker@{first}"
        cold = gate.verify(pinned)
        assert cold.allowed and not cold.cached
        warm = gate.verify(pinned)
        assert warm.allowed and warm.cached and warm.digest == first
        reg.stop()  # the registry goes away mid-test
        # a digest verified within the TTL is still known; everything else fails closed
        assert gate.verify(pinned).cached
        by_tag = gate.verify(f"{host}/riskgrid/worker:1.0")
        uncached = gate.verify(f"{host}/riskgrid/worker@{second}")
        for d in (by_tag, uncached):
            assert not d.allowed
            assert [r.rule for r in d.reasons] == ["registry"]
            assert "registry unavailable, failing closed" in d.reasons[0].message
            assert d.messages()[0].startswith(d.image)
        now[0] = NOW + dt.timedelta(minutes=11)  # the cached verdict expires
        expired = gate.verify(pinned)
        assert not expired.allowed and [r.rule for r in expired.reasons] == ["registry"]
        reg.start()  # back: verified afresh
        assert gate.verify(pinned).allowed
        gate.close()
    finally:
        reg.stop()


class _Hostile(BaseHTTPRequestHandler):
    mode = "500"
    release_hang = threading.Event()

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        if self.mode == "hang":
            self.release_hang.wait(30)
            return
        status = int(self.mode)
        body = b'{"errors":[{"code":"DENIED"}]}'
        self.send_response(status)
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="http://127.0.0.1:1/token"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_HEAD = _answer


@pytest.fixture
def hostile() -> Iterator[tuple[str, type[_Hostile]]]:
    handler = type("Handler", (_Hostile,), {"release_hang": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", handler
    handler.release_hang.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("401", "refused access (credentials are not configured for this registry): HTTP 401"),
        ("404", "has no such object: HTTP 404"),
        ("500", "registry unavailable, failing closed: registry 127.0.0.1"),
        ("hang", "did not answer GET /v2/riskgrid/pricer/manifests/1.0 within 1s"),
    ],
)
def test_a_hostile_registry_is_refused_with_the_image_and_the_rule(hostile, keys, mode, expected):
    host, handler = hostile
    handler.mode = mode
    gate = Gate(trust_policy(host, keys, timeout="1s"))
    started = time.monotonic()
    d = gate.verify(f"{host}/riskgrid/pricer:1.0")
    elapsed = time.monotonic() - started
    gate.close()
    assert not d.allowed
    assert [r.rule for r in d.reasons] == ["registry"]
    assert expected in d.reasons[0].message
    assert d.messages()[0].startswith(f"{host}/riskgrid/pricer:1.0: rule registry: ")
    assert elapsed < 20  # the deadline held: nothing hangs

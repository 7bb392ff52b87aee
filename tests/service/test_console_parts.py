"""The console's parts without a browser: PKCE, the dev issuer's checks, sessions, the tail
table and exception expiry states (the pages themselves: test_console_browser.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest
from service_helpers import LiveServer, start_server

from riskgrid.risk.measures import es, var
from riskgrid.service.devissuer import s256
from riskgrid.service.settings import DEV_AUDIENCE, DEV_ISSUER, Settings
from riskgrid.service.ui import oidc
from riskgrid.service.ui.posture import exception_views
from riskgrid.service.ui.results import scenario_date, tails
from riskgrid.service.ui.sessions import SessionStore
from riskgrid.threats.metrics import ExceptionRecord


def test_pkce_s256_matches_rfc7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert oidc.challenge(verifier) == s256(verifier)


def _code(srv: LiveServer, c: httpx.Client, verifier: str, redirect: str | None = None) -> str:
    redirect = redirect or f"{srv.url}/ui/callback"
    r = c.post(
        "/dev/oidc/authorize",
        data={
            "client_id": "riskgrid-console",
            "redirect_uri": redirect,
            "state": "s1",
            "code_challenge": s256(verifier),
            "user": "ann",
            "groups": "g1,g2",
            "ttl": "60",
        },
    )
    assert r.status_code == 303, r.text
    return parse_qs(urlsplit(r.headers["location"]).query)["code"][0]


def test_dev_issuer_checks_what_a_provider_checks(
    make_server: Callable[..., LiveServer],
) -> None:
    srv = make_server()
    verifier = "v" * 43
    with httpx.Client(base_url=srv.url, follow_redirects=False) as c:
        token_req = {
            "grant_type": "authorization_code",
            "redirect_uri": f"{srv.url}/ui/callback",
            "client_id": "riskgrid-console",
        }
        code = _code(srv, c, verifier)
        wrong = c.post(
            "/dev/oidc/token", data={**token_req, "code": code, "code_verifier": "w" * 43}
        )
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        # a code is redeemed at most once, even after a failed attempt
        again = c.post(
            "/dev/oidc/token", data={**token_req, "code": code, "code_verifier": verifier}
        )
        assert again.status_code == 400
        code = _code(srv, c, verifier)
        ok = c.post("/dev/oidc/token", data={**token_req, "code": code, "code_verifier": verifier})
        assert ok.status_code == 200 and ok.headers["cache-control"] == "no-store"
        me = srv.client(ok.json()["access_token"]).get("/v1/me").json()
        assert me["subject"] == "ann" and me["groups"] == ["g1", "g2"]
        # not an open redirector; PKCE is not optional
        base = {"response_type": "code", "client_id": "riskgrid-console", "state": "s",
                "code_challenge": s256(verifier), "code_challenge_method": "S256"}  # fmt: skip
        evil = c.get(
            "/dev/oidc/authorize", params={**base, "redirect_uri": "http://evil/ui/callback"}
        )
        assert evil.status_code == 400 and "redirect_uri" in evil.text
        plain = {**base, "redirect_uri": f"{srv.url}/ui/callback", "code_challenge_method": "plain"}
        assert c.get("/dev/oidc/authorize", params=plain).status_code == 400
        other = {**base, "redirect_uri": f"{srv.url}/ui/callback", "client_id": "someone"}
        assert c.get("/dev/oidc/authorize", params=other).status_code == 400


def test_without_dev_mode_there_is_no_dev_issuer_and_sign_in_says_what_is_missing(
    tmp_path: Path,
) -> None:
    from riskgrid.service.devkeys import ensure_dev_key

    ensure_dev_key(tmp_path / "keys")  # any JWKS file will do: nobody signs in here
    srv = start_server(
        Settings(
            state_dir=tmp_path / "state",
            issuer=DEV_ISSUER,
            audience=DEV_AUDIENCE,
            jwks=str(tmp_path / "keys" / "jwks.json"),
        )
    )
    try:
        with httpx.Client(base_url=srv.url, follow_redirects=False) as c:
            assert c.get("/dev/oidc/authorize").status_code == 404
            assert c.post("/dev/oidc/token").status_code == 404
            r = c.get("/ui/login/start")
            assert r.status_code == 503 and "RISKGRID_OIDC_AUTHORIZE_URL" in r.text
            # outside dev mode the pending-sign-in cookie is Secure even over plain HTTP
            srv_cfg = srv.settings.with_(oidc_authorize_url="https://idp.example/auth",
                                         oidc_token_url="https://idp.example/token")  # fmt: skip
            srv.app.state.services.settings = srv_cfg  # type: ignore[attr-defined]
            r = c.get("/ui/login/start")
            assert r.status_code == 303
            assert r.headers["location"].startswith("https://idp.example/auth?")
            cookie = r.headers["set-cookie"].lower()
            assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    finally:
        srv.stop()


def test_sessions_expire_without_leeway_and_logins_are_single_use() -> None:
    store = SessionStore()
    login = store.begin_login()
    assert store.finish_login(login.id, "wrong-state") is None
    assert store.finish_login(login.id, login.state) is None  # consumed by the failed attempt
    login = store.begin_login()
    assert store.finish_login(login.id, login.state) == login
    s = store.create("tok", "ann", token_exp=time.time() + 0.3, max_seconds=3600)
    assert store.get(s.id) == (s, False)
    assert s.csrf_ok(s.csrf) and not s.csrf_ok("x") and not s.csrf_ok(None)
    time.sleep(0.4)
    assert store.get(s.id) == (None, True)  # said once …
    assert store.get(s.id) == (None, False)  # … then simply gone
    capped = store.create("tok", "ann", token_exp=time.time() + 3600, max_seconds=10)
    assert capped.expires_at <= time.time() + 10


@pytest.mark.parametrize("convention", ["quantile", "lower-tail", "linear"])
def test_tail_table_weights_give_back_the_es_and_mark_the_var_scenario(convention: str) -> None:
    rng = np.random.default_rng(7)
    pnl = rng.normal(0.0, 1000.0, 250)
    labels = [f"hs:2026-{1 + i // 28:02d}-{1 + i % 28:02d}" for i in range(249)] + ["stress:x"]
    result = {
        "convention": convention,
        "portfolio": {"var": {"0.99": var(pnl, 0.99, convention)},
                      "es": {"0.975": es(pnl, 0.975, convention)}},
    }  # fmt: skip
    (tail,) = tails(result, labels, pnl)
    weighted = -sum(r.weight * r.pnl for r in tail.rows)
    assert weighted == pytest.approx(result["portfolio"]["es"]["0.975"], rel=1e-12)
    assert [r.pnl for r in tail.rows] == sorted(r.pnl for r in tail.rows)  # worst first
    marked = [r for r in tail.rows if r.is_var]
    if marked and convention != "linear":
        assert -marked[0].pnl == pytest.approx(result["portfolio"]["var"]["0.99"])
    elif marked:  # linear interpolates: the marked scenario is the worse of the two bracketing
        assert -marked[0].pnl >= result["portfolio"]["var"]["0.99"]
    assert all(r.date == r.scenario[3:] for r in tail.rows if r.scenario.startswith("hs:"))
    assert scenario_date("stress:x") == ""


def test_exceptions_are_expired_expiring_or_in_force() -> None:
    today = date(2026, 11, 29)
    records = [
        ExceptionRecord("late", ("RG-1",), date(2026, 11, 28), "a.yaml"),
        ExceptionRecord("soon", ("RG-2",), date(2026, 12, 29), "a.yaml"),
        ExceptionRecord("later", ("RG-3",), date(2026, 12, 30), "a.yaml"),
    ]
    views = {v.name: (v.state, v.days_left) for v in exception_views(records, today)}
    assert views == {"late": ("expired", -1), "soon": ("expiring", 30), "later": ("in-force", 31)}

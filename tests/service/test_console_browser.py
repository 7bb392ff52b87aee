"""The web console (/ui) in a real headless Chromium against a real server on loopback.

One server for the module, one browser for the session; each test has its own browser
context (cookies), signs in through the dev issuer's authorization-code + PKCE flow, and
checks what the page shows against the API's own answers.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from browser_helpers import CHROMIUM_ARGS, CONTRAST_JS, ensure_chromium
from playwright import sync_api as playwright_api
from service_helpers import PLATFORM_ADMINS, REPO, LiveServer, dev_settings, start_server

SHOTS = REPO / "results" / "console"
SMALL = REPO / "examples" / "jobs" / "small.yaml"
MARKET = REPO / "examples" / "market"
UPLOAD_MAX = 2 * 1024 * 1024
HOSTILE = '<b data-xss="1">pwned</b><img src="x" data-xss="2">'
WAIT_MS = 120_000
#: The posture page assesses the whole threat model on its first view (seconds; far more on a
#: machine shared by many test runs).
SLOW_PAGE_MS = 180_000


def _tenant(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    from service_helpers import tenant_doc

    doc = tenant_doc(name)
    doc["metadata"]["labels"] = labels or {}
    return doc


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = ensure_chromium()
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(path), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    state = tmp_path_factory.mktemp("console")
    srv = start_server(
        dev_settings(
            state,
            max_running_jobs=1,
            threatmodel_dir=REPO / "threatmodel",
            threats_evidence=state / "no-evidence.json",
            ui_upload_max_bytes=UPLOAD_MAX,
        )
    )
    with srv.client(srv.token("root", PLATFORM_ADMINS)) as adm:
        for doc in (_tenant("alpha"), _tenant("beta", {"note": HOSTILE})):
            assert adm.post("/v1/tenants", json=doc).status_code == 201
    yield srv
    srv.stop()


@pytest.fixture
def new_page(browser: Any, console: LiveServer) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def make(width: int = 1366, height: int = 900) -> Any:
        ctx = browser.new_context(base_url=console.url, viewport={"width": width, "height": height})
        ctx.set_default_timeout(30_000)
        contexts.append(ctx)
        page = ctx.new_page()
        page.dialogs = []  # type: ignore[attr-defined]
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def sign_in(page: Any, user: str, *groups: str, ttl: int = 3600) -> None:
    """The real flow: console → dev issuer's authorize page → code → token → session."""
    page.goto("/ui/jobs")
    page.click("#signin")
    page.wait_for_url(re.compile(r"/dev/oidc/authorize\?"))
    assert "code_challenge_method=S256" in page.url
    page.fill("#user", user)
    page.fill("#groups", ",".join(groups))
    page.fill("#ttl", str(ttl))
    page.click("#signin")
    page.wait_for_url(re.compile(r"/ui/jobs$"))
    assert page.inner_text(".who") == user


def api(srv: LiveServer, user: str, *groups: str) -> httpx.Client:
    return srv.client(srv.token(user, *groups))


def job_count(srv: LiveServer) -> int:
    with api(srv, "root", PLATFORM_ADMINS) as c:
        return len(c.get("/v1/jobs", params={"limit": 100}).json()["items"])


def submit_api(srv: LiveServer, tenant: str, user: str, group: str) -> str:
    from riskgrid.service.jobfiles import pack_job

    doc, files = pack_job(SMALL)
    with api(srv, user, group) as c:
        r = c.post(f"/v1/tenants/{tenant}/jobs", json={"job": doc, "files": files})
        assert r.status_code == 201, r.text
        return r.json()["id"]


def shot(page: Any, name: str) -> None:
    """A screenshot artefact (results/console/), copied into docs/img/ by the docs step."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def upload(page: Any, job: dict[str, Any] | None = None, **kw: Any) -> Any:
    """Fill the submit form; return the response of the form's POST."""
    files = kw.get("files", [MARKET / "snapshot-2026-11-20.yaml", MARKET / "history.csv"])
    if job is not None:
        page.set_input_files("#job", job)
    if files:
        page.set_input_files("#files", [str(f) for f in files])

    def is_post(r: Any) -> bool:
        return r.url.endswith("/ui/jobs") and r.request.method == "POST"

    with page.expect_response(is_post) as info:
        page.click("#submit")
    page.wait_for_load_state()
    return info.value


def small_job(name: str = "small.yaml", text: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "mimeType": "application/yaml",
        "buffer": (text if text is not None else SMALL.read_text()).encode(),
    }


# ------------------------------------------------------------------ the main path


def test_submit_watch_and_result_matches_result_json(
    console: LiveServer, new_page: Callable[..., Any]
) -> None:
    page = new_page()
    sign_in(page, "ann", "alpha-devs")
    shot(page, "jobs-empty")
    resp = upload(page, small_job())
    assert resp.status == 303
    page.wait_for_url(re.compile(r"/ui/jobs/[0-9a-f]{32}$"))
    job_id = page.url.rsplit("/", 1)[-1]
    # live progress: the page polls and reloads itself when the job is done
    page.wait_for_selector("#job-state:text('succeeded')", timeout=WAIT_MS)
    page.wait_for_selector("#pv", timeout=WAIT_MS)
    with api(console, "ann", "alpha-devs") as c:
        result = c.get(f"/v1/jobs/{job_id}/result").json()
    p = result["portfolio"]
    assert page.inner_text("#pv") == f"{p['pv']:,.2f}"
    assert float(page.get_attribute("#pv", "data-value")) == p["pv"]
    for conf, value in p["var"].items():
        assert page.inner_text(f"dd.var[data-conf='{conf}']") == f"{value:,.2f}"
    for conf, value in p["es"].items():
        assert page.inner_text(f"dd.es[data-conf='{conf}']") == f"{value:,.2f}"
    # every group row of result.json, with its numbers
    for grouping, groups in result["groups"].items():
        for name, m in groups.items():
            row = page.locator(f"#groups tr[data-grouping='{grouping}'][data-group='{name}']")
            assert row.locator("td.pv").inner_text() == f"{m['pv']:,.2f}"
            assert (
                row.locator("td.var").first.inner_text() == f"{next(iter(m['var'].values())):,.2f}"
            )
    top = result["topContributors"]["positions"][0]
    assert page.locator("#top tbody tr").first.locator("th").inner_text() == top["id"]
    assert page.locator("#top tbody tr").first.locator("td").first.inner_text() == (
        f"{top['componentVar']:,.2f}"
    )
    delta = result["greeks"]["total"]["total"]["delta_cash"]
    assert f"{delta:,.2f}" in page.inner_text("#greeks")
    # tail scenarios: dated, worst first, and the VaR scenario's loss is the VaR
    tail = page.locator("table.tail tbody tr")
    assert tail.count() >= 1
    first = tail.first.locator("td")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}|—", first.nth(0).inner_text())
    var_row = page.locator("table.tail tbody tr", has_text="VaR scenario")
    if var_row.count():  # the VaR scenario lies in the ES tail here (ES 97.5% ⊇ VaR 99%)
        var_pnl = var_row.first.locator("td").nth(1).inner_text()
        assert var_pnl == f"{-next(iter(p['var'].values())):,.2f}"
    # the histogram is an image that really decoded, from an authorised asset URL
    page.locator("#histogram").scroll_into_view_if_needed()
    deadline = time.monotonic() + 30
    while not page.evaluate("document.querySelector('#histogram').naturalWidth > 0"):
        assert time.monotonic() < deadline, "histogram image did not load"
        time.sleep(0.2)
    svg = page.request.get(f"/ui/jobs/{job_id}/pnl.svg")
    assert svg.status == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.body()
    # task statistics and downloads
    assert str(result["tasks"]["total"]) in page.inner_text("#task-stats")
    with page.expect_download() as dl:
        page.click("#downloads a:text('result.json')")
    assert json.loads(Path(dl.value.path()).read_text()) == result
    shot(page, "job-result")
    page.goto("/ui/jobs")
    assert page.locator(f"#job-rows tr[data-job='{job_id}'][data-state='succeeded']").count() == 1
    shot(page, "jobs")


def test_cancel_and_rerun(
    console: LiveServer,
    new_page: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # One job runs at a time on this server, and (test fault hook, read by the in-process
    # runner when a job starts) the first job's task #1 sleeps past its timeout, so it cannot
    # finish before it is cancelled: the third job surely still waits when we cancel it. Warm
    # workers make a small job take well under a second, so timing alone would be a race.
    monkeypatch.setenv("RISKGRID_TEST_FAULTS", "slow:#1")
    monkeypatch.setenv("RISKGRID_TEST_FAULTS_SLOW", "600")
    monkeypatch.setenv("RISKGRID_TEST_FAULTS_DIR", str(tmp_path / "markers"))
    ids = [submit_api(console, "alpha", "cara", "alpha-devs") for _ in range(3)]
    page = new_page()
    sign_in(page, "cara", "alpha-devs")
    page.goto(f"/ui/jobs/{ids[2]}")
    assert page.inner_text("#job-state") in {"queued", "running"}
    page.click("#cancel")
    page.wait_for_selector("#job-state:text('cancelled')")
    with api(console, "cara", "alpha-devs") as c:
        assert c.get(f"/v1/jobs/{ids[2]}").json()["state"] == "cancelled"
        page.click("#rerun")
        page.wait_for_url(re.compile(r"/ui/jobs/[0-9a-f]{32}$"))
        again = page.url.rsplit("/", 1)[-1]
        assert again not in ids
        view = c.get(f"/v1/jobs/{again}").json()
        assert view["name"] == "small" and view["state"] in {"queued", "running"}
        for job_id in (ids[0], ids[1], again):  # leave the machine idle for the next tests
            c.post(f"/v1/jobs/{job_id}/cancel")


# ------------------------------------------------------------------ bad input


def test_bad_uploads_say_why_with_the_right_status_and_write_nothing(
    console: LiveServer, new_page: Callable[..., Any]
) -> None:
    page = new_page()
    sign_in(page, "dan", "alpha-devs")
    before = job_count(console)
    doc = yaml.safe_load(SMALL.read_text())
    del doc["spec"]["valuationDate"]
    resp = upload(page, small_job(text=yaml.safe_dump(doc)))
    assert resp.status == 422
    assert "spec.valuationDate" in page.inner_text("#problems")
    shot(page, "jobs-validation-error")

    resp = upload(page, small_job("job.txt", "not: yaml: at: all"))
    assert resp.status == 415 and "not a YAML file" in page.inner_text("#form-error")

    resp = upload(page, small_job(text="spec: [unclosed\n  - x: {"))
    assert resp.status == 422 and "small.yaml" in page.inner_text("#form-error")

    resp = upload(page, small_job(), files=[MARKET / "snapshot-2026-11-20.yaml"])
    assert resp.status == 422
    assert "spec.marketData.history" in page.inner_text("#problems")

    big = {"name": "small.yaml", "mimeType": "application/yaml", "buffer": b"#" * (UPLOAD_MAX + 1)}
    resp = upload(page, big, files=[])
    assert resp.status == 413 and "too large" in page.inner_text("#message")

    page.goto("/ui/jobs")
    resp = upload(page, None, files=[])  # no job file chosen
    assert resp.status == 422 and "job: choose a RiskJob YAML file" in page.inner_text("#problems")

    # a stale CSRF token (from before a sign-out, another tab, or another site)
    page.goto("/ui/jobs")
    page.eval_on_selector("#submit-form input[name=csrf]", "e => e.value = 'stale'")
    resp = upload(page, small_job())
    assert resp.status == 403 and "expired" in page.inner_text("#message")
    assert job_count(console) == before


# ------------------------------------------------------------------ authorisation


def test_tenant_a_cannot_see_or_touch_tenant_b_jobs_through_any_url(
    console: LiveServer, new_page: Callable[..., Any]
) -> None:
    theirs = submit_api(console, "beta", "bob", "beta-devs")
    with api(console, "bob", "beta-devs") as c:
        c.post(f"/v1/jobs/{theirs}/cancel")
    page = new_page()
    sign_in(page, "eve", "alpha-devs")
    assert page.locator(f"#job-rows tr[data-job='{theirs}']").count() == 0
    absent = "0" * 32
    for url in (
        f"/ui/jobs/{theirs}",
        f"/ui/jobs/{theirs}/progress",
        f"/ui/jobs/{theirs}/pnl.svg",
        f"/ui/jobs/{theirs}/files/result.json",
    ):
        mine, nothing = page.request.get(url), page.request.get(url.replace(theirs, absent))
        assert mine.status == 404 == nothing.status, url
        assert theirs not in mine.text()
    csrf = page.get_attribute("input[name=csrf]", "value")
    for action in ("cancel", "rerun"):
        r = page.request.post(f"/ui/jobs/{theirs}/{action}", form={"csrf": csrf})
        assert r.status == 404, action
    for url in ("/ui/tenants", "/ui/posture"):
        assert page.request.get(url).status == 403
    with api(console, "bob", "beta-devs") as c:
        assert c.get(f"/v1/jobs/{theirs}").json()["state"] == "cancelled"


def test_viewer_cannot_submit(console: LiveServer, new_page: Callable[..., Any]) -> None:
    page = new_page()
    sign_in(page, "vic", "alpha-viewers")
    assert page.locator("#submit-form").count() == 0
    before = job_count(console)
    csrf = page.get_attribute("input[name=csrf]", "value")
    r = page.request.post(
        "/ui/jobs",
        multipart={
            "csrf": csrf,
            "tenant": "alpha",
            "job": {
                "name": "small.yaml",
                "mimeType": "application/yaml",
                "buffer": SMALL.read_bytes(),
            },
            "files": {"name": "history.csv", "mimeType": "text/csv", "buffer": b"x"},
        },
    )
    assert r.status == 403 and "may not submit" in r.text()
    assert job_count(console) == before


def test_session_expiry_and_sign_out(console: LiveServer, new_page: Callable[..., Any]) -> None:
    page = new_page()
    sign_in(page, "fay", "alpha-devs", ttl=3)
    csrf = page.get_attribute("input[name=csrf]", "value")
    time.sleep(3.5)
    resp = page.goto("/ui/jobs")
    assert resp.status == 401 and "expired" in page.inner_text("#message")
    before = job_count(console)
    r = page.request.post("/ui/jobs", multipart={"csrf": csrf, "tenant": "alpha"})
    assert r.status == 401 and job_count(console) == before

    page = new_page()
    sign_in(page, "gus", "alpha-devs")
    cookies = page.context.cookies()
    session = next(c for c in cookies if c["name"] == "riskgrid_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax" and session["path"] == "/ui"
    page.click("#signout")
    page.wait_for_url(re.compile(r"/ui/login\?m=signed-out"))
    assert "signed out" in page.inner_text("#message")
    assert page.goto("/ui/jobs").status == 401
    page.context.add_cookies([session])  # the old cookie, replayed, is dead
    assert page.goto("/ui/jobs").status == 401


# ------------------------------------------------------------------ XSS


def test_hostile_content_is_rendered_inert(
    console: LiveServer, new_page: Callable[..., Any]
) -> None:
    from riskgrid.service.audit import AuditEvent
    from riskgrid.service.models import JobRow

    svc = console.app.state.services  # type: ignore[attr-defined]
    job_id = submit_api(console, "alpha", "hal", "alpha-devs")
    with api(console, "hal", "alpha-devs") as c:
        c.post(f"/v1/jobs/{job_id}/cancel")
    # names are DNS labels at the API; a row written by anything else must still be inert
    with svc.db.session() as s:
        row = s.get(JobRow, job_id)
        row.name, row.error = HOSTILE, f"boom: {HOSTILE}"
    svc.audit.append(
        AuditEvent(actor=HOSTILE, action="job.submit", decision="deny", request_id="x" * 32,
                   tenant="alpha", detail={"reason": HOSTILE})
    )  # fmt: skip
    page = new_page()
    sign_in(page, "root", PLATFORM_ADMINS)
    checks = [
        ("/ui/jobs", "#job-rows"),
        (f"/ui/jobs/{job_id}", "#job-error"),
        ("/ui/tenants", "section[aria-labelledby='t-beta'] .labels"),
        ("/ui/posture?decision=deny", "#audit"),
    ]
    for url, where in checks:
        page.goto(url, timeout=SLOW_PAGE_MS)
        assert HOSTILE in page.inner_text(where), url  # shown as text …
        assert page.locator("[data-xss]").count() == 0, url  # … never as markup
    # an error message that echoes the upload back
    page.goto("/ui/jobs")
    bad = SMALL.read_text().replace(
        "snapshot: ../market/snapshot-2026-11-20.yaml", f"snapshot: '{HOSTILE}'"
    )
    resp = upload(page, small_job(text=bad))
    assert resp.status == 422 and page.locator("[data-xss]").count() == 0
    assert "data-xss" in page.inner_text("#form-error")
    assert page.dialogs == []  # type: ignore[attr-defined]


# ------------------------------------------------------------------ admin pages


def test_tenants_isolation_matrix_and_apply_diff(
    console: LiveServer, new_page: Callable[..., Any], tmp_path: Path
) -> None:
    page = new_page()
    sign_in(page, "root", PLATFORM_ADMINS)
    page.goto("/ui/tenants")
    cells = page.locator("#isolation td[data-from]")
    assert cells.count() == 2  # alpha → beta and beta → alpha
    for i in range(2):
        assert cells.nth(i).inner_text() == "isolated"
    assert "2/2 ordered tenant pairs isolated" in page.inner_text("#iso-summary")
    shot(page, "tenants")
    with api(console, "root", PLATFORM_ADMINS) as c:
        stored = c.get("/v1/tenants/alpha").json()
    changed = dict(stored["tenant"])
    groups = {**changed["spec"]["groups"], "developers": ["alpha-devs", "alpha-quants"]}
    changed["spec"] = {**changed["spec"], "groups": groups}
    path = tmp_path / "alpha.yaml"
    path.write_text(yaml.safe_dump(changed))
    form = page.locator("form[action='/ui/tenants/alpha/diff']")
    form.locator("input[type=file]").set_input_files(str(path))
    form.locator("button").click()
    page.wait_for_selector("#diff")
    diff = page.inner_text("#diff")
    assert re.search(r"^\+.*alpha-quants", diff, re.M)
    assert "passed" in page.inner_text("#verification")
    with api(console, "root", PLATFORM_ADMINS) as c:
        assert c.get("/v1/tenants/alpha").json()["generation"] == stored["generation"]
        page.click("#apply")
        page.wait_for_url(re.compile(r"/ui/tenants$"))
        after = c.get("/v1/tenants/alpha").json()
    assert after["generation"] == stored["generation"] + 1
    assert "alpha-quants" in after["tenant"]["spec"]["groups"]["developers"]


def test_posture_page_numbers_come_from_the_threat_model_and_audit_log(
    console: LiveServer, new_page: Callable[..., Any]
) -> None:
    from datetime import UTC, datetime

    from riskgrid.service.audit import verify_database
    from riskgrid.threats.workflow import assess

    page = new_page()
    sign_in(page, "root", PLATFORM_ADMINS)
    page.goto("/ui/posture", timeout=SLOW_PAGE_MS)
    a = assess(REPO / "threatmodel", REPO, evidence_path=None,
               today=datetime.now(UTC).date(), allow_dirty=True)  # fmt: skip
    for name, value in a.metrics.headline().items():
        assert page.inner_text(f"td[data-metric='{name}']") == str(value), name
    # policy violations per tenant: the same library run with the tenant's own parameters as
    # the verification the API reports (a default-parameter run would flag the desk's images)
    assert page.locator("#violations tbody tr").count() == 2
    with api(console, "root", PLATFORM_ADMINS) as c:
        for name in ("alpha", "beta"):
            report = c.get(f"/v1/tenants/{name}").json()["verification"]["report"]
            policy = [p for p in report["problems"] if p["check"] == "policy"]
            cells = page.locator(f"#violations tbody tr:has(th:text-is('{name}')) td")
            assert sum(int(cells.nth(i).inner_text()) for i in range(cells.count())) == len(policy)
    svc = console.app.state.services  # type: ignore[attr-defined]
    records = verify_database(svc.db).records
    assert re.search(rf"verified — {records - 2}|verified — {records - 1}|verified — {records}",
                     page.inner_text("#chain"))  # fmt: skip
    shot(page, "posture")
    page.select_option("#f-decision", "deny")
    page.click("#filter")
    page.wait_for_url(re.compile(r"decision=deny"), timeout=SLOW_PAGE_MS)
    decisions = page.locator("#audit tbody td.dec-deny")
    rows = page.locator("#audit tbody tr")
    assert rows.count() >= 1 and decisions.count() == rows.count()


# ------------------------------------------------------------------ headers, a11y, layout


def test_csp_cookies_caching_keyboard_contrast_and_laptop_width(
    console: LiveServer, new_page: Callable[..., Any]
) -> None:
    page = new_page(width=1280, height=720)
    sign_in(page, "ida", "alpha-devs")
    resp = page.goto("/ui/jobs")
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and resp.headers["cache-control"] == "no-store"
    # no inline script or style anywhere in the page
    assert page.locator("script:not([src])").count() == 0
    assert page.locator("style, [style]").count() == 0
    for href in page.eval_on_selector_all(
        "link[rel=stylesheet], script[src]", "els => els.map(e => e.href || e.src)"
    ):
        asset = page.request.get(href)
        assert asset.status == 200 and "immutable" in asset.headers["cache-control"]
    # every visible form control has a label
    unlabelled = page.evaluate(
        "() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
        ".filter(e => !e.labels || e.labels.length === 0).map(e => e.id || e.name)"
    )
    assert unlabelled == []
    # keyboard: the first Tab reaches the skip link, and Tab reaches the submit button
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    for _ in range(15):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "submit":
            break
    assert page.evaluate("document.activeElement.id") == "submit"
    assert page.evaluate(CONTRAST_JS) == []
    # laptop width: nothing wider than the window
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

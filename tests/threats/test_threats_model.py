"""riskgrid's own threat model: it validates against this repository, with no dangling reference."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from riskgrid.threats.gate import gate_failures
from riskgrid.threats.loader import load_floors
from riskgrid.threats.metrics import compute
from riskgrid.threats.model import ControlStatus
from riskgrid.threats.report import build, render_html
from riskgrid.threats.validate import Validated, validate


def _session_collection(request: pytest.FixtureRequest, root: Path) -> dict[str, set[str]]:
    """Node ids this pytest session collected in full, per file and folder (empty when the run
    was narrowed by node ids, -k, -m, --deselect or --lf: then validate collects for itself)."""
    cfg = request.config
    narrowed = (
        cfg.option.keyword
        or cfg.option.markexpr
        or cfg.getoption("deselect", None)
        or cfg.getoption("lf", False)
        or any("::" in a for a in cfg.args)
    )
    if narrowed:
        return {}
    roots = [(Path(cfg.invocation_params.dir) / a).resolve() for a in cfg.args]
    seeded: dict[str, set[str]] = {}
    for item in request.session.items:
        file = item.nodeid.split("::", 1)[0]
        for path in (file, str(Path(file).parent)):
            full = (root / path).resolve()
            if any(full == r or r in full.parents for r in roots):
                seeded.setdefault(path, set()).add(item.nodeid)
    return seeded


@pytest.fixture(scope="module")
def platform(repo_root, request) -> Validated:
    # In a full run the session already collected every test: reuse that instead of paying
    # for a second collection in a subprocess.
    seeded = _session_collection(request, repo_root)
    return validate(repo_root / "threatmodel", repo_root=repo_root, collected=seeded)


def test_the_platform_model_validates(platform):
    v = platform
    m = v.model
    # The required content is present.
    assert {a.category.value for a in m.actors} == {
        "external", "tenant-workload", "tenant-user", "platform-operator", "supplier",
    }  # fmt: skip
    assert {b.type.value for b in m.boundaries} >= {
        "internet", "aws-account", "vpc", "managed-control-plane", "cluster", "node-pool",
        "tenant-namespace", "pod",
    }  # fmt: skip
    assert {a.kind.value for a in m.assets} == {"data", "technical", "credential"}
    titles = " ".join(t.title for t in m.threats)
    for needle in ("CVE-2023-48022", "OIDC", "metadata", "Audit log", "starves", "pricer image",
                   "tampered"):  # fmt: skip
        assert needle in titles, needle
    # Every verification an implemented control names resolved to at least one test node.
    resolved: dict[str, set[str]] = {}
    for ver in v.verifications:
        resolved.setdefault(ver.control, set()).add(ver.ref)
    for c in m.controls:
        if c.status is ControlStatus.implemented:
            assert len(resolved.get(c.id, ())) == len(c.verification), c.id


def test_the_platform_model_reports_and_has_floors(platform, repo_root):
    v = platform
    metrics = compute(v.model, set(), v.taxonomies, today=date(2026, 11, 26))
    # Without evidence nothing is verified: residual equals inherent, coverage is zero.
    assert metrics.residual_verified_total == metrics.inherent_total
    assert metrics.preventive_coverage == 0
    doc = build(v.model, metrics, None, head="x", exceptions=[])
    page = render_html(doc, v.model)
    assert "<script" not in page and all(t.id in page for t in v.model.attack_trees)
    floors = load_floors(repo_root / "threatmodel")
    assert set(floors.floors) <= set(metrics.headline())
    assert gate_failures(metrics.headline(), _no_evidence(), floors)  # floors are above zero


def _no_evidence():
    from riskgrid.threats.evidence import Evidence

    return Evidence(generated_at="", commit="x", tree="t", dirty=False, official=True, source="",
                    junit=[], test_files={}, verifications=[], controls={})  # fmt: skip

"""The vectorised evaluator and the scalar trace must agree on every cell; traces name policies."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from netpol_cases import ALL_CASES, Case

from riskgrid.netpol.analysis import connectivity
from riskgrid.netpol.evaluation import ALLOW, DENY, trace
from riskgrid.netpol.matrix import ConnectivityMatrix
from riskgrid.netpol.synthetic import cluster_objects


def _assert_trace_matches(mx: ConnectivityMatrix) -> int:
    codes = {"Allow": ALLOW, "Deny": DENY}
    checked = 0
    for direction, cube in (("ingress", mx.ingress), ("egress", mx.egress)):
        assert set(np.unique(cube)) <= {ALLOW, DENY}
        for local in range(cube.shape[0]):
            for peer in range(cube.shape[1]):
                for port in range(cube.shape[2]):
                    action, steps = trace(mx.program, direction, local, peer, port)
                    assert codes[action] == cube[local, peer, port], (direction, local, peer, port)
                    assert steps and steps[-1].action == action
                    checked += 1
    return checked


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_vectorised_equals_trace_on_cases(case: Case) -> None:
    mx = connectivity(list(yaml.safe_load_all(case.yaml)))
    assert _assert_trace_matches(mx) > 0


def test_vectorised_equals_trace_on_tiered_tenants() -> None:
    mx = connectivity(cluster_objects(2))
    assert _assert_trace_matches(mx) > 10_000


def test_explain_names_tier_policy_and_rule() -> None:
    case = next(c for c in ALL_CASES if c.name == "tier-deny-beats-default-tier-allow")
    mx = connectivity(list(yaml.safe_load_all(case.yaml)))
    denied = mx.explain("dev/client", "prod/web", 8080)
    assert not denied.allowed
    assert denied.ingress is not None and denied.ingress.action == "Deny"
    step = denied.ingress.deciding
    assert step.tier == "security" and step.policy is not None
    assert "security.no-dev" in step.policy and "ingress[0]" in (step.rule or "")
    allowed = mx.explain("prod/client", "prod/web", 8080)
    assert allowed.allowed
    assert allowed.policies() == [
        "GlobalNetworkPolicy security.no-dev (tier security)",
        "NetworkPolicy prod/open (tier default)",
    ]
    assert "Pass by GlobalNetworkPolicy security.no-dev" in allowed.explain()


def test_explain_end_of_tier_and_profile() -> None:
    case = next(c for c in ALL_CASES if c.name == "tier-end-of-tier-deny")
    mx = connectivity(list(yaml.safe_load_all(case.yaml)))
    d = mx.explain("other/scanner", "prod/web", 8080)
    assert d.ingress is not None and "end of tier" in d.ingress.deciding.note
    open_path = mx.explain("other/scanner", "prod/db", 5432)
    assert open_path.allowed
    assert open_path.ingress is not None and "profile" in open_path.ingress.deciding.note


def test_named_port_query_resolves_on_destination() -> None:
    case = next(c for c in ALL_CASES if c.name == "named-port-ingress")
    mx = connectivity(list(yaml.safe_load_all(case.yaml)))
    assert mx.allowed("prod/client", "prod/web", "http")
    assert not mx.allowed("prod/client", "prod/web", "metrics")

"""Properties: object order is irrelevant; Kubernetes allows are monotone under added rules."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from netpol_cases import ALL_CASES

from riskgrid.netpol.analysis import connectivity
from riskgrid.netpol.synthetic import cluster_objects

TIERED = next(c for c in ALL_CASES if c.name == "tier-order")
OBJECTS: list[Any] = [
    *cluster_objects(2),
    *(o for o in yaml.safe_load_all(TIERED.policies) if o["kind"] != "NetworkPolicy"),
]


def _pairs(objs: list[Any]) -> set[tuple[str, str, str]]:
    return {(c.src, c.dst, c.ports) for c in connectivity(objs).connections()}


BASELINE = _pairs(OBJECTS)


@settings(max_examples=15, deadline=None)
@given(st.permutations(range(len(OBJECTS))))
def test_object_order_does_not_matter(order: list[int]) -> None:
    assert _pairs([OBJECTS[i] for i in order]) == BASELINE


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=1), st.sampled_from([80, 443, 6379, 10001]))
def test_adding_an_ingress_rule_to_a_selecting_policy_only_adds(tenant: int, port: int) -> None:
    """Kubernetes rules only allow: adding one to an existing policy never removes a path."""
    objs = copy.deepcopy(cluster_objects(2, with_tier=False))
    before = _pairs(objs)
    for o in objs:
        if (
            o["kind"] == "NetworkPolicy"
            and o["metadata"]["name"] == "allow-ray-internal"
            and o["metadata"]["namespace"].endswith(str(tenant))
        ):
            o["spec"]["ingress"].append({"ports": [{"port": port}]})
    after = _pairs(objs)
    before_keys = {(s, d) for s, d, _ in before}
    assert before_keys <= {(s, d) for s, d, _ in after}
    assert len(after) >= len(before)

"""Bad input is refused with file/field/reason; unmodelled fields are errors, not ignored."""

from __future__ import annotations

from typing import Any

import pytest

from riskgrid.netpol.analysis import connectivity
from riskgrid.netpol.selectors import SelectorError, calico_selector, k8s_selector
from riskgrid.spec.errors import SpecError


def _np(spec: dict[str, Any], ns: str = "a") -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": ns},
        "spec": spec,
    }


def _gnp(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": "g"},
        "spec": spec,
    }


BAD: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "empty-peer",
        _np({"podSelector": {}, "ingress": [{"from": [{}]}]}),
        "spec.ingress[0].from[0]",
        "must set podSelector, namespaceSelector or ipBlock",
    ),
    (
        "ipblock-with-selector",
        _np({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"},
                                                     "podSelector": {}}]}]}),
        "spec.egress[0].to[0]",
        "may not be combined",
    ),
    (
        "except-outside-cidr",
        _np({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8",
                                                                "except": ["11.0.0.0/16"]}}]}]}),
        "spec.egress[0].to[0].ipBlock.except[0]",
        "is not inside",
    ),
    (
        "bad-cidr",
        _np({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.300/8"}}]}]}),
        "spec.egress[0].to[0].ipBlock.cidr",
        "not a valid CIDR",
    ),
    (
        "endport-named",
        _np({"podSelector": {}, "ingress": [{"ports": [{"port": "http", "endPort": 90}]}]}),
        "spec.ingress[0].ports[0].endPort",
        "named port",
    ),
    (
        "endport-below-port",
        _np({"podSelector": {}, "ingress": [{"ports": [{"port": 90, "endPort": 80}]}]}),
        "spec.ingress[0].ports[0].endPort",
        "port..65535",
    ),
    (
        "bad-protocol",
        _np({"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocol": "ICMP"}]}]}),
        "spec.ingress[0].ports[0].protocol",
        "TCP, UDP or SCTP",
    ),
    (
        "bad-policy-type",
        _np({"podSelector": {}, "policyTypes": ["Inbound"]}),
        "spec.policyTypes[0]",
        "Ingress or Egress",
    ),
    (
        "bad-match-operator",
        _np({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Is"}]}}),
        "spec.podSelector",
        "unknown operator",
    ),
    (
        "unknown-tier",
        _gnp({"tier": "nope", "selector": "all()", "ingress": [{"action": "Allow"}]}),
        "spec.tier",
        "tier 'nope' is not defined",
    ),
    (
        "calico-source-ports",
        _gnp({"ingress": [{"action": "Allow", "protocol": "TCP", "source": {"ports": [80]}}]}),
        "spec.ingress[0].source.ports",
        "source ports are not modelled",
    ),
    (
        "calico-service-accounts",
        _gnp({"ingress": [{"action": "Allow", "source": {"serviceAccounts": {"names": ["x"]}}}]}),
        "spec.ingress[0].source.serviceAccounts",
        "not supported",
    ),
    (
        "calico-ports-need-protocol",
        _gnp({"ingress": [{"action": "Allow", "destination": {"ports": [80]}}]}),
        "spec.ingress[0].destination.ports",
        "protocol to be TCP, UDP or SCTP",
    ),
    (
        "calico-bad-action",
        _gnp({"ingress": [{"action": "Drop"}]}),
        "spec.ingress[0].action",
        "must be one of",
    ),
    (
        "calico-bad-selector",
        _gnp({"selector": "app == 'x' &&", "ingress": [{"action": "Allow"}]}),
        "spec.selector",
        "unexpected end",
    ),
    (
        "calico-do-not-track",
        _gnp({"doNotTrack": True, "ingress": [{"action": "Allow"}]}),
        "spec.doNotTrack",
        "not modelled",
    ),
    (
        "host-network-pod",
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "h", "namespace": "a"},
         "spec": {"hostNetwork": True, "containers": []}},
        "spec.hostNetwork",
        "host-network",
    ),
    (
        "bad-container-port",
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
         "spec": {"template": {"spec": {"containers": [{"name": "c",
                                                         "ports": [{"containerPort": 0}]}]}}}},
        "spec.template.spec.containers[0].ports[0].containerPort",
        "1..65535",
    ),
    (
        "global-network-set",
        {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
         "metadata": {"name": "s"}, "spec": {"nets": ["1.2.3.0/24"]}},
        "kind",
        "not modelled",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("obj", "loc", "reason"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_object_is_refused(obj: dict[str, Any], loc: str, reason: str) -> None:
    with pytest.raises(SpecError) as info:
        connectivity([obj], sources=["bundle.yaml doc 3"])
    text = str(info.value)
    assert text.startswith(f"bundle.yaml doc 3: {loc}: "), text
    assert reason in text


def test_all_problems_are_reported_together() -> None:
    bad1 = _np({"podSelector": {}, "ingress": [{"from": [{}]}]})
    bad2 = _np({"podSelector": {}, "policyTypes": ["Nope"]})
    with pytest.raises(SpecError) as info:
        connectivity([bad1, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}},
                      bad2])  # fmt: skip
    assert [p.source for p in info.value.problems] == ["objects[0]", "objects[2]"]


def test_duplicate_pod_and_namespace_are_refused() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "namespace": "a"},
           "spec": {"containers": []}}  # fmt: skip
    with pytest.raises(SpecError, match="pod a/x also comes from objects\\[0\\]"):
        connectivity([pod, pod])
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}
    with pytest.raises(SpecError, match="declared twice"):
        connectivity([ns, ns])


def test_irrelevant_kinds_are_counted_not_failed() -> None:
    objs = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "t"}},
    ]
    mx = connectivity(objs)
    assert mx.cluster.ignored == {"Service": 2, "Role": 1}


@pytest.mark.parametrize(
    ("expr", "labels", "want"),
    [
        ("app == 'a'", {"app": "a"}, True),
        ("app == 'a'", {}, False),
        ("app != 'a'", {}, True),
        ("app != 'a'", {"app": "a"}, False),
        ("has(app)", {"app": ""}, True),
        ("!has(app)", {"app": "x"}, False),
        ("app in {'a', 'b'}", {"app": "b"}, True),
        ("app not in {'a', 'b'}", {}, True),
        ("app in {}", {"app": "a"}, False),
        ("a == 'x' || b == 'y' && c == 'z'", {"b": "y", "c": "z"}, True),
        ("(a == 'x' || b == 'y') && c == 'z'", {"a": "x"}, False),
        ("all()", {}, True),
        ("", {"x": "y"}, True),
        ('name starts with "ab"', {"name": "abc"}, True),
        ('name ends with "bc"', {"name": "abd"}, False),
        ('name contains "b"', {"name": "abd"}, True),
        ("projectcalico.org/namespace == 'ns-1'", {"projectcalico.org/namespace": "ns-1"}, True),
    ],
)
def test_calico_selector(expr: str, labels: dict[str, str], want: bool) -> None:
    assert calico_selector(expr, "x").matches(labels) is want


@pytest.mark.parametrize(
    "expr", ["app ==", "app = 'a'", "has(app", "app in {'a'", "(a == 'b'", "@"]
)
def test_calico_selector_syntax_errors(expr: str) -> None:
    with pytest.raises(SelectorError):
        calico_selector(expr, "x")


def test_k8s_selector_expressions() -> None:
    sel = k8s_selector(
        {
            "matchLabels": {"a": "1"},
            "matchExpressions": [
                {"key": "b", "operator": "In", "values": ["2", "3"]},
                {"key": "c", "operator": "NotIn", "values": ["x"]},
                {"key": "d", "operator": "Exists"},
                {"key": "e", "operator": "DoesNotExist"},
            ],
        },
        "sel",
    )
    assert sel.matches({"a": "1", "b": "3", "d": ""})
    assert not sel.matches({"a": "1", "b": "3", "d": "", "e": "1"})
    assert not sel.matches({"a": "1", "b": "3", "c": "x", "d": ""})
    assert not sel.matches({"a": "1", "b": "4", "d": ""})
    assert k8s_selector({}, "s").matches({"any": "thing"})

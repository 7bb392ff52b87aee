"""Pods with known addresses: ipBlock peers match the pods whose addresses they cover (with
``except``), as Calico enforces; unknown addresses give flagged, not silent, verdicts."""

from __future__ import annotations

from typing import Any

import pytest

from riskgrid.netpol.analysis import connectivity
from riskgrid.spec.errors import SpecError


def _pod(ns: str, name: str, ips: list[str] | None, app: str = "x") -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 8080}]}]},
    }
    if ips is not None:
        obj["status"] = {"podIP": ips[0], "podIPs": [{"ip": ip} for ip in ips]}
    return obj


def _ingress_from_block(cidr: str, excepts: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "from-block", "namespace": "db"},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": cidr, "except": excepts}}]}],
        },
    }


def _world(*pods: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        *pods,
        _pod("db", "pg", ["10.2.0.7"]),
        _ingress_from_block("10.1.0.0/16", ["10.1.128.0/17"]),
    ]


def test_ipblock_matches_pods_whose_address_it_covers() -> None:
    mx = connectivity(
        _world(
            _pod("a", "inside", ["10.1.0.5"]),
            _pod("a", "excepted", ["10.1.200.5"]),
            _pod("a", "elsewhere", ["10.9.0.5"]),
        ),
        flag_unknown_addresses=True,
        add_cluster_dns=False,
    )
    assert mx.allowed("a/inside", "db/pg", 8080)
    assert not mx.allowed("a/excepted", "db/pg", 8080)
    assert not mx.allowed("a/elsewhere", "db/pg", 8080)
    # Same namespace and labels, different address atoms: three classes, not one.
    assert len({mx.class_of[f"a/{n}"] for n in ("inside", "excepted", "elsewhere")}) == 3
    assert mx.undecided() == []
    d = mx.explain("a/excepted", "db/pg", 8080)
    assert not d.depends_on_addresses and "DENIED" in d.explain()


def test_pods_in_one_address_atom_share_a_class() -> None:
    mx = connectivity(
        _world(*(_pod("a", f"p{i}", [f"10.1.0.{i + 1}"]) for i in range(50))),
        flag_unknown_addresses=True,
        add_cluster_dns=False,
    )
    assert len({mx.class_of[f"a/p{i}"] for i in range(50)}) == 1


def test_unknown_address_is_flagged_never_allowed_or_denied() -> None:
    mx = connectivity(
        _world(_pod("a", "pending", None), _pod("a", "inside", ["10.1.0.5"])),
        flag_unknown_addresses=True,
        add_cluster_dns=False,
    )
    assert ("a/pending", "db/pg") in mx.undecided()
    assert ("a/inside", "db/pg") not in mx.undecided()
    listed = {(c.src, c.dst) for c in mx.connections(external=False)}
    assert ("a/pending", "db/pg") not in listed
    assert ("a/inside", "db/pg") in listed
    d = mx.explain("a/pending", "db/pg", 8080)
    assert d.depends_on_addresses and "UNDECIDED" in d.explain()
    assert d.unaddressed == ("a/pending",) and "a/pending has no status.podIP" in d.explain()
    assert {"src": "a/pending", "dst": "db/pg"} in mx.to_dict()["undecided"]


def test_without_the_flag_unknown_addresses_keep_the_old_model() -> None:
    # No address, no flag: pods lie outside every ipBlock (the existing, NCA-checked model).
    mx = connectivity(_world(_pod("a", "pending", None)))
    assert not mx.allowed("a/pending", "db/pg", 8080)
    assert mx.ingress_doubt is None and "undecided" not in mx.to_dict()


def test_dual_stack_pod_half_inside_is_flagged() -> None:
    mx = connectivity(
        _world(_pod("a", "dual", ["10.1.0.5", "fd00::5"])),
        flag_unknown_addresses=True,
        add_cluster_dns=False,
    )
    assert not mx.allowed("a/dual", "db/pg", 8080)
    assert any("only some addresses of a/dual" in w for w in mx.warnings)


def test_bad_pod_address_names_the_field() -> None:
    with pytest.raises(SpecError) as err:
        connectivity([_pod("a", "p", ["10.1.0.300"])])
    assert "status.podIPs[0].ip" in str(err.value)

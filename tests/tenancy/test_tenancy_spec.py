"""The Tenant resource: valid examples load, and every bad input is a precise error."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskgrid.cli.main import main
from riskgrid.spec import registry
from riskgrid.spec.errors import SpecError
from riskgrid.spec.tenant import image_allowed, load_tenant, load_tenants, parse_quantity

DIGEST = "@sha256:" + "ab" * 32
REPO = "111122223333.dkr.ecr.eu-west-2.amazonaws.com/riskgrid"


def test_examples_load(example_tenants) -> None:
    names = {t.name: t for t in example_tenants}
    assert set(names) == {"eq-vol", "fx-options", "rates"}
    assert names["fx-options"].namespace == "desk-fx-options"
    assert names["eq-vol"].namespace == "eq-vol"
    assert names["rates"].spec.quotas.gpu == "4"


def test_schema_is_registered() -> None:
    schema = registry.json_schema("Tenant")
    assert "spec" in schema["properties"]
    assert schema["properties"]["kind"]["const"] == "Tenant"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        ("16Gi", Decimal(16 * 2**30)),
        ("1.5k", Decimal(1500)),
        ("1e3", Decimal(1000)),
        (".5", Decimal("0.5")),
        (4, Decimal(4)),
    ],
)
def test_parse_quantity(text: str | int, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text",
    ["", "abc", "1.5 GB", "2g", "0x10", "1Gib", "--1", "1e", True, "1e100", "9999999Ei", "1e19"],
)
def test_parse_quantity_rejects(text: Any) -> None:
    with pytest.raises(ValueError, match="quantity"):
        parse_quantity(text)


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["Ki", "Mi", "Gi", "Ti"]))
def test_binary_suffixes_are_exact(n: int, suffix: str) -> None:
    power = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40}[suffix]
    assert parse_quantity(f"{n}{suffix}") == n * 2**power


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    node = doc
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node[k]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return doc


BAD = [
    ("metadata.name", "Eq_Vol", "metadata.name", "DNS label"),
    ("metadata.name", "a" * 64, "metadata.name", "DNS label"),
    ("spec.quotas.cpu", "0", "spec.quotas.cpu", "greater than zero"),
    ("spec.quotas.cpu", "-4", "spec.quotas.cpu", "greater than zero"),
    ("spec.quotas.memory", "lots", "spec.quotas.memory", "not a Kubernetes quantity"),
    ("spec.quotas.memory", "16GB", "spec.quotas.memory", "not a Kubernetes quantity"),
    ("spec.quotas.pods", 0, "spec.quotas.pods", "greater than 0"),
    ("spec.quotas.maxRayWorkers", -1, "spec.quotas.maxRayWorkers", "greater than 0"),
    ("spec.quotas.gpu", "0", "spec.quotas.gpu", "greater than zero"),
    ("spec.quotas.gpu", "1.5", "spec.quotas.gpu", "whole number"),
    ("spec.burst.cpu", "-1", "spec.burst.cpu", "must not be negative"),
    ("spec.egress.0.cidrs", ["10.40.12.0/33"], "spec.egress[0].cidrs[0]", "not a CIDR"),
    ("spec.egress.0.cidrs", ["10.40.12.1/24"], "spec.egress[0].cidrs[0]", "host bits set"),
    ("spec.egress.0.cidrs", ["not-an-ip"], "spec.egress[0].cidrs[0]", "not a CIDR"),
    ("spec.egress.0.cidrs", ["0.0.0.0/0"], "spec.egress[0].cidrs[0]", "every address"),
    ("spec.egress.0.cidrs", ["::/0"], "spec.egress[0].cidrs[0]", "every address"),
    ("spec.egress.0.cidrs", ["169.254.169.254/32"], "spec.egress[0].cidrs[0]", "metadata"),
    ("spec.egress.0.cidrs", ["169.254.0.0/16"], "spec.egress[0].cidrs[0]", "metadata"),
    ("spec.egress.0.cidrs", ["128.0.0.0/1"], "spec.egress[0].cidrs[0]", "metadata"),
    ("spec.egress.0.cidrs", ["fd00:ec2::254/128"], "spec.egress[0].cidrs[0]", "metadata"),
    ("spec.egress.0.cidrs", ["fd00::/8"], "spec.egress[0].cidrs[0]", "metadata"),
    ("spec.egress.0.cidrs", ["::ffff:0:0/96"], "spec.egress[0].cidrs[0]", "metadata"),
    ("spec.egress.0.fqdns", ["data.vendor.com"], "spec.egress[0]", "Calico Enterprise"),
    ("spec.egress.0.ports.0.port", 0, "spec.egress[0].ports[0].port", "greater than or equal"),
    ("spec.ray.image", f"{REPO}/worker:2.40.0", "spec.ray.image", "not pinned by digest"),
    ("spec.ray.image", f"{REPO}/worker@sha256:abc", "spec.ray.image", "REGISTRY/REPO"),
    ("spec.ray.image", f"docker.io/rayproject/ray{DIGEST}", "", "not from an allowed registry"),
    ("spec.ray.maxWorkers", 99, "", "exceeds spec.quotas.maxRayWorkers"),
    ("spec.ray.minWorkers", 13, "spec.ray", "minWorkers (13) is above maxWorkers"),
    ("spec.ray.worker.cpu", "0m", "spec.ray.worker.cpu", "greater than zero"),
    (
        "spec.cloudIdentity.roleArn",
        "arn:aws:iam::123:role/x",
        "spec.cloudIdentity.roleArn",
        "match",
    ),
    ("spec.costCentre", "CC 4711", "spec.costCentre", "label value"),
    ("spec.dataClassification", "secret", "spec.dataClassification", "Input should be"),
    ("spec.namespace", "kube-system", "", "reserved"),
    ("spec.surprise", 1, "spec.surprise", "Extra inputs are not permitted"),
]


@pytest.mark.parametrize(
    ("path", "value", "loc", "reason"), BAD, ids=[f"{b[0]}={b[1]!r}"[:60] for b in BAD]
)
def test_bad_input_names_file_field_reason(
    base_doc, write_tenant, path: str, value: Any, loc: str, reason: str
) -> None:
    file = write_tenant(_set(base_doc, path, value))
    with pytest.raises(SpecError) as info:
        load_tenant(file)
    text = str(info.value)
    assert text.startswith(str(file))
    assert reason in text
    if loc:
        assert any(p.loc and ".".join(map(str, p.loc)) for p in info.value.problems)
        assert f": {loc}: " in text


def test_wrong_kind_and_api_version(base_doc, write_tenant) -> None:
    base_doc["kind"] = "Tenants"
    base_doc["apiVersion"] = "riskgrid.dev/v1"
    with pytest.raises(SpecError) as info:
        load_tenant(write_tenant(base_doc))
    assert len(info.value.problems) == 2


def test_duplicate_names_and_overlapping_namespaces(base_doc, write_tenant) -> None:
    first = write_tenant(base_doc, "a.yaml")
    same_name = write_tenant(base_doc, "b.yaml")
    with pytest.raises(SpecError) as info:
        load_tenants([first, same_name])
    text = str(info.value)
    assert "b.yaml: metadata.name: tenant 'eq-vol' is already defined in" in text
    assert "namespace 'eq-vol' is already used" in text

    other = dict(base_doc, metadata={"name": "other-desk"})
    other["spec"] = dict(base_doc["spec"], namespace="eq-vol")
    with pytest.raises(SpecError, match=r"c\.yaml: spec\.namespace: namespace 'eq-vol'"):
        load_tenants([first, write_tenant(other, "c.yaml")])


def test_cli_bad_input_exits_2_and_writes_nothing(
    base_doc, write_tenant, tmp_path: Path, capsys
) -> None:
    base_doc["spec"]["egress"][0]["cidrs"] = ["0.0.0.0/0"]
    out = tmp_path / "bundle"
    rc = main(["tenant", "render", str(write_tenant(base_doc)), "-o", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "spec.egress[0].cidrs[0]" in err and "every address" in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".bundle")] == []


def test_cli_missing_file_exits_2(tmp_path: Path, capsys) -> None:
    rc = main(["tenant", "render", str(tmp_path / "absent.yaml"), "-o", str(tmp_path / "o")])
    assert rc == 2
    assert "not found" in capsys.readouterr().err


@given(
    st.one_of(
        st.tuples(st.just(4), st.integers(0, 2**32 - 1), st.integers(1, 32)),
        st.tuples(st.just(6), st.integers(0, 2**128 - 1), st.integers(1, 128)),
    )
)
def test_egress_cidr_accepted_iff_it_avoids_the_metadata_service(
    case: tuple[int, int, int],
) -> None:
    """Any network (host bits cleared) is accepted exactly when it covers no metadata address."""
    import ipaddress

    from riskgrid.spec.tenant import EgressRule

    version, addr, prefix = case
    cls = ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network
    net = cls((addr, prefix), strict=False)
    metadata = [
        ipaddress.ip_network(n)
        for n in ("169.254.169.254/32", "fd00:ec2::254/128", "::ffff:169.254.169.254/128")
    ]
    covers = any(m.version == net.version and m.subnet_of(net) for m in metadata)
    rule = {"cidrs": [str(net)], "ports": [{"port": 443}]}
    if covers:
        with pytest.raises(ValueError, match="metadata"):
            EgressRule.model_validate(rule)
    else:
        assert EgressRule.model_validate(rule).cidrs == [str(net)]


def test_image_allowed_whole_path_segments_only() -> None:
    """The allow-list check behind C-SUP-01 (tenant specs and job admission use it)."""
    allowed = ["111122223333.dkr.ecr.eu-west-2.amazonaws.com/riskgrid"]
    digest = "@sha256:" + "a" * 64
    ecr = "111122223333.dkr.ecr.eu-west-2.amazonaws.com"
    assert image_allowed(f"{ecr}/riskgrid/worker{digest}", allowed)
    assert image_allowed(f"{ecr}/riskgrid{digest}", allowed)  # the prefix itself
    assert image_allowed(f"{ecr}/riskgrid/worker:1.0", [a + "/" for a in allowed])
    assert not image_allowed(f"{ecr}/riskgrid-evil/worker{digest}", allowed)  # look-alike
    assert not image_allowed(f"{ecr}.evil.example/riskgrid/worker{digest}", allowed)
    assert not image_allowed(f"docker.io/library/python{digest}", allowed)
    assert not image_allowed(f"{ecr}/riskgrid/worker{digest}", [])

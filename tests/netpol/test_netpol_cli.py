"""`riskgrid netpol matrix|explain` over real files, through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from netpol_cases import ALL_CASES

from riskgrid.cli.main import main
from riskgrid.netpol.synthetic import cluster_objects


def _write_case(tmp_path: Path, name: str) -> Path:
    case = next(c for c in ALL_CASES if c.name == name)
    path = tmp_path / f"{name}.yaml"
    path.write_text(case.yaml, encoding="utf-8")
    return path


def test_matrix_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write_case(tmp_path, "end-port-range")
    assert main(["netpol", "matrix", str(path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    conns = {(c["src"], c["dst"]): c["ports"] for c in data["connections"]}
    assert conns[("prod/client", "prod/web")] == "TCP:8000-8100"
    assert conns[("prod/client", "prod/db")] == "all"
    assert {p["id"] for p in data["pods"]} >= {"prod/web", "kube-system/kube-dns"}


def test_matrix_text_from_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    objs = cluster_objects(2)
    half = len(objs) // 2
    # Round trip through JSON: the synthetic objects share sub-dicts, which YAML would write
    # as aliases, and riskgrid's loader refuses aliases (bounded YAML, issue #12).
    plain = json.loads(json.dumps(objs[:half]))
    (bundle / "a.yaml").write_text(yaml.safe_dump_all(plain), encoding="utf-8")
    (bundle / "b.json").write_text(json.dumps({"kind": "List", "items": objs[half:]}),
                                   encoding="utf-8")  # fmt: skip
    assert main(["netpol", "matrix", str(bundle), "--no-external"]) == 0
    out = capsys.readouterr().out
    assert "desk-000/pricer" in out and "TCP:10001" in out
    assert "tiers: isolation(100), default(1e+06)" in out
    assert "0.0.0.0/0" not in out


def test_bad_input_names_file_and_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n"
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
        "spec:\n  podSelector: {}\n  egress:\n  - to: [{ipBlock: {cidr: nonsense}}]\n",
        encoding="utf-8",
    )
    assert main(["netpol", "matrix", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path} doc 2: spec.egress[0].to[0].ipBlock.cidr: 'nonsense' is not a valid CIDR" in err
    assert main(["netpol", "matrix", str(tmp_path / "missing.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_explain_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write_case(tmp_path, "tier-end-of-tier-deny")
    assert main(["netpol", "explain", str(path), "--from", "prod/client", "--to", "prod/web",
                 "--port", "http"]) == 0  # fmt: skip
    assert "Allow by GlobalNetworkPolicy security.web-clients" in capsys.readouterr().out
    assert main(["netpol", "explain", str(path), "--from", "other/scanner", "--to", "prod/web",
                 "--port", "8080"]) == 1  # fmt: skip
    assert "end of tier" in capsys.readouterr().out
    assert main(["netpol", "explain", str(path), "--from", "nope/x", "--to", "prod/web"]) == 2
    assert "unknown endpoint 'nope/x'" in capsys.readouterr().err

"""The shared loading/error layer: every problem names file, field path and reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from riskgrid.spec.base import Finite, Resource, Strict
from riskgrid.spec.errors import SpecError, format_loc
from riskgrid.spec.loading import load_resource


class _Leg(Strict):
    strike: Finite = Field(gt=0)


class _Spec(Strict):
    legs: list[_Leg]


class Toy(Resource):
    spec: _Spec


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "toy.yaml"
    p.write_text(text)
    return p


def test_format_loc() -> None:
    assert format_loc(("spec", "legs", 3, "strike")) == "spec.legs[3].strike"
    assert format_loc(()) == ""


def test_field_error_names_file_path_and_reason(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "apiVersion: riskgrid.dev/v1alpha1\nkind: Toy\nmetadata: {name: t}\n"
        "spec:\n  legs:\n  - strike: 1\n  - strike: -2\n",
    )
    with pytest.raises(SpecError) as info:
        load_resource(p, Toy)
    assert str(info.value) == f"{p}: spec.legs[1].strike: Input should be greater than 0"


@pytest.mark.parametrize("bad", [".nan", ".inf", "-.inf"])
def test_non_finite_numbers_rejected(tmp_path: Path, bad: str) -> None:
    p = _write(
        tmp_path,
        f"apiVersion: riskgrid.dev/v1alpha1\nkind: Toy\nmetadata: {{name: t}}\n"
        f"spec:\n  legs:\n  - strike: {bad}\n",
    )
    with pytest.raises(SpecError, match=r"spec\.legs\[0\]\.strike"):
        load_resource(p, Toy)


def test_unknown_field_rejected(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "apiVersion: riskgrid.dev/v1alpha1\nkind: Toy\nmetadata: {name: t}\n"
        "spec:\n  legs: []\n  colour: red\n",
    )
    with pytest.raises(SpecError, match=r"spec\.colour: Extra inputs are not permitted"):
        load_resource(p, Toy)


def test_wrong_kind_and_api_version(tmp_path: Path) -> None:
    p = _write(tmp_path, "apiVersion: v1\nkind: Pod\nmetadata: {name: t}\nspec: {legs: []}\n")
    with pytest.raises(SpecError) as info:
        load_resource(p, Toy)
    msgs = [str(x) for x in info.value.problems]
    assert any("apiVersion: must be 'riskgrid.dev/v1alpha1'" in m for m in msgs)
    assert any("kind: must be 'Toy', got 'Pod'" in m for m in msgs)


def test_malformed_yaml_names_line(tmp_path: Path) -> None:
    p = _write(tmp_path, "apiVersion: [unclosed\n")
    with pytest.raises(SpecError, match=r"malformed YAML: line \d+, column \d+"):
        load_resource(p, Toy)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not found"):
        load_resource(tmp_path / "absent.yaml", Toy)


def test_bad_metadata_name(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "apiVersion: riskgrid.dev/v1alpha1\nkind: Toy\n"
        "metadata: {name: Bad_Name}\nspec: {legs: []}\n",
    )
    with pytest.raises(SpecError, match=r"metadata\.name: must be a DNS label"):
        load_resource(p, Toy)

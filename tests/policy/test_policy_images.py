"""`lib.riskgrid.images`: image references and allow/deny-list entries, shape by shape.

`parse` reads the pinned shapes (registry host with ".", digest, tag or none) in fast
definitions before the general one; each row below pins one shape (the expected values follow
the docker reference grammar), so a fast definition that drifted from the general one fails
here, on both engines.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from riskgrid.policy.engine import rego_modules

DIGEST = "sha256:" + "0" * 64

# (image, segments, tag, digest)
PARSE_CASES: list[tuple[str, list[str], str, str]] = [
    (f"reg.example/team/app:1.2@{DIGEST}", ["reg.example", "team", "app"], "1.2", DIGEST),
    (f"reg.example/team/app@{DIGEST}", ["reg.example", "team", "app"], "", DIGEST),
    (f"reg.example:5000/app:1.2@{DIGEST}", ["reg.example:5000", "app"], "1.2", DIGEST),
    (f"reg.example:5000/app@{DIGEST}", ["reg.example:5000", "app"], "", DIGEST),
    (f"reg.example/a:b/app:1@{DIGEST}", ["reg.example", "a:b", "app"], "1", DIGEST),
    (f"reg.example/app:1:2@{DIGEST}", ["reg.example", "app"], "1", DIGEST),
    (f"reg.example/app:@{DIGEST}", ["reg.example", "app"], "", DIGEST),
    ("reg.example/team/app:1.2", ["reg.example", "team", "app"], "1.2", ""),
    (f"python@{DIGEST}", ["docker.io", "library", "python"], "", DIGEST),
    ("python:3.12", ["docker.io", "library", "python"], "3.12", ""),
    ("team/app:1", ["docker.io", "team", "app"], "1", ""),
    (f"localhost/app:1@{DIGEST}", ["localhost", "app"], "1", DIGEST),
    ("localhost", ["docker.io", "library", "localhost"], "", ""),
    ("reg.example", ["docker.io", "library", "reg.example"], "", ""),
    ("reg.example/app@a@b", ["reg.example", "app"], "", "a"),
    ("", ["docker.io", "library", ""], "", ""),
]

# (allow/deny-list entry, prefix segments)
PREFIX_CASES: list[tuple[str, list[str]]] = [
    ("reg.example/team", ["reg.example", "team"]),
    ("reg.example/team/", ["reg.example", "team"]),
    ("reg.example:5000", ["reg.example:5000"]),
    ("localhost/team", ["localhost", "team"]),
    ("team", ["docker.io", "team"]),
    ("library/python", ["docker.io", "library", "python"]),
]


def _query(engine: str, rule: str, xs: list[str]) -> list[Any]:
    """Evaluate `rule` (over input.xs) with the shipped library on one engine."""
    module = "\n".join(
        [
            "package images_test",
            "import data.lib.riskgrid.images",
            "parsed := [r | some x in input.xs; r := images.parse(x)]",
            "prefixes := [r | some x in input.xs; r := images.parse_prefix(x)]",
        ]
    )
    modules = {**rego_modules(), "images_test.rego": module}
    if engine == "regorus":
        import regorus

        eng = regorus.Engine()
        for path, source in modules.items():
            eng.add_policy(path, source)
        eng.set_input({"xs": xs})
        return list(json.loads(eng.eval_rule_as_json(f"data.images_test.{rule}")))
    import regopy

    interp = regopy.Interpreter()
    for path, source in modules.items():
        interp.add_module(path, source)
    interp.set_input(regopy.Input({"xs": xs}))
    out = interp.query(f"x = data.images_test.{rule}")
    assert out.ok(), str(out)
    return list(json.loads(out.binding("x").json()))


@pytest.mark.parametrize("engine", ["regorus", "regopy"])
def test_parse_every_shape(engine: str) -> None:
    got = _query(engine, "parsed", [case[0] for case in PARSE_CASES])
    want = [{"segments": s, "tag": t, "digest": d} for _, s, t, d in PARSE_CASES]
    for (image, *_), g, w in zip(PARSE_CASES, got, want, strict=True):
        assert g == w, image


@pytest.mark.parametrize("engine", ["regorus", "regopy"])
def test_parse_prefix_every_shape(engine: str) -> None:
    got = _query(engine, "prefixes", [case[0] for case in PREFIX_CASES])
    assert got == [segs for _, segs in PREFIX_CASES]

"""100% agreement with the upstream Pod Security Admission fixtures (v1.37), on both engines.

Fixtures: tests/policy/fixtures/pss (kubernetes/pod-security-admission test/testdata, Apache-2.0,
LICENSE beside them). At a level, the policies of that level (restricted includes baseline)
must deny every `fail` Pod and allow every `pass` Pod.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from riskgrid.policy.engine import make_engine

PSS = Path(__file__).parent / "fixtures" / "pss"


def level_policies(library, level: str) -> set[str]:
    levels = {"baseline"} if level == "baseline" else {"baseline", "restricted"}
    return {p.id for p in library if p.pss_level in levels}


@pytest.mark.parametrize("engine_name", ["regorus", "regopy"])
@pytest.mark.parametrize("level", ["baseline", "restricted"])
def test_pss_fixtures_agree(library, level, engine_name):
    files = sorted((PSS / level).glob("*/*.yaml"))
    assert len(files) > 40  # the vendored set is really there
    ids = level_policies(library, level)
    # regopy is slow per batch; an engine with only the PSS policies keeps this quick.
    pss = tuple((p.id, p.slug) for p in library if p.id in ids)
    engine = make_engine(engine_name, pss)
    objects = [yaml.safe_load(f.read_text()) for f in files]
    denied = {i for i, pid, _ in engine.evaluate(objects, {}) if pid in ids}
    wrong = [
        f"{f.parent.name}/{f.name}"
        for i, f in enumerate(files)
        if (i in denied) != (f.parent.name == "fail")
    ]
    assert wrong == []
    assert len(denied) == len([f for f in files if f.parent.name == "fail"])

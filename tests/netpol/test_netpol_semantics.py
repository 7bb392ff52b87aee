"""riskgrid's verdicts on the documentation-derived semantics table."""

from __future__ import annotations

import pytest
import yaml
from netpol_cases import ALL_CASES, Case

from riskgrid.netpol.analysis import connectivity


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_case_verdicts(case: Case) -> None:
    mx = connectivity(list(yaml.safe_load_all(case.yaml)))
    wrong = []
    for src, dst, port, proto, want in case.expect:
        got = mx.allowed(src, dst, port, proto)
        if got != want:
            wrong.append(
                f"{src} -> {dst} {proto}/{port}: want {want}, got {got}\n"
                + mx.explain(src, dst, port, proto).explain()
            )
    assert not wrong, f"{case.rule}\n" + "\n".join(wrong)

"""docs/policy-coverage.md agrees with the library metadata (catalogue rows → policy ids)."""

from __future__ import annotations

import re

from riskgrid.policy.library import load_library


def test_coverage_table_matches_metadata(repo_root):
    text = (repo_root / "docs" / "policy-coverage.md").read_text()
    table: dict[int, set[str]] = {}
    # ◐: partly covered (e.g. a ban where the catalogue asks for an allow-list): not counted
    for m in re.finditer(r"^\| (\d+) \| .* \| (yes|no|◐) \| (.*) \|$", text, re.M):
        row, covered, by = int(m.group(1)), m.group(2), m.group(3)
        table[row] = set(re.findall(r"RG-[A-Z]+-\d{3}", by)) if covered == "yes" else set()
    assert sorted(table) == list(range(1, 122))
    expected: dict[int, set[str]] = {r: set() for r in range(1, 122)}
    for p in load_library():
        for r in p.catalogue:
            expected[r].add(p.id)
    assert table == expected
    assert sum(1 for ids in table.values() if ids) >= 40
    covered = sum(1 for ids in table.values() if ids)
    assert f"**{covered} of 121 rows covered by a riskgrid policy**" in text

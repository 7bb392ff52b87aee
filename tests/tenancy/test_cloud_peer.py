"""riskgrid's IAM guardrails beside a peer IAM linter (parliament) on the same corpus."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from cloud_peer import CORPUS, corpus, ours, parliament_issues

EXPECTED = yaml.safe_load((CORPUS / "corpus.yaml").read_text())


def test_parliament_agrees_where_expected() -> None:
    entries = corpus()
    assert set(entries) == set(EXPECTED)
    got_ours, got_peer = ours(entries), parliament_issues(entries)
    for name, want in EXPECTED.items():
        assert got_ours[name] == sorted(want["ours"]), name
        assert got_peer[name] == sorted(want["parliament"]), name
        # a difference in verdict (one flags, the other does not) must be explained
        if bool(want["ours"]) != bool(want["parliament"]):
            assert want.get("why"), name
    # both tools flag every policy with a wildcard action or resource or identity actions
    for name in ("s3-star-everything", "star-star", "passrole-any", "assumerole-other"):
        assert got_ours[name] and got_peer[name]
    # riskgrid's own renderings pass its guardrails
    assert got_ours["rendered-eq-vol"] == got_ours["rendered-rates"] == []

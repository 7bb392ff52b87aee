"""Differential check against IBM's network-config-analyzer (NCA) on the semantics table.

For every case NCA can read, riskgrid and NCA are compared on the full matrix — every ordered
pod pair and pod/address pair, on both edges of every port atom of TCP, UDP and SCTP — not only
on the hand-written expectations. Every disagreement must be a known one, decided from the
documentation and recorded in docs/netpol.md; an unknown disagreement, or a known one that no
longer occurs, fails the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from nca_runner import run_nca
from netpol_cases import ALL_CASES, Case

from riskgrid.netpol.analysis import connectivity

ADDRESSES = ("10.2.3.4", "10.1.2.3", "8.8.8.8", "192.168.1.1", "169.254.169.254")

#: (case, src, dst) → why riskgrid's verdict is kept (docs/netpol.md, "Differential check …").
KNOWN_DIFFERENCES = {
    ("calico-selector-operators", "prod/db", "prod/web"): (
        "Calico labels every workload endpoint with projectcalico.org/namespace (WorkloadEndpoint "
        "reference); NCA does not, so its selector matches nothing"
    ),
}

READABLE = [c for c in ALL_CASES if not c.tiered]
TIERED = [c for c in ALL_CASES if c.tiered]


def _disagreements(case: Case, tmp_path: Path) -> set[tuple[str, str, str]]:
    nca = run_nca(case.yaml, tmp_path)
    assert nca.lines, f"NCA produced no connectivity for {case.name}:\n{nca.log}"
    # NCA only knows the pods in the file, so riskgrid must not assume a kube-dns pod either.
    mx = connectivity(list(yaml.safe_load_all(case.yaml)), add_cluster_dns=False)
    pods = [p.id for p in mx.pods]
    out: set[tuple[str, str, str]] = set()
    for src in (*pods, *ADDRESSES):
        for dst in (*pods, *ADDRESSES):
            if src == dst or (src in ADDRESSES and dst in ADDRESSES):
                continue
            for atom in mx.ports:
                for port in {atom.lo, atom.hi}:
                    if mx.allowed(src, dst, port, atom.protocol) != nca.allowed(
                        src, dst, port, atom.protocol
                    ):
                        out.add((case.name, src, dst))
    return out


@pytest.mark.parametrize("case", READABLE, ids=lambda c: c.name)
def test_riskgrid_and_nca_agree_except_known(case: Case, tmp_path: Path) -> None:
    found = _disagreements(case, tmp_path)
    expected = {k for k in KNOWN_DIFFERENCES if k[0] == case.name}
    assert found == expected


@pytest.mark.parametrize("case", READABLE, ids=lambda c: c.name)
def test_nca_on_documented_expectations(case: Case, tmp_path: Path) -> None:
    """NCA meets the documentation on every hand-written expectation but the known ones."""
    nca = run_nca(case.yaml, tmp_path)
    wrong = {
        (case.name, src, dst)
        for src, dst, port, proto, want in case.expect
        if nca.allowed(src, dst, port, proto) != want
    }
    assert wrong == {k for k in KNOWN_DIFFERENCES if k[0] == case.name}


@pytest.mark.parametrize("case", TIERED, ids=lambda c: c.name)
def test_nca_rejects_calico_tiers(case: Case, tmp_path: Path) -> None:
    """NCA 2.1.0 does not model Calico tiers: it refuses the `tier` field outright."""
    nca = run_nca(case.yaml, tmp_path)
    assert nca.returncode != 0
    assert not nca.lines
    assert "tier is not a valid entry in the specification of network policy spec" in nca.log

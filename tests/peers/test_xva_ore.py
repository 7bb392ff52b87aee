"""riskgrid's exposure engine side by side with ORE on ORE's MinimalSetup example.

Both simulate the same Hull–White model (constant σ = 0.5%, λ = 3%; ORE's calibration is
switched off in its inputs) for the 20-year EUR swap; ORE uses its Sobol/Brownian-bridge
sequence, riskgrid keyed pseudo-random paths. Differences allowed: riskgrid's Monte Carlo error
(3 standard errors) plus 3% for documented model differences (fixings at accrual start instead
of two TARGET days before, weekend-only calendars, DVA's hazard from the CDS credit triangle).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from ore_peer import run_ore

from riskgrid.grid.exposure import run_exposure
from riskgrid.spec.exposure import load_exposure_job

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "exposure" / "ore-minimal.yaml"

pytest.importorskip("ORE", reason="open-source-risk-engine is a dev dependency")


@pytest.mark.slow
def test_ore_minimal_profile_cva_dva(tmp_path: Path) -> None:
    ore = run_ore(tmp_path / "ore", sigma=0.005, reversion=0.03, samples=500, grid="41,6M")
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["spec"]["simulation"]["grid"] = [{"until": "246M", "step": "6M"}]
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(doc))
    _, setup = load_exposure_job(job)
    rg = run_exposure(setup, engine="local", workers=2).netting_sets[0]
    p = rg.profile
    ore_t, ore_epe, ore_ene = (np.array(ore[k][1:]) for k in ("time", "epe", "ene"))
    assert len(ore_t) == len(p.times)
    # the same dates; ORE measures time in its own day count (up to a week apart at 20Y)
    assert np.abs(ore_t - p.times).max() < 0.02
    slack = 0.03 * ore_epe.max()
    assert np.all(np.abs(p.epe - ore_epe) <= 3 * p.epe_se + slack)
    assert np.all(np.abs(p.ene - ore_ene) <= 3 * p.epe_se + slack)
    assert abs(rg.cva - ore["cva"]) <= 3 * rg.cva_se + 0.03 * ore["cva"]
    assert rg.dva == pytest.approx(ore["dva"], rel=0.06)
    assert rg.profile.eepe == pytest.approx(ore["eepe"], rel=0.06)

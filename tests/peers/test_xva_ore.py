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


def _multi_ccy_portfolio() -> str:
    from ore_peer import fx_forward_xml, swap_xml

    return (
        "<Portfolio>"
        + swap_xml(
            "EurSwap",
            "EUR",
            1e7,
            0.021,
            False,
            "20160301",
            "20260302",
            "A360",
            "EUR-EURIBOR-6M",
            "TARGET",
        )
        + swap_xml(
            "GbpSwap",
            "GBP",
            8e6,
            0.026,
            True,
            "20160301",
            "20240301",
            "A365F",
            "GBP-LIBOR-6M",
            "UK",
        )
        + fx_forward_xml("FxFwd", "2021-03-05", "GBP", 8e6, "EUR", 1e7)
        + "</Portfolio>"
    )


@pytest.mark.slow
@pytest.mark.parametrize("csa", [False, True], ids=["uncollateralised", "csa"])
def test_ore_multi_currency_netting_set(csa: bool, tmp_path: Path) -> None:
    """EUR and GBP swaps and a GBP/EUR FX forward, correlated rates and FX, with and without a
    CSA (threshold 500k, no MTA, MPoR 0). ORE runs 1,000 Sobol samples, whose own error is a
    few percent; riskgrid 8,192 paths. Allowed: 3 riskgrid SE plus 6% (10% with the CSA) of
    the profile's peak, and 6% (10%) on CVA and DVA. The CSA case is looser because ORE's
    collateral account is stateful (it starts from today's value and margins daily between
    grid dates) where riskgrid's variation margin is the stateless target of the date.

    The FX forward settles off the simulation grid on purpose: ORE counts a cash flow paid on
    a grid date as still part of the value on that date (IncludeReferenceDateEvents), riskgrid
    values after the date's payments (docs/exposure.md)."""
    from ore_peer import netting_xml

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "ore-multi-ccy.yaml"
    corr = {("IR:EUR", "IR:GBP"): 0.3, ("IR:EUR", "FX:GBPEUR"): -0.2, ("IR:GBP", "FX:GBPEUR"): 0.25}
    ore = run_ore(
        tmp_path / "ore",
        sigma={"default": 0.005, "EUR": 0.005, "GBP": 0.007},
        reversion=0.03,
        samples=1000,
        grid="21,6M",
        fx_sigma=0.1,
        correlations=corr,
        portfolio_xml=_multi_ccy_portfolio(),
        netting_xml=netting_xml(5e5 if csa else None),
    )
    doc = yaml.safe_load(fixture.read_text())
    if not csa:
        del doc["spec"]["nettingSets"][0]["csa"]
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(doc))
    _, setup = load_exposure_job(job)
    rg = run_exposure(setup, engine="local", workers=2).netting_sets[0]
    p = rg.profile
    ore_epe, ore_ene = np.array(ore["epe"][1:]), np.array(ore["ene"][1:])
    assert len(ore_epe) == len(p.epe)
    rel = 0.10 if csa else 0.06
    assert np.all(np.abs(p.epe - ore_epe) <= 3 * p.epe_se + rel * ore_epe.max())
    assert np.all(np.abs(p.ene - ore_ene) <= 3 * p.epe_se + rel * ore_ene.max())
    assert abs(rg.cva - ore["cva"]) <= 3 * rg.cva_se + rel * ore["cva"]
    assert rg.dva == pytest.approx(ore["dva"], rel=0.10)
    if csa:  # the CSA binds: PFE is capped at the threshold in both
        assert max(ore["pfe"][1:]) <= 5e5 + 1 and p.pfe[0.95].max() <= 5e5 + 1e-6

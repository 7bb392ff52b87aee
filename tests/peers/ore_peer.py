"""Run ORE (the ``open-source-risk-engine`` wheel) on the vendored MinimalSetup inputs.

Test and benchmark helper, not a riskgrid module. ``run_ore`` copies the inputs, fixes every
LGM model and every FX model to constant parameters (no calibration), sets the samples, grid,
correlations and — optionally — the portfolio and netting-set XML, runs ORE in a subprocess (its
C++ logging and memory stay out of the test process) and returns the netting set's exposure
profile and XVA figures.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "ore-minimal"

_RUNNER = """
import sys, ORE
p = ORE.Parameters(); p.fromFile(sys.argv[1]); ORE.OREApp(p).run()
"""


def _set(parent: ET.Element, path: str, text: str) -> None:
    node = parent.find(path)
    assert node is not None, path
    node.text = text


def _configure(
    sim: Path,
    sigma: dict[str, float],
    reversion: float,
    fx_sigma: float,
    samples: int,
    grid: str,
    correlations: dict[tuple[str, str], float],
    sequence: str,
) -> None:
    tree = ET.parse(sim)
    root = tree.getroot()
    _set(root, "Parameters/Samples", str(samples))
    _set(root, "Parameters/Grid", grid)
    _set(root, "Parameters/Sequence", sequence)
    for lgm in root.iter("LGM"):
        ccy = lgm.get("ccy", "default")
        _set(lgm, "CalibrationType", "None")
        _set(lgm, "Volatility/Calibrate", "N")
        _set(lgm, "Volatility/VolatilityType", "HullWhite")
        _set(lgm, "Volatility/ParamType", "Constant")
        _set(lgm, "Volatility/TimeGrid", "")
        _set(lgm, "Volatility/InitialValue", str(sigma.get(ccy, sigma.get("default", 0.005))))
        _set(lgm, "Reversion/Calibrate", "N")
        _set(lgm, "Reversion/InitialValue", str(reversion))
    for fx in root.iter("CrossCcyLGM"):
        _set(fx, "CalibrationType", "None")
        _set(fx, "Sigma/Calibrate", "N")
        _set(fx, "Sigma/ParamType", "Constant")
        _set(fx, "Sigma/TimeGrid", "")
        _set(fx, "Sigma/InitialValue", str(fx_sigma))
    corr = root.find("CrossAssetModel/InstantaneousCorrelations")
    assert corr is not None
    for node in list(corr):
        corr.remove(node)
    for (a, b), v in correlations.items():
        el = ET.SubElement(corr, "Correlation", factor1=a, factor2=b)
        el.text = str(v)
    tree.write(sim)


def run_ore(
    workdir: Path,
    *,
    sigma: float | dict[str, float],
    reversion: float,
    samples: int,
    grid: str = "81,6M",
    fx_sigma: float = 0.1,
    correlations: dict[tuple[str, str], float] | None = None,
    portfolio_xml: str | None = None,
    netting_xml: str | None = None,
    sequence: str = "SobolBrownianBridge",
    timeout: float = 900,
) -> dict:
    inp = workdir / "Input"
    shutil.copytree(FIXTURE, inp)
    (workdir / "Output").mkdir()
    ore_xml = inp / "ore.xml"
    text = ore_xml.read_text().replace("../../Input/pricingengine.xml", "pricingengine.xml")
    ore_xml.write_text(text)
    if portfolio_xml is not None:
        (inp / "portfolio_swap.xml").write_text(portfolio_xml)
    if netting_xml is not None:
        (inp / "netting.xml").write_text(netting_xml)
    sig = sigma if isinstance(sigma, dict) else {"default": sigma}
    corr = correlations if correlations is not None else {("IR:EUR", "IR:GBP"): 0.3}
    _configure(inp / "simulation.xml", sig, reversion, fx_sigma, samples, grid, corr, sequence)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(ore_xml)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    wall = time.perf_counter() - t0
    out = workdir / "Output"
    if proc.returncode != 0 or not (out / "xva.csv").exists():
        raise RuntimeError(f"ORE failed (rc {proc.returncode}): {proc.stderr[-2000:]}")
    with open(out / "exposure_nettingset_CPTY_A.csv") as fh:
        rows = list(csv.DictReader(fh))
    with open(out / "xva.csv") as fh:
        xva = next(r for r in csv.DictReader(fh) if r["#TradeId"] == "")
    return {
        "time": [float(r["Time"]) for r in rows],
        "epe": [float(r["EPE"]) for r in rows],
        "ene": [float(r["ENE"]) for r in rows],
        "pfe": [float(r["PFE"]) for r in rows],
        "cva": float(xva["CVA"]),
        "dva": float(xva["DVA"]),
        "eepe": float(xva["BaselEEPE"]),
        "wall": wall,
    }


ENVELOPE = (
    "<Envelope><CounterParty>CPTY_A</CounterParty><NettingSetId>CPTY_A</NettingSetId>"
    "<AdditionalFields/></Envelope>"
)


def _leg(
    kind: str,
    payer: bool,
    ccy: str,
    notional: float,
    day_count: str,
    tenor: str,
    start: str,
    end: str,
    calendar: str,
    extra: str,
) -> str:
    return (
        f"<LegData><LegType>{kind}</LegType><Payer>{str(payer).lower()}</Payer>"
        f"<Currency>{ccy}</Currency><Notionals><Notional>{notional}</Notional></Notionals>"
        f"<DayCounter>{day_count}</DayCounter><PaymentConvention>MF</PaymentConvention>{extra}"
        f"<ScheduleData><Rules><StartDate>{start}</StartDate><EndDate>{end}</EndDate>"
        f"<Tenor>{tenor}</Tenor><Calendar>{calendar}</Calendar><Convention>MF</Convention>"
        "<TermConvention>MF</TermConvention><Rule>Forward</Rule><EndOfMonth/><FirstDate/>"
        "<LastDate/></Rules></ScheduleData></LegData>"
    )


def swap_xml(
    trade_id: str,
    ccy: str,
    notional: float,
    rate: float,
    pay_fixed: bool,
    start: str,
    end: str,
    day_count: str,
    index: str,
    calendar: str,
) -> str:
    """A fixed (1Y) vs floating (6M) swap; dates as YYYYMMDD."""
    fixed = _leg(
        "Fixed",
        pay_fixed,
        ccy,
        notional,
        day_count,
        "1Y",
        start,
        end,
        calendar,
        f"<FixedLegData><Rates><Rate>{rate}</Rate></Rates></FixedLegData>",
    )
    flt = _leg(
        "Floating",
        not pay_fixed,
        ccy,
        notional,
        day_count,
        "6M",
        start,
        end,
        calendar,
        f"<FloatingLegData><Index>{index}</Index><Spreads><Spread>0.0</Spread></Spreads>"
        "<IsInArrears>false</IsInArrears><FixingDays>2</FixingDays></FloatingLegData>",
    )
    return (
        f'<Trade id="{trade_id}"><TradeType>Swap</TradeType>{ENVELOPE}'
        f"<SwapData>{fixed}{flt}</SwapData></Trade>"
    )


def fx_forward_xml(
    trade_id: str, value_date: str, bought: str, bought_amount: float, sold: str, sold_amount: float
) -> str:
    return (
        f'<Trade id="{trade_id}"><TradeType>FxForward</TradeType>{ENVELOPE}<FxForwardData>'
        f"<ValueDate>{value_date}</ValueDate><BoughtCurrency>{bought}</BoughtCurrency>"
        f"<BoughtAmount>{bought_amount}</BoughtAmount><SoldCurrency>{sold}</SoldCurrency>"
        f"<SoldAmount>{sold_amount}</SoldAmount></FxForwardData></Trade>"
    )


def netting_xml(threshold: float | None) -> str:
    """CPTY_A's netting set; with a threshold: an active CSA (no MTA, no IA, MPoR 0W)."""
    active = "true" if threshold is not None else "false"
    thr = threshold or 0.0
    return (
        '<?xml version="1.0"?><NettingSetDefinitions><NettingSet>'
        f"<NettingSetId>CPTY_A</NettingSetId><ActiveCSAFlag>{active}</ActiveCSAFlag>"
        "<CSADetails><Bilateral>Bilateral</Bilateral><CSACurrency>EUR</CSACurrency>"
        f"<Index>EUR-EONIA</Index><ThresholdPay>{thr}</ThresholdPay>"
        f"<ThresholdReceive>{thr}</ThresholdReceive>"
        "<MinimumTransferAmountPay>0</MinimumTransferAmountPay>"
        "<MinimumTransferAmountReceive>0</MinimumTransferAmountReceive><IndependentAmount>"
        "<IndependentAmountHeld>0</IndependentAmountHeld><IndependentAmountType>FIXED"
        "</IndependentAmountType></IndependentAmount><MarginingFrequency><CallFrequency>1D"
        "</CallFrequency><PostFrequency>1D</PostFrequency></MarginingFrequency>"
        "<MarginPeriodOfRisk>0W</MarginPeriodOfRisk><CollateralCompoundingSpreadReceive>0.00"
        "</CollateralCompoundingSpreadReceive><CollateralCompoundingSpreadPay>0.00"
        "</CollateralCompoundingSpreadPay><EligibleCollaterals><Currencies><Currency>EUR"
        "</Currency></Currencies></EligibleCollaterals></CSADetails></NettingSet>"
        "</NettingSetDefinitions>"
    )

"""Run ORE (the ``open-source-risk-engine`` wheel) on the vendored MinimalSetup inputs.

Test and benchmark helper, not a riskgrid module. ``run_ore(workdir, sigma, reversion, samples)``
copies the inputs, fixes every LGM model to constant Hull–White parameters (no calibration),
sets the sample count, runs ORE in a subprocess (its C++ logging and memory stay out of the test
process) and returns the parsed exposure profile and XVA figures.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "ore-minimal"

_RUNNER = """
import sys, ORE
p = ORE.Parameters(); p.fromFile(sys.argv[1]); ORE.OREApp(p).run()
"""


def _constant_lgm(sim: Path, sigma: float, reversion: float, samples: int, grid: str) -> None:
    tree = ET.parse(sim)
    root = tree.getroot()
    root.find("Parameters/Samples").text = str(samples)
    root.find("Parameters/Grid").text = grid
    for lgm in root.iter("LGM"):
        vol = lgm.find("Volatility")
        vol.find("Calibrate").text = "N"
        vol.find("VolatilityType").text = "HullWhite"
        vol.find("ParamType").text = "Constant"
        vol.find("TimeGrid").text = ""
        vol.find("InitialValue").text = str(sigma)
        rev = lgm.find("Reversion")
        rev.find("Calibrate").text = "N"
        rev.find("InitialValue").text = str(reversion)
        lgm.find("CalibrationType").text = "None"
    tree.write(sim)


def run_ore(
    workdir: Path,
    *,
    sigma: float,
    reversion: float,
    samples: int,
    grid: str = "81,6M",
    timeout: float = 600,
) -> dict:
    inp = workdir / "Input"
    shutil.copytree(FIXTURE, inp)
    (workdir / "Output").mkdir()
    ore_xml = inp / "ore.xml"
    text = ore_xml.read_text().replace("../../Input/pricingengine.xml", "pricingengine.xml")
    ore_xml.write_text(text)
    _constant_lgm(inp / "simulation.xml", sigma, reversion, samples, grid)
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(ore_xml)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    out = workdir / "Output"
    if proc.returncode != 0 or not (out / "xva.csv").exists():
        raise RuntimeError(f"ORE failed (rc {proc.returncode}): {proc.stderr[-2000:]}")
    with open(out / "exposure_trade_Swap_20y.csv") as fh:
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
    }

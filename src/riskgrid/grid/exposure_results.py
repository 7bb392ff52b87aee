"""Results of an exposure run: ``result.json`` and ``profiles.parquet``, written all or nothing."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from riskgrid.grid.exposure import ExposureRun
from riskgrid.spec.exposure_result import ExposureResult, NettingSetMeasures


def to_result(name: str, valuation_date: str, base: str, run: ExposureRun) -> ExposureResult:
    sets = []
    for ns in run.netting_sets:
        p = ns.profile
        sets.append(
            NettingSetMeasures(
                name=ns.name,
                counterparty=ns.counterparty,
                cva=ns.cva,
                cva_standard_error=ns.cva_se,
                dva=ns.dva,
                eepe=p.eepe,
                peak_epe=float(p.epe.max()),
                peak_pfe={f"{q:g}": float(v.max()) for q, v in p.pfe.items()},
                cva_rate_sensitivity=ns.cva_rate_sens,
                cva_cs01=ns.cva_cs01,
            )
        )
    return ExposureResult(
        job=name,
        valuation_date=valuation_date,
        base_currency=base,
        netting_sets=sets,
        stats=run.stats,
    )


def profile_table(run: ExposureRun):  # -> pyarrow.Table
    import pyarrow as pa

    cols: dict[str, list] = {
        k: []
        for k in (
            "nettingSet",
            "date",
            "time",
            "epe",
            "epeStandardError",
            "ene",
            "baselEE",
            "baselEEE",
        )
    }
    pfe_cols: dict[str, list] = {}
    for ns in run.netting_sets:
        p = ns.profile
        n = len(p.times)
        cols["nettingSet"] += [ns.name] * n
        cols["date"] += list(run.dates)
        cols["time"] += p.times.tolist()
        cols["epe"] += p.epe.tolist()
        cols["epeStandardError"] += p.epe_se.tolist()
        cols["ene"] += p.ene.tolist()
        cols["baselEE"] += p.basel_ee.tolist()
        cols["baselEEE"] += p.basel_eee.tolist()
        for q, v in p.pfe.items():
            pfe_cols.setdefault(f"pfe{q:g}", []).extend(np.asarray(v).tolist())
    return pa.table({**cols, **pfe_cols})


def write_exposure_results(out_dir: str | Path, result: ExposureResult, run: ExposureRun) -> Path:
    """Write into a temporary sibling, then rename: a reader never sees half a directory."""
    import pyarrow.parquet as pq

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / "result.json").write_text(
            json.dumps(result.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8"
        )
        pq.write_table(profile_table(run), tmp / "profiles.parquet")
        os.chmod(tmp, 0o777 & ~_umask())
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

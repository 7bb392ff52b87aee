"""One block of paths: simulate, value every netting set under every scenario, collateralise.

The pure core of an exposure task: normals in, per-path discounted positive/negative exposures
(and undiscounted positive exposure for PFE) out. Trade-level values never leave this
function: the exposure cube is reduced to netting sets here, in the worker.
"""

from __future__ import annotations

import numpy as np

from riskgrid.risk.xva.measures import collateralised
from riskgrid.risk.xva.model import simulate
from riskgrid.risk.xva.setup import CompiledRun
from riskgrid.risk.xva.valuation import base_numeraire, deflated_values


def evaluate_block(run: CompiledRun, normals: np.ndarray) -> dict[str, np.ndarray]:
    """``normals``: ``(paths, n_times, n_factors)``. Returns arrays ``(scenarios, paths, R, ns)``
    ``pos``/``neg`` (discounted) and ``(paths, R, ns)`` ``pfe`` (base scenario, undiscounted)."""
    states = simulate(run.model, normals)
    needed = np.unique(np.concatenate([run.report_idx, run.lag_idx.ravel()]))
    at_report = np.searchsorted(needed, run.report_idx)
    n_s, n_p = len(run.books), normals.shape[0]
    n_r, n_ns = len(run.report_idx), run.lag_idx.shape[0]
    pos = np.empty((n_s, n_p, n_r, n_ns))
    neg = np.empty((n_s, n_p, n_r, n_ns))
    pfe = np.empty((n_p, n_r, n_ns))
    for s, book in enumerate(run.books):
        num = base_numeraire(book, states, needed)
        values = deflated_values(book, states, needed) * num[:, :, None]
        n_r_num = num[:, at_report]
        for k in range(n_ns):
            v = values[:, at_report, k]
            lagged = values[:, np.searchsorted(needed, run.lag_idx[k]), k]
            e = collateralised(v, lagged, run.csas[k])
            # After its last payment a netting set is closed: no trades, no collateral held.
            e[:, run.report_times >= run.maturities[k]] = 0.0
            pos[s, :, :, k] = np.maximum(e, 0.0) / n_r_num
            neg[s, :, :, k] = np.maximum(-e, 0.0) / n_r_num
            if s == 0:
                pfe[:, :, k] = np.maximum(e, 0.0)
    return {"pos": pos, "neg": neg, "pfe": pfe}

r"""Full revaluation of positions under market states: PV and P&L blocks.

The kernel values an (n_rows × n_cols) grid of *position states* — for each position and each
column, the spot of its underlying, its vol to expiry, its domestic and foreign zero rates to
expiry and the FX rate to base — with one vectorised formula per instrument type (a loop over
the five types, never over positions or scenarios).

Determinism
    Every element is computed from its own position's and its own scenario's inputs by
    elementwise operations only (no reductions, no cross-element terms). Therefore
    ``pnl_block(p, m, s, rows, cols)`` is bit-identical to ``pnl_block(p, m, s, all, all)
    [rows, cols]`` for any decomposition into blocks.

Conventions
    P&L is in the market's base currency, positive = gain:
    :math:`\mathrm{PnL}_{is} = V_i(\text{scenario } s) - V_i(\text{base})`. Scenarios are
    applied instantaneously at the valuation date (no time decay over the horizon).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from riskgrid.risk import black_scholes, curves, exotics
from riskgrid.risk import portfolio as pf
from riskgrid.risk.market import MarketData
from riskgrid.risk.scenarios import ScenarioSet


@dataclass(frozen=True)
class States:
    """Per-position market inputs, each (n_rows, n_cols) float64."""

    spot: np.ndarray
    vol: np.ndarray
    r_dom: np.ndarray
    r_for: np.ndarray
    conv: np.ndarray


def values(p: pf.Portfolio, rows: slice, st: States) -> np.ndarray:
    """Value in base currency of ``quantity`` units of each position in each state.

    Returns an (n_rows, n_cols) array.
    """
    return values_se(p, rows, st)[0]


def values_se(p: pf.Portfolio, rows: slice, st: States) -> tuple[np.ndarray, np.ndarray]:
    """:func:`values` and the Monte Carlo standard error of each (0 for closed forms).

    Exotic positions are priced one position at a time, vectorised over the state columns
    (and paths); each uses its own keyed random stream, so its value in a column does not
    depend on the other rows or columns of the block.
    """
    start = rows.indices(p.n)[0]
    exotic_rows = p.exotic_rows(rows)
    vals = _closed_values(p, rows, st, skip=[i - start for i in exotic_rows])
    se = np.zeros_like(vals)
    for i in exotic_rows:
        j = i - start
        price, err = exotics.price(
            p.exotic[i], p.settings, st.spot[j], st.r_dom[j], st.r_for[j], st.vol[j]
        )
        scale = p.quantity[i] * st.conv[j]
        vals[j] = scale * price
        se[j] = np.abs(scale) * err
    return vals, se


def _closed_values(p: pf.Portfolio, rows: slice, st: States, skip: list[int]) -> np.ndarray:
    kind = p.kind[rows].copy()
    kind[skip] = -1  # exotic rows: filled in by the caller
    out = np.zeros(st.spot.shape)
    qty, strike, t, is_call = p.quantity[rows], p.strike[rows], p.t[rows], p.is_call[rows]
    for k in np.unique(kind):
        if k < 0 or k > pf.ZCB:
            continue
        m = kind == k
        every = bool(m.all())  # one type in the block: use the arrays as they are, no copies

        def pick(a: np.ndarray, m: np.ndarray = m, every: bool = every) -> np.ndarray:
            return a if every else a[m]

        tt = pick(t)[:, None]
        s, conv = pick(st.spot), pick(st.conv)
        df_d = np.exp(-pick(st.r_dom) * tt)
        if k in pf.OPTION_KINDS:
            df_f = np.exp(-pick(st.r_for) * tt)
            local = black_scholes.price_from_dfs(
                pick(is_call)[:, None], s, pick(strike)[:, None], tt, df_d, df_f, pick(st.vol)
            )
        elif k == pf.FX_FORWARD:
            df_f = np.exp(-pick(st.r_for) * tt)
            local = s * df_f - pick(strike)[:, None] * df_d
        elif k == pf.SPOT:
            local = s
        else:  # ZCB
            local = df_d
        value = pick(qty)[:, None] * (local * conv)
        if every:
            out[...] = value
        else:
            out[m] = value
    return out


def _gather(
    table: np.ndarray, idx: np.ndarray, cols: slice, fill: float
) -> npt.NDArray[np.float64]:
    """``table[idx[i], cols]`` as (n_rows, n_cols); rows with ``idx < 0`` get ``fill``."""
    n_cols = len(range(*cols.indices(table.shape[1])))
    if table.shape[0] == 0:
        return np.full((len(idx), n_cols), fill)
    # slice first: gather only the block's columns
    out: npt.NDArray[np.float64] = table[:, cols][np.maximum(idx, 0)]
    out[idx < 0] = fill
    return out


def _rate(
    market: MarketData, curve: np.ndarray, t: np.ndarray, shift: np.ndarray | None, cols: slice
) -> npt.NDArray[np.float64]:
    """Zero rate of ``curve[i]`` at ``t[i]``, shifted per scenario: (n_rows, n_cols).

    The shifted pillar rates are formed once per (curve, pillar, scenario) — a small table —
    and then gathered per position; the interpolation is the same expression either way.
    """
    c = np.maximum(curve, 0)
    lo, hi, w = curves.pillar_weights(market.curve_times, market.curve_counts, c, t)
    if shift is None:
        z_lo = market.curve_rates[c, lo][:, None]
        z_hi = market.curve_rates[c, hi][:, None]
    else:
        table = market.curve_rates[:, :, None] + shift[:, :, cols]  # (n_curves, P, n_cols)
        z_lo = table[c, lo]
        z_hi = table[c, hi]
    result: npt.NDArray[np.float64] = (1.0 - w)[:, None] * z_lo + w[:, None] * z_hi
    return result


def _vol_at_expiry(p: pf.Portfolio, market: MarketData, rows: slice) -> np.ndarray:
    """Each option's vol at its expiry and strike on today's surface (0 for non-options)."""
    idx = p.vol_idx[rows]
    if len(market.vol_names) == 0:
        return np.zeros(len(idx))
    has = idx >= 0
    safe = np.maximum(idx, 0)
    strike = np.where(has, p.strike[rows], market.vol_ref[safe])  # non-options: any K > 0
    v = market.vol(safe, np.where(has, p.t[rows], 1.0), strike)
    return np.where(has, v, 0.0)


def _scenario_vol(
    p: pf.Portfolio,
    market: MarketData,
    scenarios: ScenarioSet,
    rows: slice,
    cols: slice,
    spot: np.ndarray,
) -> npt.NDArray[np.float64]:
    """Each option's vol in each scenario: (n_rows, n_cols), see :mod:`riskgrid.risk.scenarios`.

    ``sticky-strike``: today's vol at the option's strike, times the ``vol:`` factor's
    multiplier. ``sticky-moneyness``: the vol today's surface has at the same moneyness
    ``K/S`` under the scenario spot ``S`` — i.e. at strike ``K·S₀/S`` — times the multiplier.
    """
    idx = p.vol_idx[rows]
    mult = _gather(scenarios.vol_mult, idx, cols, 1.0)
    if scenarios.vol_rule != "sticky-moneyness" or not market.has_smile(idx[idx >= 0]):
        # flat in strike: both rules give the same vol, so keep the cheaper path
        result: npt.NDArray[np.float64] = _vol_at_expiry(p, market, rows)[:, None] * mult
        return result
    has = idx >= 0
    safe = np.maximum(idx, 0)
    s0 = market.spots[np.maximum(p.spot_idx[rows], 0)]
    ratio = np.where(has[:, None], s0[:, None] / np.where(has[:, None], spot, 1.0), 1.0)
    k_eff = np.where(has, p.strike[rows], market.vol_ref[safe])[:, None] * ratio
    v = market.vol(safe, np.where(has, p.t[rows], 1.0), k_eff)
    result = np.where(has[:, None], v, 0.0) * mult
    return result


def base_states(p: pf.Portfolio, market: MarketData, rows: slice) -> States:
    """Today's market for each position: (n_rows, 1) arrays."""
    spot_idx, conv_idx = p.spot_idx[rows], p.conv_idx[rows]
    t = p.t[rows]
    spot = np.where(spot_idx >= 0, market.spots[np.maximum(spot_idx, 0)], 0.0)
    fx = np.where(conv_idx >= 0, market.spots[np.maximum(conv_idx, 0)], 1.0)
    conv = np.where(p.conv_invert[rows], 1.0 / fx, fx)
    return States(
        spot=spot[:, None],
        vol=_vol_at_expiry(p, market, rows)[:, None],
        r_dom=_rate(market, p.dom_curve[rows], t, None, slice(None)),
        r_for=_rate(market, p.for_curve[rows], t, None, slice(None)),
        conv=conv[:, None],
    )


def scenario_states(
    p: pf.Portfolio, market: MarketData, scenarios: ScenarioSet, rows: slice, cols: slice
) -> States:
    """Each position's market in each scenario of ``cols``: (n_rows, n_cols) arrays.

    Spots and FX conversions are formed per (factor, scenario) first — small tables — then
    gathered per position.
    """
    t = p.t[rows]
    spot_tab = market.spots[:, None] * scenarios.spot_mult[:, cols]  # (n_spots, n_cols)
    n_spots, n_cols = spot_tab.shape
    # conversion table: rows [0, n) direct, [n, 2n) inverted pairs, row 2n = 1 (base currency)
    conv_tab = np.concatenate([spot_tab, 1.0 / spot_tab, np.ones((1, n_cols))])
    conv_idx = p.conv_idx[rows]
    conv_row = np.where(conv_idx < 0, 2 * n_spots, conv_idx + n_spots * p.conv_invert[rows])
    spot = _gather(spot_tab, p.spot_idx[rows], slice(None), 0.0)
    return States(
        spot=spot,
        vol=_scenario_vol(p, market, scenarios, rows, cols, spot),
        r_dom=_rate(market, p.dom_curve[rows], t, scenarios.rate_shift, cols),
        r_for=_rate(market, p.for_curve[rows], t, scenarios.rate_shift, cols),
        conv=conv_tab[conv_row],
    )


def base_pv(p: pf.Portfolio, market: MarketData, rows: slice = slice(None)) -> np.ndarray:
    """PV in base currency of positions ``rows``: (n_rows,)."""
    return values(p, rows, base_states(p, market, rows))[:, 0]


def base_pv_se(
    p: pf.Portfolio, market: MarketData, rows: slice = slice(None)
) -> tuple[np.ndarray, np.ndarray]:
    """PV and its Monte Carlo standard error (0 for closed forms), each (n_rows,)."""
    v, se = values_se(p, rows, base_states(p, market, rows))
    return v[:, 0], se[:, 0]


#: Elements (positions × scenarios) revalued at a time, so a chunk's temporaries stay in cache.
CHUNK = 65_536


def pnl_block(
    p: pf.Portfolio,
    market: MarketData,
    scenarios: ScenarioSet,
    rows: slice = slice(None),
    cols: slice = slice(None),
) -> np.ndarray:
    """Full-revaluation P&L of positions ``rows`` under scenarios ``cols``.

    Returns an (n_rows, n_cols) float64 array in base currency, positive = gain. Bit-identical
    to the same slice of the full matrix (see the module notes). Works through the rows in
    chunks of about :data:`CHUNK` elements; being elementwise, that changes no value.
    """
    start, stop, step = rows.indices(p.n)
    if step != 1:
        raise ValueError("rows must be a contiguous slice")
    n_cols = len(range(*cols.indices(scenarios.n)))
    out = np.empty((max(stop - start, 0), n_cols))
    per = max(1, CHUNK // max(n_cols, 1))
    for r0 in range(start, stop, per):
        r = slice(r0, min(r0 + per, stop))
        base = values(p, r, base_states(p, market, r))
        scen = values(p, r, scenario_states(p, market, scenarios, r, cols))
        out[r0 - start : r.stop - start] = scen - base
    return out

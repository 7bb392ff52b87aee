r"""Market data as of one date, as arrays indexed by risk factor (no I/O here).

Risk factors and their names (the same names the history file and stress scenarios use):

* ``spot:<NAME>`` — equity spot prices and FX rates (``EURUSD``: USD per 1 EUR);
* ``vol:<NAME>`` — the Black volatility term structure or surface of an equity or FX pair (one
  factor per underlying: a scenario scales the whole surface by one relative shift);
* ``rate:<CURVE>:<TENOR>`` — the continuously compounded zero rate of a curve at a pillar.
  Currency curves are named by the ISO code (``USD``); an equity's dividend yield is the flat
  curve ``div:<NAME>`` with one ``1Y`` pillar.

Implied volatility surfaces
    Each underlying has a grid of Black vols :math:`\sigma_{ij}` at expiry pillars :math:`t_i`
    and log-moneyness pillars :math:`x_j = \ln(K_j/S_0)` (:math:`S_0` the as-of spot; a term
    structure is the one-column grid :math:`x = (0)`). The vol at :math:`(t, K)`:

    1. in strike, at each expiry pillar: **linear in vol** over log-moneyness
       :math:`x = \ln(K/S_0)`, flat (the end pillar's vol) outside the strike range;

       .. math:: \sigma_i(x) = (1-a)\,\sigma_{ij} + a\,\sigma_{i,j+1},
                 \quad a = \frac{x - x_j}{x_{j+1} - x_j}

    2. in time, along that fixed :math:`x`: **linear in total variance**
       :math:`w = \sigma^2 t` between expiry pillars, flat vol before the first and after the
       last (exactly the term-structure rule of :mod:`riskgrid.risk.curves`).

    No calendar arbitrage is introduced: if every strike column has non-decreasing total
    variance :math:`\sigma_{ij}^2 t_i \le \sigma_{i+1,j}^2 t_{i+1}` (the loader enforces it), then
    :math:`\sigma_{i+1,j} \ge c\,\sigma_{ij}` with :math:`c = \sqrt{t_i/t_{i+1}}` for every j,
    and the same weights :math:`(1-a, a)` give :math:`\sigma_{i+1}(x) \ge c\,\sigma_i(x)`,
    i.e. :math:`w_{i+1}(x) \ge w_i(x)` on every line of fixed moneyness (flat extrapolation keeps
    it); between and beyond pillars :math:`w` is a non-negative combination increasing in
    :math:`t`. Butterfly (strike) arbitrage is not checked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from riskgrid.risk import curves


@dataclass(frozen=True, eq=False)
class MarketData:
    """Spots, vols and zero curves as of ``as_of``; picklable, read-only by convention.

    Arrays
    ------
    spots : (n_spots,) equity prices and FX rates, in ``spot_names`` order.
    vol_times, vol_values : (n_vols, P) padded pillar times (``+inf`` padding) and vols; for a
        surface ``vol_values`` is its at-the-money (``K = S_0``) column.
    vol_x, vol_x_counts : (n_vols, Q) padded log-moneyness pillars ``ln(K/S_0)`` (``+inf``
        padding) and their counts; a term structure has the single pillar 0.
    vol_grid : (n_vols, P, Q) vols at (expiry pillar, moneyness pillar), padded with the edge.
    vol_ref : (n_vols,) the as-of spot :math:`S_0` that moneyness is measured against.
    curve_times, curve_rates : (n_curves, P) padded pillar times and zero rates.
    """

    as_of: dt.date
    base_currency: str
    spot_names: tuple[str, ...]
    spots: np.ndarray
    vol_names: tuple[str, ...]
    vol_times: np.ndarray
    vol_values: np.ndarray
    vol_counts: np.ndarray
    curve_names: tuple[str, ...]
    curve_tenors: tuple[tuple[str, ...], ...]
    curve_times: np.ndarray
    curve_rates: np.ndarray
    curve_counts: np.ndarray
    vol_x: np.ndarray
    vol_x_counts: np.ndarray
    vol_grid: np.ndarray
    vol_ref: np.ndarray
    #: equity name → (currency, dividend curve name)
    equities: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: FX pair name → (base currency, quote currency), e.g. EURUSD → (EUR, USD)
    fx_pairs: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: currency → (spot index of the pair that converts it to base, invert?); base → (-1, False)
    to_base: dict[str, tuple[int, bool]] = field(default_factory=dict)

    # -- lookups -----------------------------------------------------------------------------
    def spot_index(self, name: str) -> int:
        return self.spot_names.index(name)

    def vol_index(self, name: str) -> int:
        return self.vol_names.index(name)

    def curve_index(self, name: str) -> int:
        return self.curve_names.index(name)

    @property
    def currencies(self) -> tuple[str, ...]:
        return tuple(self.to_base)

    def factor_names(self) -> list[str]:
        """Every risk factor of this market, by its documented name."""
        names = [f"spot:{s}" for s in self.spot_names]
        names += [f"vol:{v}" for v in self.vol_names]
        for c, tenors in zip(self.curve_names, self.curve_tenors, strict=True):
            names += [f"rate:{c}:{t}" for t in tenors]
        return names

    # -- term structures ---------------------------------------------------------------------
    def zero_rate(self, curve: np.ndarray, t: np.ndarray) -> npt.NDArray[np.float64]:
        """Zero rate of ``curve[i]`` at ``t[i]`` (see :mod:`riskgrid.risk.curves`)."""
        lo, hi, w = curves.pillar_weights(self.curve_times, self.curve_counts, curve, t)
        result: npt.NDArray[np.float64] = (1.0 - w) * self.curve_rates[
            curve, lo
        ] + w * self.curve_rates[curve, hi]
        return result

    def discount(self, curve: np.ndarray, t: np.ndarray) -> npt.NDArray[np.float64]:
        r""":math:`D(t) = e^{-z(t)t}`."""
        result: npt.NDArray[np.float64] = np.exp(
            -self.zero_rate(curve, t) * np.asarray(t, dtype=np.float64)
        )
        return result

    def vol(
        self, idx: np.ndarray, t: np.ndarray, strike: np.ndarray | None = None
    ) -> npt.NDArray[np.float64]:
        """Black vol of underlying ``idx[i]`` at ``t[i]`` (and ``strike[i]``), see module notes.

        ``strike`` is (n,) or (n, k) — k strikes per (underlying, time) query, e.g. one per
        scenario. ``strike=None`` reads the at-the-money column (for a term structure: the term
        structure itself, with exactly the numbers of the strike-less lookup). A term structure
        gives the same vol, bit for bit, whatever the strike.
        """
        t = np.asarray(t, dtype=np.float64)
        lo, hi, w = curves.pillar_weights(self.vol_times, self.vol_counts, idx, t)
        if strike is None:
            s_lo, s_hi = self.vol_values[idx, lo], self.vol_values[idx, hi]
        else:
            strike = np.asarray(strike, dtype=np.float64)
            if strike.ndim == 2:  # (n, k) strikes per query: time weights once per row
                idx, t, lo, hi, w = (a[:, None] for a in (idx, t, lo, hi, w))
            x = np.log(strike / self.vol_ref[idx])
            xl, xh, a = self._moneyness_weights(idx, x)  # once for both expiry pillars
            g = self.vol_grid
            s_lo = (1.0 - a) * g[idx, lo, xl] + a * g[idx, lo, xh]
            s_hi = (1.0 - a) * g[idx, hi, xl] + a * g[idx, hi, xh]
        t_lo, t_hi = self.vol_times[idx, lo], self.vol_times[idx, hi]
        inside = hi > lo
        var = (1.0 - w) * s_lo * s_lo * t_lo + w * s_hi * s_hi * np.where(inside, t_hi, 0.0)
        result: npt.NDArray[np.float64] = np.where(inside, np.sqrt(var / t), s_lo)
        return result

    def smile(self, idx: np.ndarray, pillar: np.ndarray, x: np.ndarray) -> npt.NDArray[np.float64]:
        """Vol at expiry pillar ``pillar[i]`` and log-moneyness ``x[i]``: linear in x, flat out.

        With one moneyness pillar the weight is 0 and the result is the pillar vol exactly.
        """
        xl, xh, a = self._moneyness_weights(idx, x)
        result: npt.NDArray[np.float64] = (1.0 - a) * self.vol_grid[
            idx, pillar, xl
        ] + a * self.vol_grid[idx, pillar, xh]
        return result

    def _moneyness_weights(
        self, idx: np.ndarray, x: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Moneyness pillar indices and weight for each ``(idx, x)``, broadcast, in x's shape."""
        shape = np.broadcast_shapes(np.shape(idx), np.shape(x))
        i = np.broadcast_to(idx, shape).ravel()
        xl, xh, a = curves.pillar_weights(self.vol_x, self.vol_x_counts, i, np.ravel(x))
        return xl.reshape(shape), xh.reshape(shape), a.reshape(shape)

    def has_smile(self, idx: np.ndarray) -> bool:
        """Whether any of the underlyings ``idx`` has more than one moneyness pillar."""
        return bool(np.any(self.vol_x_counts[np.asarray(idx, dtype=np.int64)] > 1))


def build(
    *,
    as_of: dt.date,
    base_currency: str,
    curve_pillars: dict[str, list[tuple[str, float]]],
    fx: dict[str, float],
    equities: dict[str, tuple[float, str, float]],
    vols: dict[str, list[tuple[str, float]]],
    surfaces: dict[str, tuple[list[str], list[float], list[list[float]]]] | None = None,
) -> MarketData:
    """Assemble :class:`MarketData` from plain validated values.

    Parameters
    ----------
    curve_pillars : currency → [(tenor label, zero rate)], tenors increasing.
    fx : pair (6 letters, e.g. ``EURUSD``) → spot.
    equities : name → (spot, currency, continuous dividend yield).
    vols : underlying → [(tenor label, vol)], tenors increasing.
    surfaces : underlying → (tenor labels increasing, log-moneyness pillars ``ln(K/S_0)``
        strictly increasing, vols[tenor][strike]); an underlying is in ``vols`` or here, not
        both.

    Raises ``ValueError`` when a currency cannot be converted to ``base_currency`` through one
    of the ``fx`` pairs (directly or inverted).
    """
    spot_names = [*equities, *fx]
    spots = np.array([equities[n][0] for n in equities] + [fx[p] for p in fx], dtype=np.float64)

    curve_names = list(curve_pillars)
    tenors = [tuple(t for t, _ in curve_pillars[c]) for c in curve_names]
    for name, (_, _, q) in equities.items():
        curve_names.append(f"div:{name}")
        tenors.append(("1Y",))
        curve_pillars = {**curve_pillars, f"div:{name}": [("1Y", q)]}
    c_times, c_counts = curves.pad(
        [np.array([curves.tenor_years(t) for t in ts]) for ts in tenors], np.inf
    )
    c_rates, _ = curves.pad([np.array([r for _, r in curve_pillars[c]]) for c in curve_names], 0)
    for i, n in enumerate(c_counts):  # pad rates with the last value: harmless, never weighted
        c_rates[i, n:] = c_rates[i, n - 1]

    surfaces = surfaces or {}
    vol_names = [*vols, *surfaces]
    tenor_rows = [[t for t, _ in vols[u]] for u in vols] + [surfaces[u][0] for u in surfaces]
    v_times, v_counts = curves.pad(
        [np.array([curves.tenor_years(t) for t in ts]) for ts in tenor_rows], np.inf
    )
    grids = [np.array([[v] for _, v in vols[u]], dtype=np.float64) for u in vols]
    grids += [np.array(surfaces[u][2], dtype=np.float64) for u in surfaces]
    x_rows = [np.zeros(1) for _ in vols] + [np.array(surfaces[u][1]) for u in surfaces]
    v_x, x_counts = curves.pad(x_rows, np.inf)
    n_p, n_q = v_times.shape[1], v_x.shape[1]
    v_grid = np.empty((len(vol_names), n_p, n_q))
    for i, g in enumerate(grids):  # pad with the edge values: harmless, never weighted
        v_grid[i] = np.pad(g, ((0, n_p - g.shape[0]), (0, n_q - g.shape[1])), mode="edge")
    spot_of = dict(zip(spot_names, spots.tolist(), strict=True))
    v_ref = np.array([spot_of[u] for u in vol_names], dtype=np.float64)
    # at-the-money column (x = 0), by the same expression the lookups use
    v_vals = np.empty((len(vol_names), n_p))
    for i in range(len(vol_names)):
        rows = np.full(n_p, i)
        xl, xh, a = curves.pillar_weights(v_x, x_counts, rows, np.zeros(n_p))
        v_vals[i] = (1.0 - a) * v_grid[i, np.arange(n_p), xl] + a * v_grid[i, np.arange(n_p), xh]

    pairs = {p: (p[:3], p[3:]) for p in fx}
    to_base: dict[str, tuple[int, bool]] = {base_currency: (-1, False)}
    for ccy in curve_pillars:
        if ccy.startswith("div:") or ccy == base_currency:
            continue
        direct, inverse = ccy + base_currency, base_currency + ccy
        if direct in fx:
            to_base[ccy] = (spot_names.index(direct), False)
        elif inverse in fx:
            to_base[ccy] = (spot_names.index(inverse), True)
        else:
            raise ValueError(
                f"currency {ccy} has no FX rate to the base currency {base_currency} "
                f"(need {direct} or {inverse})"
            )
    return MarketData(
        as_of=as_of,
        base_currency=base_currency,
        spot_names=tuple(spot_names),
        spots=spots,
        vol_names=tuple(vol_names),
        vol_times=v_times,
        vol_values=v_vals,
        vol_counts=v_counts,
        vol_x=v_x,
        vol_x_counts=x_counts,
        vol_grid=v_grid,
        vol_ref=v_ref,
        curve_names=tuple(curve_names),
        curve_tenors=tuple(tenors),
        curve_times=c_times,
        curve_rates=c_rates,
        curve_counts=c_counts,
        equities={n: (e[1], f"div:{n}") for n, e in equities.items()},
        fx_pairs=pairs,
        to_base=to_base,
    )

"""Market data as of one date, as arrays indexed by risk factor (no I/O here).

Risk factors and their names (the same names the history file and stress scenarios use):

* ``spot:<NAME>`` — equity spot prices and FX rates (``EURUSD``: USD per 1 EUR);
* ``vol:<NAME>`` — the Black volatility term structure of an equity or FX pair;
* ``rate:<CURVE>:<TENOR>`` — the continuously compounded zero rate of a curve at a pillar.
  Currency curves are named by the ISO code (``USD``); an equity's dividend yield is the flat
  curve ``div:<NAME>`` with one ``1Y`` pillar.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from riskgrid.risk import curves


@dataclass(frozen=True, eq=False)
class MarketData:
    """Spots, vols and zero curves as of ``as_of``; picklable, read-only by convention.

    Arrays
    ------
    spots : (n_spots,) equity prices and FX rates, in ``spot_names`` order.
    vol_times, vol_values : (n_vols, P) padded pillar times (``+inf`` padding) and vols.
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
    def zero_rate(self, curve: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Zero rate of ``curve[i]`` at ``t[i]`` (see :mod:`riskgrid.risk.curves`)."""
        lo, hi, w = curves.pillar_weights(self.curve_times, self.curve_counts, curve, t)
        return (1.0 - w) * self.curve_rates[curve, lo] + w * self.curve_rates[curve, hi]

    def discount(self, curve: np.ndarray, t: np.ndarray) -> np.ndarray:
        r""":math:`D(t) = e^{-z(t)t}`."""
        return np.exp(-self.zero_rate(curve, t) * np.asarray(t, dtype=np.float64))

    def vol(self, idx: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Black vol of underlying ``idx[i]`` at ``t[i]``, linear in total variance."""
        t = np.asarray(t, dtype=np.float64)
        lo, hi, w = curves.pillar_weights(self.vol_times, self.vol_counts, idx, t)
        s_lo, s_hi = self.vol_values[idx, lo], self.vol_values[idx, hi]
        t_lo, t_hi = self.vol_times[idx, lo], self.vol_times[idx, hi]
        inside = hi > lo
        var = (1.0 - w) * s_lo * s_lo * t_lo + w * s_hi * s_hi * np.where(inside, t_hi, 0.0)
        return np.where(inside, np.sqrt(var / t), s_lo)


def build(
    *,
    as_of: dt.date,
    base_currency: str,
    curve_pillars: dict[str, list[tuple[str, float]]],
    fx: dict[str, float],
    equities: dict[str, tuple[float, str, float]],
    vols: dict[str, list[tuple[str, float]]],
) -> MarketData:
    """Assemble :class:`MarketData` from plain validated values.

    Parameters
    ----------
    curve_pillars : currency → [(tenor label, zero rate)], tenors increasing.
    fx : pair (6 letters, e.g. ``EURUSD``) → spot.
    equities : name → (spot, currency, continuous dividend yield).
    vols : underlying → [(tenor label, vol)], tenors increasing.

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

    vol_names = list(vols)
    v_times, v_counts = curves.pad(
        [np.array([curves.tenor_years(t) for t, _ in vols[u]]) for u in vol_names], np.inf
    )
    v_vals, _ = curves.pad([np.array([v for _, v in vols[u]]) for u in vol_names], 0)
    for i, n in enumerate(v_counts):
        v_vals[i, n:] = v_vals[i, n - 1]

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
        curve_names=tuple(curve_names),
        curve_tenors=tuple(tenors),
        curve_times=c_times,
        curve_rates=c_rates,
        curve_counts=c_counts,
        equities={n: (e[1], f"div:{n}") for n, e in equities.items()},
        fx_pairs=pairs,
        to_base=to_base,
    )

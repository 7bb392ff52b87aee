r"""Market scenarios: historical simulation and explicit stresses (no I/O here).

A scenario moves every risk factor of the market (see :mod:`riskgrid.risk.market`):

* spots and vols by a *relative* shift, stored as a multiplier :math:`m` (new = old × m);
* zero rates by an *absolute* shift :math:`\delta` (new = old + δ, in decimal: 0.0001 = 1bp).

Historical simulation
    From a daily history :math:`X_0 \dots X_{N-1}` of each factor (the last row is the latest
    observation, usually the valuation date) and a horizon of :math:`h` business days, scenario
    :math:`k = 0, 1, \dots, W-1` uses the change over the window ending at row :math:`e_k`:

    .. math::

        m = X_{e_k} / X_{e_k - h}, \qquad \delta = X_{e_k} - X_{e_k - h}

    with :math:`e_k = N-1-k` for overlapping windows (needs :math:`N \ge W + h` rows) and
    :math:`e_k = N-1-kh` for non-overlapping ones (needs :math:`N \ge Wh + 1` rows). Multi-day
    horizons are therefore built from actual :math:`h`-day changes, not by scaling 1-day
    changes with :math:`\sqrt h`. Each scenario is labelled by the date of :math:`X_{e_k}`.

Vol surfaces under a scenario (``vol_rule``)
    The ``vol:<NAME>`` factor moves the whole surface of an underlying by one relative shift
    (a parallel relative shift: every pillar vol × m). What a *spot* move does is the rule:

    * ``sticky-strike`` (default): an option keeps the vol of its strike,
      :math:`\sigma'(K, T) = m\,\sigma_0(K, T)` — a spot move alone leaves it unchanged;
    * ``sticky-moneyness``: the smile moves with the spot, an option sees the vol today's
      surface has at its scenario moneyness, :math:`\sigma'(K, T) = m\,\sigma_0(K S_0/S', T)`
      — a spot move changes the vol by the surface's skew.

    For an underlying with a term structure only (flat in strike) both rules agree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from riskgrid.risk.market import MarketData


@dataclass(frozen=True, eq=False)
class ScenarioSet:
    """n scenarios, stored factor-major so a block of scenarios is a contiguous column slice.

    Attributes
    ----------
    labels : (n,) scenario names, e.g. ``hs:2025-03-14`` or ``stress:equity-crash``.
    spot_mult : (n_spots, n) multipliers for ``market.spots``.
    vol_mult : (n_vols, n) multipliers for the whole vol term structure of each underlying.
    rate_shift : (n_curves, P, n) absolute shifts of each curve pillar.
    vol_rule : what a spot move does to the vol an option sees, one of :data:`VOL_RULES`
        (see the module notes); the ``vol:`` multiplier applies under either.
    """

    labels: tuple[str, ...]
    spot_mult: np.ndarray
    vol_mult: np.ndarray
    rate_shift: np.ndarray
    vol_rule: str = "sticky-strike"

    @property
    def n(self) -> int:
        return len(self.labels)


@dataclass(frozen=True, eq=False)
class FactorHistory:
    """Daily observations of named risk factors: ``values[row, column]``, dates increasing."""

    dates: tuple[dt.date, ...]
    names: tuple[str, ...]
    values: np.ndarray


def identity(market: MarketData, labels: tuple[str, ...]) -> ScenarioSet:
    """Scenarios that move nothing (the starting point for stresses)."""
    n = len(labels)
    return ScenarioSet(
        labels=labels,
        spot_mult=np.ones((len(market.spots), n)),
        vol_mult=np.ones((len(market.vol_names), n)),
        rate_shift=np.zeros((*market.curve_rates.shape, n)),
    )


def window_rows(n_rows: int, window: int, horizon: int, overlapping: bool) -> np.ndarray:
    """End rows :math:`e_k` of the scenario windows, most recent first.

    Raises ``ValueError`` when the history is too short.
    """
    step = 1 if overlapping else horizon
    need = (window - 1) * step + horizon + 1
    if n_rows < need:
        raise ValueError(
            f"needs at least {need} rows of history for window {window}, horizon {horizon} "
            f"({'overlapping' if overlapping else 'non-overlapping'}), found {n_rows}"
        )
    return n_rows - 1 - step * np.arange(window)


def historical(
    market: MarketData,
    history: FactorHistory,
    *,
    window: int,
    horizon: int = 1,
    overlapping: bool = True,
) -> ScenarioSet:
    """Historical-simulation scenarios (see the module notes for the construction).

    Every spot, vol and currency-curve pillar of ``market`` must have a history column;
    curve pillars without one (dividend curves, usually) are not shifted. Raises ``ValueError``
    naming the missing factors.
    """
    ends = window_rows(len(history.dates), window, horizon, overlapping)
    starts = ends - horizon
    col = {name: j for j, name in enumerate(history.names)}
    missing = [f"spot:{s}" for s in market.spot_names if f"spot:{s}" not in col]
    missing += [f"vol:{v}" for v in market.vol_names if f"vol:{v}" not in col]
    for c, tenors in zip(market.curve_names, market.curve_tenors, strict=True):
        if not c.startswith("div:"):
            missing += [f"rate:{c}:{t}" for t in tenors if f"rate:{c}:{t}" not in col]
    if missing:
        raise ValueError(f"history has no column for {', '.join(missing)}")
    x = history.values

    def rel(names: list[str]) -> npt.NDArray[np.float64]:
        if not names:
            return np.ones((0, len(ends)))
        j = np.array([col[n] for n in names])
        result: npt.NDArray[np.float64] = (x[ends][:, j] / x[starts][:, j]).T.copy()
        return result

    spot_mult = rel([f"spot:{s}" for s in market.spot_names])
    vol_mult = rel([f"vol:{v}" for v in market.vol_names])
    rate_shift = np.zeros((*market.curve_rates.shape, len(ends)))
    for ci, (curve, tenors) in enumerate(zip(market.curve_names, market.curve_tenors, strict=True)):
        for pi, tenor in enumerate(tenors):
            j = col.get(f"rate:{curve}:{tenor}")
            if j is not None:
                rate_shift[ci, pi] = x[ends, j] - x[starts, j]
    labels = tuple(f"hs:{history.dates[e].isoformat()}" for e in ends)
    return ScenarioSet(labels, spot_mult, vol_mult, rate_shift)


def stress(market: MarketData, scenarios: list[tuple[str, dict[str, float]]]) -> ScenarioSet:
    """Explicit stresses: ``[(name, {factor name: shift})]``.

    The shift is relative for ``spot:``/``vol:`` factors (-0.2 = down 20%) and absolute for
    ``rate:`` factors (0.01 = up 100bp). Factors not named are unchanged. Names must be exact
    factor names of ``market`` (the spec layer expands patterns).
    """
    out = identity(market, tuple(f"stress:{name}" for name, _ in scenarios))
    for k, (_, shocks) in enumerate(scenarios):
        for factor, shift in shocks.items():
            family, _, rest = factor.partition(":")
            if family == "spot":
                out.spot_mult[market.spot_index(rest), k] = 1.0 + shift
            elif family == "vol":
                out.vol_mult[market.vol_index(rest), k] = 1.0 + shift
            elif family == "rate":
                curve, _, tenor = rest.rpartition(":")
                c = market.curve_index(curve)
                out.rate_shift[c, market.curve_tenors[c].index(tenor), k] = shift
            else:
                raise ValueError(f"unknown risk factor {factor!r}")
    return out


#: Scenario rules for vol surfaces (see the module notes); the first is the default.
VOL_RULES: tuple[str, ...] = ("sticky-strike", "sticky-moneyness")


def with_vol_rule(scenarios: ScenarioSet, rule: str) -> ScenarioSet:
    """The same scenarios under another vol rule; ``ValueError`` for an unknown rule."""
    if rule not in VOL_RULES:
        raise ValueError(f"unknown vol rule {rule!r}; choose one of {', '.join(VOL_RULES)}")
    return dataclasses.replace(scenarios, vol_rule=rule)


def concat(*sets: ScenarioSet) -> ScenarioSet:
    """Scenario sets side by side, in the order given."""
    return ScenarioSet(
        labels=tuple(label for s in sets for label in s.labels),
        spot_mult=np.concatenate([s.spot_mult for s in sets], axis=1),
        vol_mult=np.concatenate([s.vol_mult for s in sets], axis=1),
        rate_shift=np.concatenate([s.rate_shift for s in sets], axis=2),
    )

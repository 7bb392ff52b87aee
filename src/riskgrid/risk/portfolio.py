"""Positions as a struct of arrays, indexed into the market's risk factors.

Instrument types and what one unit of ``quantity`` means (negative quantity = short):

=================  ============================================  ==========================
type               value in the payoff currency, per unit        payoff currency
=================  ============================================  ==========================
``equity_option``  BSM price (dividend yield = ``div:<name>``)   the equity's currency
``fx_option``      Garman–Kohlhagen price, per unit of CCY1      CCY2 of pair CCY1CCY2
``fx_forward``     :math:`S D_1(T) - K D_2(T)` (buy 1 CCY1 at K)  CCY2
``spot``           :math:`S` (a share, or 1 unit of CCY1)        equity currency / CCY2
``zcb``            :math:`D(T)` (1 unit paid at T)               ``currency``
=================  ============================================  ==========================

Every value is converted to the market's base currency at the (scenario) FX spot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from riskgrid.risk import exotics
from riskgrid.risk.market import MarketData

KINDS: tuple[str, ...] = (
    "equity_option",
    "fx_option",
    "fx_forward",
    "spot",
    "zcb",
    *exotics.EXOTIC_KINDS,
)
EQUITY_OPTION, FX_OPTION, FX_FORWARD, SPOT, ZCB, ASIAN, BARRIER, AMERICAN = range(len(KINDS))
#: Types with a vol (Black–Scholes closed form or an exotic pricer).
OPTION_KINDS = (EQUITY_OPTION, FX_OPTION, ASIAN, BARRIER, AMERICAN)

#: Groupings every portfolio carries (a job's ``groupBy`` picks among them).
GROUP_KEYS: tuple[str, ...] = ("desk", "book", "underlying", "type", "currency")


def year_fraction(start: dt.date, end: dt.date) -> float:
    """ACT/365F: actual days / 365."""
    return (end - start).days / 365.0


@dataclass(frozen=True)
class PositionRecord:
    """One validated position, as plain values (the spec layer checks them first)."""

    id: str
    type: str
    quantity: float
    underlying: str | None = None
    currency: str | None = None
    strike: float | None = None
    expiry: dt.date | None = None
    option_type: str | None = None
    desk: str = "default"
    book: str = "default"
    #: product terms of an exotic (or Heston-priced) position; ``None`` = Black–Scholes type
    exotic: exotics.ExoticSpec | None = None


@dataclass(frozen=True, eq=False)
class Portfolio:
    """n positions as parallel arrays; index ``-1`` means "not applicable".

    Attributes
    ----------
    ids : (n,) str
    kind : (n,) int8, index into :data:`KINDS`
    quantity, strike, t : (n,) float64; ``t`` in years (ACT/365F) to expiry/maturity
    is_call : (n,) bool
    spot_idx : (n,) underlying spot factor (equity or FX pair)
    vol_idx : (n,) vol term structure (options only)
    dom_curve : (n,) discount curve of the payoff currency
    for_curve : (n,) dividend curve (equity) or CCY1 curve (FX)
    conv_idx, conv_invert : (n,) FX factor converting the payoff currency to base, and whether
        the pair is quoted the other way round (``-1``: payoff currency is the base)
    groups : key → (n,) str labels, for every key in :data:`GROUP_KEYS`
    """

    ids: np.ndarray
    kind: np.ndarray
    quantity: np.ndarray
    strike: np.ndarray
    t: np.ndarray
    is_call: np.ndarray
    spot_idx: np.ndarray
    vol_idx: np.ndarray
    dom_curve: np.ndarray
    for_curve: np.ndarray
    conv_idx: np.ndarray
    conv_invert: np.ndarray
    groups: dict[str, np.ndarray] = field(default_factory=dict)
    #: row → product terms of positions priced by :mod:`riskgrid.risk.exotics`
    exotic: dict[int, exotics.ExoticSpec] = field(default_factory=dict)
    settings: exotics.PricingSettings = field(default_factory=exotics.PricingSettings)

    @property
    def n(self) -> int:
        return int(self.ids.shape[0])

    def exotic_rows(self, rows: slice) -> list[int]:
        """Rows of ``rows`` (absolute indices) priced by the exotic pricers."""
        start, stop, _ = rows.indices(self.n)
        return [i for i in range(start, stop) if i in self.exotic]

    def mc_rows(self) -> list[int]:
        """Rows priced by Monte Carlo (they carry a standard error)."""
        return [i for i, e in self.exotic.items() if exotics.is_mc(e, self.settings)]

    def cost_units(self) -> np.ndarray:
        """Relative cost of one valuation of each position (Black–Scholes = 1)."""
        out = np.ones(self.n)
        for i, e in self.exotic.items():
            out[i] = exotics.cost_units(e, self.settings)
        return out

    def column_bytes(self) -> np.ndarray:
        """Kernel memory of one scenario column of each position (Monte Carlo; else 0)."""
        out = np.zeros(self.n)
        for i, e in self.exotic.items():
            out[i] = exotics.column_bytes(e, self.settings)
        return out


def payoff_currency(rec: PositionRecord, market: MarketData) -> str:
    """The currency a position pays in (see the module table)."""
    if rec.type == "zcb":
        assert rec.currency is not None
        return rec.currency
    assert rec.underlying is not None
    if rec.underlying in market.fx_pairs:
        return market.fx_pairs[rec.underlying][1]
    return market.equities[rec.underlying][0]


def build(
    records: Sequence[PositionRecord],
    market: MarketData,
    settings: exotics.PricingSettings | None = None,
) -> Portfolio:
    """Index validated positions into ``market``; a record the market can't price is a bug."""
    n = len(records)
    kind = np.empty(n, dtype=np.int8)
    quantity = np.empty(n)
    strike = np.zeros(n)
    t = np.zeros(n)
    is_call = np.zeros(n, dtype=bool)
    spot_idx = np.full(n, -1, dtype=np.int64)
    vol_idx = np.full(n, -1, dtype=np.int64)
    dom = np.full(n, -1, dtype=np.int64)
    forc = np.full(n, -1, dtype=np.int64)
    conv = np.full(n, -1, dtype=np.int64)
    inv = np.zeros(n, dtype=bool)
    labels: dict[str, list[str]] = {k: [] for k in GROUP_KEYS}
    for i, rec in enumerate(records):
        k = KINDS.index(rec.type)
        kind[i] = k
        quantity[i] = rec.quantity
        strike[i] = rec.strike or 0.0
        if rec.exotic is not None and not rec.strike and rec.underlying is not None:
            # average-strike Asian: its vol is read at today's spot (no fixed strike)
            strike[i] = float(market.spots[market.spot_index(rec.underlying)])
        if rec.expiry is not None:
            t[i] = year_fraction(market.as_of, rec.expiry)
        is_call[i] = rec.option_type == "call"
        ccy = payoff_currency(rec, market)
        dom[i] = market.curve_index(ccy)
        conv[i], inv[i] = market.to_base[ccy]
        if rec.underlying is not None:
            spot_idx[i] = market.spot_index(rec.underlying)
            if rec.underlying in market.fx_pairs:
                forc[i] = market.curve_index(market.fx_pairs[rec.underlying][0])
            else:
                forc[i] = market.curve_index(market.equities[rec.underlying][1])
        if k in OPTION_KINDS:
            assert rec.underlying is not None
            vol_idx[i] = market.vol_index(rec.underlying)
        labels["desk"].append(rec.desk)
        labels["book"].append(rec.book)
        labels["underlying"].append(rec.underlying or rec.currency or "")
        labels["type"].append(rec.type)
        labels["currency"].append(ccy)
    return Portfolio(
        ids=np.array([r.id for r in records], dtype=str),
        kind=kind,
        quantity=quantity,
        strike=strike,
        t=t,
        is_call=is_call,
        spot_idx=spot_idx,
        vol_idx=vol_idx,
        dom_curve=dom,
        for_curve=forc,
        conv_idx=conv,
        conv_invert=inv,
        groups={k: np.array(v, dtype=str) for k, v in labels.items()},
        exotic={i: r.exotic for i, r in enumerate(records) if r.exotic is not None},
        settings=settings or exotics.PricingSettings(),
    )

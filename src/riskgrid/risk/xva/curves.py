"""Zero curves for exposure: quoted zero rates → discount factors, log-linear between pillars.

Each pillar is a date (``valuation date + spot lag + tenor``) with a zero rate quoted in a
compounding (simple, annual or continuous) and day count measured from the valuation date.
Between pillars the log discount factor is linear in calendar time (flat forwards, ORE's
``LogLinear`` on discount factors); before the first pillar it runs from ``log P(0,0) = 0``;
beyond the last the last forward continues. One pillar gives a flat curve: ORE's minimal
example quotes ``ZERO/RATE/EUR/EUR1D/A360/1Y 0.020`` as a simple ACT/360 rate with a 2-day
spot lag (the discount factors it prints are reproduced to 1e-10 by this construction).
A parallel ``shift`` (decimal) moves every continuously compounded zero rate alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from riskgrid.risk.xva.dates import DayCount, year_fraction

Compounding = Literal["simple", "annual", "continuous"]


def discount_from_rate(rate: float, tau: float, compounding: Compounding) -> float:
    if compounding == "simple":
        return 1.0 / (1.0 + rate * tau)
    if compounding == "annual":
        return float((1.0 + rate) ** (-tau))
    return float(np.exp(-rate * tau))


@dataclass(frozen=True)
class ZeroCurve:
    as_of: dt.date
    days: np.ndarray  # pillar dates as days after as_of, increasing, > 0
    log_df: np.ndarray  # log P(0, pillar)
    shift: float = 0.0

    @classmethod
    def from_quotes(
        cls,
        as_of: dt.date,
        pillars: list[dt.date],
        rates: list[float],
        basis: DayCount,
        compounding: Compounding,
    ) -> ZeroCurve:
        days = np.array([(d - as_of).days for d in pillars], dtype=float)
        log_df = np.array(
            [
                np.log(discount_from_rate(r, year_fraction(as_of, d, basis), compounding))
                for d, r in zip(pillars, rates, strict=True)
            ]
        )
        return cls(as_of, days, log_df)

    def discount_days(self, days: np.ndarray) -> npt.NDArray[np.float64]:
        """``P(0, T)`` for ``T`` given in days after the valuation date."""
        d = np.asarray(days, dtype=float)
        xs = np.concatenate([[0.0], self.days])
        ys = np.concatenate([[0.0], self.log_df])
        inner = np.interp(d, xs, ys)
        # beyond the last pillar: the last segment's forward goes on
        slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        out = np.where(d > xs[-1], ys[-1] + slope * (d - xs[-1]), inner)
        result: npt.NDArray[np.float64] = np.exp(out - self.shift * d / 365.0)
        return result

    def discount(self, t: np.ndarray) -> np.ndarray:
        """``P(0, T)`` for model times (ACT/365F years)."""
        return self.discount_days(np.asarray(t, dtype=float) * 365.0)

    def discount_dates(self, dates: list[dt.date]) -> np.ndarray:
        return self.discount_days(np.array([(d - self.as_of).days for d in dates], dtype=float))

    def shifted(self, bp: float) -> ZeroCurve:
        """The curve with every continuously compounded zero rate moved by ``bp``."""
        return replace(self, shift=self.shift + bp)

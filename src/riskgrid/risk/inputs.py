"""Everything a grid run needs, in one picklable value shipped once to each worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from riskgrid.risk.market import MarketData
from riskgrid.risk.portfolio import Portfolio
from riskgrid.risk.scenarios import ScenarioSet


@dataclass(frozen=True)
class MeasureRequest:
    """What a job asked for.

    Attributes
    ----------
    var, es : confidence levels, e.g. ``(0.99,)`` and ``(0.975,)``.
    greeks : whether to compute bump-and-revalue Greeks.
    group_by : portfolio groupings to report (keys of ``Portfolio.groups``).
    top_contributors : how many positions to list by VaR contribution.
    convention : VaR/ES convention, one of :data:`riskgrid.risk.measures.CONVENTIONS`.
    theta_horizon_days : theta over this many calendar days (0: no theta), see
        :mod:`riskgrid.risk.theta`.
    """

    var: tuple[float, ...] = (0.99,)
    es: tuple[float, ...] = (0.975,)
    greeks: bool = True
    group_by: tuple[str, ...] = ("desk", "book", "underlying")
    top_contributors: int = 10
    convention: str = "quantile"
    theta_horizon_days: int = 0


@dataclass(frozen=True, eq=False)
class JobInputs:
    """A loaded job: the validated resource plus the arrays the pricers use.

    ``job`` is the :class:`riskgrid.spec.job.RiskJob` it came from (typed loosely here because
    ``risk`` imports nothing else of riskgrid).
    """

    job: Any
    portfolio: Portfolio
    market: MarketData
    scenarios: ScenarioSet
    measures: MeasureRequest

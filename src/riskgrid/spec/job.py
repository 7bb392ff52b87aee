"""``RiskJob``: a risk run — portfolio, market data, scenarios and the measures wanted.

``load_job(path)`` reads the job and every file it references (paths relative to the job file),
checks them against each other and returns :class:`riskgrid.risk.inputs.JobInputs`. Every problem
is reported as ``file: field.path: reason`` (for CSV files: ``file: row N, column C: reason``).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import fnmatch
import io
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal, TypedDict

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator

from riskgrid.risk import exotics as ex
from riskgrid.risk import heston as hs
from riskgrid.risk import portfolio as pf
from riskgrid.risk import rng
from riskgrid.risk import scenarios as sc
from riskgrid.risk.inputs import JobInputs, MeasureRequest
from riskgrid.risk.market import MarketData
from riskgrid.spec.base import DnsLabel, Finite, Resource, Strict
from riskgrid.spec.errors import Problem, SpecError
from riskgrid.spec.loading import load_resource, problems_from_validation, read_text
from riskgrid.spec.market_files import load_history, load_market

InstrumentType = Literal[
    "equity_option",
    "fx_option",
    "fx_forward",
    "spot",
    "zcb",
    "asian_option",
    "barrier_option",
    "american_option",
]
Frequency = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,3}[DWMY]$")]
GroupKey = Literal["desk", "book", "underlying", "type", "currency"]
Convention = Literal["quantile", "lower-tail", "linear"]
Label = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Confidence = Annotated[Finite, Field(ge=0.5, lt=1.0)]
MAX_PROBLEMS = 50
# Bounds that keep every price finite in float64 (issue #12: 1e308 parsed, then overflowed in
# the pricer); documented per field in docs/formats.md.
MAX_QUANTITY = 1e12
MAX_STRIKE = 1e9
MAX_SHIFT = 100.0


class Position(Strict):
    """One position; which fields apply depends on ``type`` (see docs/formats.md)."""

    id: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$",
        description="Unique position id.",
    )
    type: InstrumentType = Field(description="Instrument type.")
    quantity: Finite = Field(
        ge=-MAX_QUANTITY,
        le=MAX_QUANTITY,
        description="Signed size, negative = short: shares (equity), units of CCY1 (FX pair "
        "CCY1CCY2), face amount (zcb). Must not be 0; |quantity| ≤ 1e12.",
    )
    underlying: str | None = Field(
        None,
        description="Equity name or FX pair (`EURUSD`) of the market data; not for `zcb`.",
    )
    currency: str | None = Field(
        None,
        pattern=r"^[A-Z]{3}$",
        description="Currency of a `zcb` (required there); for other types optional, and if "
        "given must equal the payoff currency.",
    )
    strike: Finite | None = Field(
        None,
        gt=0,
        le=MAX_STRIKE,
        description="Strike (options) or contracted forward rate (fx_forward), in underlying "
        "units.",
    )
    expiry: dt.date | None = Field(
        None,
        description="Expiry (options), delivery (fx_forward) or maturity (zcb) date; must be "
        "after the valuation date.",
    )
    option_type: Literal["call", "put"] | None = Field(
        None, alias="optionType", description="`call` or `put` (options only)."
    )
    desk: Label = Field("default", description="Desk, for grouping.")
    book: Label = Field("default", description="Book, for grouping.")
    # -- exotic terms (docs/risk.md "Exotic positions"); in a CSV, lists are `;`-separated
    model: Literal["bsm", "heston"] | None = Field(
        None,
        description="Pricing model: `bsm` (default) or `heston` (needs "
        "`spec.pricing.heston.<underlying>`); for equity/fx options, Asians and barriers.",
    )
    average: Literal["arithmetic", "geometric"] | None = Field(
        None, description="asian_option: how the fixings are averaged (default arithmetic)."
    )
    average_on: Literal["price", "strike"] | None = Field(
        None,
        alias="averageOn",
        description="asian_option: `price` (fixed strike, default) or `strike` (the average "
        "is the strike; `strike` must be empty).",
    )
    fixing_dates: list[dt.date] | None = Field(
        None,
        alias="fixingDates",
        description="asian_option: fixing dates, ascending, none after expiry. CSV: "
        "`2027-01-15;2027-02-15`.",
    )
    fixing_count: int | None = Field(
        None,
        alias="fixingCount",
        ge=1,
        le=2000,
        description="asian_option: number of fixings, the last at expiry, spaced by "
        "`fixingFrequency` backwards (instead of `fixingDates`).",
    )
    fixing_frequency: Frequency | None = Field(
        None, alias="fixingFrequency", description="asian_option: `1D`, `1W`, `1M`, `3M`, `1Y`…"
    )
    past_fixings: dict[dt.date, Annotated[Finite, Field(gt=0)]] | None = Field(
        None,
        alias="pastFixings",
        description="asian_option: observed values of the fixings on or before the valuation "
        "date (every such fixing needs one). CSV: `2026-10-20=101.5;2026-11-20=99.8`.",
    )
    barrier: Finite | None = Field(None, gt=0, description="barrier_option: barrier level.")
    barrier_type: Literal["down-in", "down-out", "up-in", "up-out"] | None = Field(
        None, alias="barrierType", description="barrier_option: direction and knock type."
    )
    rebate: Finite | None = Field(
        None,
        ge=0,
        description="barrier_option: paid at expiry if a knock-in never knocks in, or when a "
        "knock-out knocks out (default 0).",
    )
    monitoring: Annotated[str, Field(pattern=r"^(continuous|[1-9][0-9]{0,3}[DWMY])$")] | None = (
        Field(
            None,
            description="barrier_option: `continuous` (default) or a discrete monitoring "
            "frequency (`1D`, `1W`…) counted back from expiry.",
        )
    )
    knocked: bool | None = Field(
        None,
        description="barrier_option: the barrier was touched before the valuation date. "
        "Required (true) when today's spot is at or beyond the barrier.",
    )

    @field_validator("fixing_dates", mode="before")
    @classmethod
    def _split_dates(cls, v: object) -> object:
        if isinstance(v, str):  # CSV cell
            return [d.strip() for d in v.split(";") if d.strip()]
        return v

    @field_validator("past_fixings", mode="before")
    @classmethod
    def _split_fixings(cls, v: object) -> object:
        if isinstance(v, str):  # CSV cell `date=value;date=value`
            out: dict[str, str] = {}
            for item in (i.strip() for i in v.split(";")):
                if not item:
                    continue
                if "=" not in item:
                    raise ValueError(f"expected DATE=VALUE items separated by ';', got {item!r}")
                d, val = item.split("=", 1)
                out[d.strip()] = val.strip()
            return out
        return v


class PortfolioSpec(Strict):
    """Positions inline, or a CSV file of positions — exactly one of the two."""

    file: str | None = Field(
        None,
        description="CSV of positions (path relative to the job file); header = Position "
        "field names (`id,type,underlying,currency,strike,expiry,optionType,quantity,desk,"
        "book`), empty cells for fields that don't apply.",
    )
    positions: list[Position] | None = Field(None, description="Positions inline.")

    @model_validator(mode="after")
    def _one_source(self) -> PortfolioSpec:
        if (self.file is None) == (self.positions is None):
            raise ValueError("give exactly one of `file` and `positions`")
        return self


class MarketDataSpec(Strict):
    snapshot: str = Field(
        description="As-of market data YAML (spots, FX, curves, dividend yields, vols); path "
        "relative to the job file. Format: docs/formats.md, `riskgrid schema MarketData`."
    )
    history: str | None = Field(
        None,
        description="Risk-factor history CSV for historical scenarios (needed when "
        "`scenarios.historical` is set).",
    )


class HistoricalSpec(Strict):
    """Historical simulation: one scenario per past ``horizonDays``-day change."""

    window: int = Field(
        250, ge=1, le=10_000, description="Number of historical scenarios (most recent first)."
    )
    horizon_days: int = Field(
        1,
        alias="horizonDays",
        ge=1,
        le=250,
        description="Holding period in business days: each scenario applies the change of "
        "every factor over this many rows of history (not sqrt-of-time scaling).",
    )
    overlapping: bool = Field(
        True,
        description="Overlapping windows end on consecutive days (needs window + horizon "
        "rows); non-overlapping ones are horizonDays apart (needs window·horizon + 1 rows).",
    )


class Shock(Strict):
    factor: str = Field(
        min_length=1,
        description="Risk-factor name or glob pattern: `spot:ACME`, `vol:*`, `rate:USD:*`. "
        "Must match at least one factor; a later shock overrides an earlier one on a factor.",
    )
    shift: Finite = Field(
        ge=-MAX_SHIFT,
        le=MAX_SHIFT,
        description="|shift| ≤ 100. "
        "Relative for spot/vol factors (-0.2 = down 20%, must be > -1); absolute "
        "decimal for rate factors (0.01 = +100bp).",
    )


class StressSpec(Strict):
    name: DnsLabel = Field(description="Scenario name; the label is `stress:<name>`.")
    shocks: list[Shock] = Field(min_length=1, description="Factor shifts; others unchanged.")


class ScenariosSpec(Strict):
    historical: HistoricalSpec | None = Field(None, description="Historical simulation.")
    stress: list[StressSpec] = Field(default_factory=list, description="Explicit stresses.")
    vol_rule: Literal["sticky-strike", "sticky-moneyness"] = Field(
        "sticky-strike",
        alias="volRule",
        description="What a spot move does to the vol an option sees on its underlying's "
        "surface: `sticky-strike` (keeps its strike's vol) or `sticky-moneyness` (the smile "
        "moves with the spot: the vol at the same K/S). Either way the `vol:<NAME>` factor "
        "shifts the whole surface by one relative change. Same result for flat-in-strike vols.",
    )

    @model_validator(mode="after")
    def _some(self) -> ScenariosSpec:
        if self.historical is None and not self.stress:
            raise ValueError("give `historical` and/or at least one `stress` scenario")
        names = [s.name for s in self.stress]
        if len(set(names)) != len(names):
            raise ValueError("stress scenario names must be unique")
        return self


class MeasuresSpec(Strict):
    var: list[Confidence] = Field(
        default_factory=lambda: [0.99],
        description="VaR confidence levels (0.5 ≤ c < 1). VaR is the ⌈n·c⌉-th smallest loss.",
    )
    es: list[Confidence] = Field(
        default_factory=lambda: [0.975],
        description="Expected Shortfall confidence levels (tail average beyond the quantile).",
    )
    greeks: bool = Field(True, description="Bump-and-revalue delta, gamma, vega, rho.")
    group_by: list[GroupKey] = Field(
        default_factory=lambda: list[GroupKey](["desk", "book", "underlying"]),
        alias="groupBy",
        description="Groupings reported with their own PV, VaR and ES.",
    )
    top_contributors: int = Field(
        10,
        alias="topContributors",
        ge=0,
        le=1000,
        description="Number of positions listed by VaR contribution.",
    )
    convention: Convention = Field(
        "quantile",
        description="VaR/ES convention for the portfolio, every group and component VaR/ES: "
        "`quantile` (VaR = ⌈n·c⌉-th smallest loss, ES = tail average with a fractional "
        "boundary weight), `lower-tail` (k = ⌈(1−c)·n⌉ exactly; VaR = −k-th smallest P&L, "
        "ES = −mean of the k smallest) or `linear` (VaR = −P&L quantile at 1−c, linear "
        "interpolation as NumPy's default; ES = −mean of P&Ls ≤ −VaR). See docs/risk.md.",
    )


class RevaluationSpec(Strict):
    horizon_days: int = Field(
        0,
        alias="horizonDays",
        ge=0,
        le=365,
        description="Theta: revalue every position as of the valuation date + this many "
        "calendar days (options aged, curves and vol surfaces held constant in time to "
        "maturity, spots unchanged) and report theta = V(later) − V(today) per position. "
        "0 (default) = no theta. Scenario P&L stays instantaneous. See docs/risk.md.",
    )


class GridSpec(Strict):
    target_task_seconds: Finite = Field(
        0.5,
        alias="targetTaskSeconds",
        ge=0.05,
        le=5.0,
        description="Planner's target run time of one task (seconds).",
    )
    seed: int = Field(
        0, ge=0, lt=2**64, description="Job seed for keyed random streams (Monte Carlo paths)."
    )
    max_cost_seconds: Finite = Field(
        3600.0,
        alias="maxCostSeconds",
        gt=0,
        description="Budget: a job whose estimated single-core cost exceeds it is refused "
        "before it starts (the estimate is in the message).",
    )


class MonteCarloSpec(Strict):
    paths: int = Field(
        8192, ge=256, le=rng.MAX_PATHS, description="Paths per Monte Carlo position (even)."
    )
    steps_per_year: int = Field(
        52,
        alias="stepsPerYear",
        ge=1,
        le=rng.MAX_STEPS,
        description="Time steps per year of Heston paths and continuously monitored barriers "
        "(GBM is exact at fixing/monitoring dates).",
    )
    antithetic: bool = Field(True, description="Antithetic pairs (pseudo-random sampling).")
    control_variate: bool = Field(
        True,
        alias="controlVariate",
        description="Control variates: the geometric Asian for arithmetic average-price "
        "Asians; the discounted spot (a martingale under QE-M) for Heston Asians and barriers.",
    )
    sampling: Literal["pseudo", "sobol"] = Field(
        "pseudo",
        description="`pseudo` (keyed SFC64 blocks) or `sobol` (scrambled Sobol with Brownian "
        "bridge; BSM Asians and barriers; paths must be a power of 2).",
    )
    sobol_replicates: int = Field(
        8, alias="sobolReplicates", ge=2, le=64, description="Independent Sobol scrambles."
    )

    @model_validator(mode="after")
    def _paths(self) -> MonteCarloSpec:
        if self.paths % 2:
            raise ValueError("paths must be even (antithetic pairs)")
        if self.sampling == "sobol" and self.paths & (self.paths - 1):
            raise ValueError("paths must be a power of 2 for sobol sampling")
        return self


class AmericanSpec(Strict):
    method: Literal["pde", "baw", "lsm"] = Field(
        "pde",
        description="`pde` (Crank–Nicolson + Rannacher, reference), `baw` (Barone-Adesi–"
        "Whaley approximation) or `lsm` (Longstaff–Schwartz Monte Carlo).",
    )
    space_nodes: int = Field(
        201, alias="spaceNodes", ge=51, le=4001, description="PDE grid nodes in ln S (odd)."
    )
    time_steps: int = Field(100, alias="timeSteps", ge=10, le=5000, description="PDE steps.")
    lsm_steps: int = Field(
        50, alias="lsmSteps", ge=2, le=rng.MAX_STEPS, description="LSM exercise dates."
    )

    @field_validator("space_nodes")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError("must be odd (today's spot is the middle node)")
        return v


class HestonSpec(Strict):
    v0: Finite = Field(description="Initial variance (vol², ≥ 0).")
    kappa: Finite = Field(description="Mean-reversion speed (> 0).")
    theta: Finite = Field(description="Long-run variance (> 0).")
    sigma: Finite = Field(description="Vol of variance (> 0).")
    rho: Finite = Field(description="Spot/variance correlation, in (-1, 1).")


class PricingSpec(Strict):
    """Numerical methods for exotic positions (docs/risk.md)."""

    monte_carlo: MonteCarloSpec = Field(
        default_factory=MonteCarloSpec,
        alias="monteCarlo",
        description="Paths, steps and variance reduction of Monte Carlo positions.",
    )
    american: AmericanSpec = Field(
        default_factory=AmericanSpec, description="Method and grid for american_option."
    )
    heston: dict[str, HestonSpec] = Field(
        default_factory=dict, description="Heston parameters by underlying name."
    )
    discrete_barrier: Literal["mc", "bgk"] = Field(
        "mc",
        alias="discreteBarrier",
        description="Discretely monitored BSM barriers: `mc` (Monte Carlo, exact at the "
        "monitoring dates) or `bgk` (closed form with the Broadie–Glasserman–Kou shift).",
    )
    memory_per_worker: int = Field(
        1 << 30,
        alias="memoryPerWorker",
        ge=1 << 26,
        le=1 << 36,
        description="Bytes one task's Monte Carlo arrays may use (default 1 GiB); kernels "
        "process scenario columns in chunks within it.",
    )


class RiskJobSpec(Strict):
    valuation_date: dt.date = Field(
        alias="valuationDate", description="Valuation date; must equal the snapshot's asOf."
    )
    portfolio: PortfolioSpec = Field(description="The positions: inline or a CSV file.")
    market_data: MarketDataSpec = Field(
        alias="marketData", description="Files with the as-of market data and its history."
    )
    scenarios: ScenariosSpec = Field(description="Historical and/or stress scenarios.")
    measures: MeasuresSpec = Field(
        default_factory=MeasuresSpec, description="What to compute and how to group it."
    )
    revaluation: RevaluationSpec = Field(
        default_factory=RevaluationSpec, description="Revaluation options (theta horizon)."
    )
    grid: GridSpec = Field(default_factory=GridSpec, description="How to split the work.")
    pricing: PricingSpec = Field(
        default_factory=PricingSpec, description="Numerical methods for exotic positions."
    )


class RiskJob(Resource):
    """A risk run (apiVersion riskgrid.dev/v1alpha1, kind RiskJob)."""

    kind: Literal["RiskJob"] = Field("RiskJob", description="Always `RiskJob`.")
    spec: RiskJobSpec = Field(description="The run: portfolio, market, scenarios, measures.")


# ---------------------------------------------------------------------------------------------
# Loading and cross-checking

Report = Callable[[str | None, str], Problem]


def _inline_reporter(source: str, i: int) -> Report:
    def report(field: str | None, msg: str) -> Problem:
        loc: tuple[str | int, ...] = ("spec", "portfolio", "positions", i)
        return Problem(source, (*loc, field) if field else loc, msg)

    return report


def _csv_reporter(source: str, line: int) -> Report:
    def report(field: str | None, msg: str) -> Problem:
        where = f"row {line}, column {field}" if field else f"row {line}"
        return Problem(source, (), f"{where}: {msg}")

    return report


CSV_COLUMNS = (
    "id",
    "type",
    "underlying",
    "currency",
    "strike",
    "expiry",
    "optionType",
    "quantity",
    "desk",
    "book",
    "model",
    "average",
    "averageOn",
    "fixingDates",
    "fixingCount",
    "fixingFrequency",
    "pastFixings",
    "barrier",
    "barrierType",
    "rebate",
    "monitoring",
    "knocked",
)


def read_positions_csv(path: Path) -> list[tuple[Position | None, Report]]:
    """Parse and field-validate a positions CSV; row numbers are file line numbers."""
    source = str(path)
    text = read_text(path, what="portfolio file")
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    probs = [
        Problem(source, (), f"row 1, column {h}: unknown column; known: {', '.join(CSV_COLUMNS)}")
        for h in header
        if h not in CSV_COLUMNS
    ]
    probs += [
        Problem(source, (), f"row 1: missing required column {c!r}")
        for c in ("id", "type", "quantity")
        if c not in header
    ]
    if probs:
        raise SpecError(probs)
    out: list[tuple[Position | None, Report]] = []
    for line, rec in enumerate(reader, start=2):
        if not rec or all(not c.strip() for c in rec):
            continue
        report = _csv_reporter(source, line)
        if len(rec) != len(header):
            probs.append(report(None, f"{len(rec)} cells, header has {len(header)}"))
            continue
        doc = {h: c.strip() for h, c in zip(header, rec, strict=True) if c.strip() != ""}
        try:
            out.append((Position.model_validate(doc), report))
        except ValidationError as exc:
            for p in problems_from_validation(exc, source):
                probs.append(report(str(p.loc[0]) if p.loc else None, p.message))
            out.append((None, report))
        if len(probs) >= MAX_PROBLEMS:
            break
    if probs:
        raise SpecError(probs)
    return out


EXOTIC_FIELDS = {
    "model": "model",
    "average": "average",
    "average_on": "averageOn",
    "fixing_dates": "fixingDates",
    "fixing_count": "fixingCount",
    "fixing_frequency": "fixingFrequency",
    "past_fixings": "pastFixings",
    "barrier": "barrier",
    "barrier_type": "barrierType",
    "rebate": "rebate",
    "monitoring": "monitoring",
    "knocked": "knocked",
}
_APPLIES = {
    "equity_option": {"model"},
    "fx_option": {"model"},
    "asian_option": {
        "model",
        "average",
        "average_on",
        "fixing_dates",
        "fixing_count",
        "fixing_frequency",
        "past_fixings",
    },
    "barrier_option": {"model", "barrier", "barrier_type", "rebate", "monitoring", "knocked"},
    "american_option": set(),
}
OPTION_TYPES = ("equity_option", "fx_option", *ex.EXOTIC_KINDS)


def fixing_schedule(pos: Position) -> list[dt.date]:
    if pos.fixing_dates is not None:
        return list(pos.fixing_dates)
    assert pos.expiry is not None and pos.fixing_count and pos.fixing_frequency
    return ex.schedule_back(pos.expiry, pos.fixing_count, pos.fixing_frequency)


def _check_exotic(
    pos: Position,
    market: MarketData,
    valuation_date: dt.date,
    report: Report,
    pricing: PricingSpec,
) -> list[Problem]:
    probs: list[Problem] = []
    t = pos.type
    for f, alias in EXOTIC_FIELDS.items():
        if getattr(pos, f) is not None and f not in _APPLIES.get(t, set()):
            probs.append(report(alias, f"does not apply to type {t}"))
    if probs or pos.expiry is None or pos.expiry <= valuation_date:
        return probs
    if pos.model == "heston" and pos.underlying not in pricing.heston:
        probs.append(
            report(
                "model",
                f"heston needs parameters for {pos.underlying!r} in spec.pricing.heston",
            )
        )
    if t == "asian_option":
        if pos.average_on == "strike" and pos.strike is not None:
            probs.append(report("strike", "does not apply to an average-strike Asian"))
        has_dates = pos.fixing_dates is not None
        has_rule = pos.fixing_count is not None or pos.fixing_frequency is not None
        if has_dates == has_rule:
            probs.append(
                report("fixingDates", "give either fixingDates or fixingCount + fixingFrequency")
            )
            return probs
        if has_rule and (pos.fixing_count is None or pos.fixing_frequency is None):
            missing = "fixingCount" if pos.fixing_count is None else "fixingFrequency"
            probs.append(report(missing, "required with the other of fixingCount/fixingFrequency"))
            return probs
        dates = fixing_schedule(pos)
        if not dates:
            probs.append(report("fixingDates", "needs at least one fixing date"))
            return probs
        if any(b <= a for a, b in itertools.pairwise(dates)):
            probs.append(report("fixingDates", "must be strictly ascending"))
        if dates[-1] > pos.expiry:
            probs.append(report("fixingDates", f"{dates[-1]} is after the expiry {pos.expiry}"))
        past = pos.past_fixings or {}
        for d in sorted(past):
            if d > valuation_date:
                probs.append(
                    report(
                        "pastFixings",
                        f"{d.isoformat()} is after the valuation date "
                        f"{valuation_date.isoformat()}: a future fixing cannot be given as past",
                    )
                )
            elif d not in dates:
                probs.append(report("pastFixings", f"{d.isoformat()} is not a fixing date"))
        for d in dates:
            if d <= valuation_date and d not in past:
                probs.append(
                    report(
                        "pastFixings",
                        f"the fixing on {d.isoformat()} is on or before the valuation date: "
                        "give its observed value",
                    )
                )
        if len(dates) > rng.MAX_STEPS:
            probs.append(report("fixingDates", f"at most {rng.MAX_STEPS} fixings"))
    if t == "barrier_option":
        for f, alias in (("barrier", "barrier"), ("barrier_type", "barrierType")):
            if getattr(pos, f) is None:
                probs.append(report(alias, "required for type barrier_option"))
        if probs:
            return probs
        assert pos.barrier is not None and pos.barrier_type is not None
        spot = float(market.spots[market.spot_index(pos.underlying or "")])
        down = pos.barrier_type.startswith("down")
        beyond = spot <= pos.barrier if down else spot >= pos.barrier
        if beyond and not pos.knocked:
            probs.append(
                report(
                    "knocked",
                    f"spot {spot:g} is already at or beyond the {pos.barrier_type} barrier "
                    f"{pos.barrier:g}: set knocked: true if the barrier was touched",
                )
            )
    return probs


def check_position(
    pos: Position,
    market: MarketData,
    valuation_date: dt.date,
    report: Report,
    pricing: PricingSpec | None = None,
) -> list[Problem]:
    """Type-specific rules and references into the market data."""
    pricing = pricing or PricingSpec()
    probs: list[Problem] = []
    t = pos.type
    opt = {"underlying", "strike", "expiry", "option_type"}
    needs = {
        "equity_option": opt,
        "fx_option": opt,
        "fx_forward": {"underlying", "strike", "expiry"},
        "spot": {"underlying"},
        "zcb": {"currency", "expiry"},
        "asian_option": opt - ({"strike"} if pos.average_on == "strike" else set()),
        "barrier_option": opt,
        "american_option": opt,
    }[t]
    alias = {"option_type": "optionType"}
    for f in ("underlying", "strike", "expiry", "option_type"):
        v = getattr(pos, f)
        if f in needs and v is None:
            probs.append(report(alias.get(f, f), f"required for type {t}"))
        elif f not in needs and v is not None and not (t == "asian_option" and f == "strike"):
            probs.append(report(alias.get(f, f), f"does not apply to type {t}"))
    if t == "zcb" and pos.currency is None:
        probs.append(report("currency", "required for type zcb"))
    if pos.quantity == 0:
        probs.append(report("quantity", "must not be 0"))
    if pos.expiry is not None and pos.expiry <= valuation_date:
        probs.append(
            report(
                "expiry",
                f"{pos.expiry.isoformat()} is not after the valuation date "
                f"{valuation_date.isoformat()}",
            )
        )
    u = pos.underlying
    if u is not None:
        if t == "equity_option" and u not in market.equities:
            probs.append(report("underlying", f"unknown equity {u!r}: not in the market data"))
        elif t in ("fx_option", "fx_forward") and u not in market.fx_pairs:
            probs.append(report("underlying", f"unknown FX pair {u!r}: not in the market data"))
        elif (
            t in ("spot", *ex.EXOTIC_KINDS)
            and u not in market.equities
            and u not in market.fx_pairs
        ):
            probs.append(report("underlying", f"unknown underlying {u!r}: not in the market data"))
        elif t in OPTION_TYPES and u not in market.vol_names:
            probs.append(report("underlying", f"no volatility for {u!r} in the market data"))
    if pos.currency is not None:
        if pos.currency not in market.currencies:
            probs.append(
                report("currency", f"unknown currency {pos.currency!r}: no curve in market data")
            )
        elif t != "zcb" and u is not None and not probs:
            rec = to_record(pos)
            paid = pf.payoff_currency(rec, market)
            if pos.currency != paid:
                probs.append(report("currency", f"is {pos.currency} but {u} pays {paid}"))
    if not probs:
        probs += _check_exotic(pos, market, valuation_date, report, pricing)
    return probs


def pricing_settings(pricing: PricingSpec, seed: int) -> ex.PricingSettings:
    mc, am = pricing.monte_carlo, pricing.american
    return ex.PricingSettings(
        seed=seed,
        paths=mc.paths,
        steps_per_year=mc.steps_per_year,
        antithetic=mc.antithetic,
        control_variate=mc.control_variate,
        sampling=mc.sampling,
        sobol_replicates=mc.sobol_replicates,
        american_method=am.method,
        pde_space_nodes=am.space_nodes,
        pde_time_steps=am.time_steps,
        lsm_steps=am.lsm_steps,
        memory_bytes=pricing.memory_per_worker,
    )


class _CommonExotic(TypedDict):
    """The :class:`~riskgrid.risk.exotics.ExoticSpec` fields every exotic kind shares."""

    position_id: str
    is_call: bool
    strike: float
    t: float
    model: str
    heston: hs.HestonParams | None
    ref_vol: float


def exotic_spec(
    pos: Position, market: MarketData, valuation_date: dt.date, pricing: PricingSpec
) -> ex.ExoticSpec | None:
    """The pricer's view of a checked position (``None`` for plain Black–Scholes types)."""
    t = pos.type
    heston = pos.model == "heston"
    if t not in ex.EXOTIC_KINDS and not heston:
        return None
    assert pos.expiry is not None and pos.underlying is not None
    tt = pf.year_fraction(valuation_date, pos.expiry)
    hp = None
    ref_vol = 0.0
    if heston:
        h = pricing.heston[pos.underlying]
        hp = hs.HestonParams(h.v0, h.kappa, h.theta, h.sigma, h.rho)
        idx = market.vol_index(pos.underlying)
        # the same strike the base state's vol is read at (portfolio.build): scale 1 today
        k_ref = pos.strike or float(market.spots[market.spot_index(pos.underlying)])
        ref_vol = float(market.vol(np.array([idx]), np.array([tt]), np.array([k_ref]))[0])
    common: _CommonExotic = {
        "position_id": pos.id,
        "is_call": pos.option_type == "call",
        "strike": pos.strike or 0.0,
        "t": tt,
        "model": pos.model or "bsm",
        "heston": hp,
        "ref_vol": ref_vol,
    }
    if t in ("equity_option", "fx_option"):
        return ex.ExoticSpec(kind="heston_european", **common)
    if t == "american_option":
        return ex.ExoticSpec(kind=t, **common)
    if t == "asian_option":
        dates = fixing_schedule(pos)
        past = pos.past_fixings or {}
        past_vals = [past[d] for d in dates if d <= valuation_date]
        future = tuple(pf.year_fraction(valuation_date, d) for d in dates if d > valuation_date)
        return ex.ExoticSpec(
            kind=t,
            geometric=pos.average == "geometric",
            average_strike=pos.average_on == "strike",
            fix_times=future,
            n_total=len(dates),
            past_sum=float(sum(past_vals)),
            past_log_sum=float(np.log(past_vals).sum()) if past_vals else 0.0,
            **common,
        )
    assert pos.barrier is not None and pos.barrier_type is not None
    mon = pos.monitoring or "continuous"
    times = None
    if mon != "continuous":
        ds = [d for d in ex.schedule_back(pos.expiry, rng.MAX_STEPS, mon) if d > valuation_date]
        times = tuple(pf.year_fraction(valuation_date, d) for d in ds)
    return ex.ExoticSpec(
        kind=t,
        barrier=pos.barrier,
        is_down=pos.barrier_type.startswith("down"),
        is_in=pos.barrier_type.endswith("-in"),
        rebate=pos.rebate or 0.0,
        monitor_times=times,
        barrier_method="analytic" if pricing.discrete_barrier == "bgk" else "mc",
        knocked=bool(pos.knocked),
        **common,
    )


def _check_pricing(pricing: PricingSpec, source: str) -> list[Problem]:
    probs = []
    for name, h in pricing.heston.items():
        params = hs.HestonParams(h.v0, h.kappa, h.theta, h.sigma, h.rho)
        for f, msg in params.problems():
            probs.append(Problem(source, ("spec", "pricing", "heston", name, f), msg))
    return probs


def _check_mc_size(
    spec: ex.ExoticSpec, settings: ex.PricingSettings, report: Report
) -> list[Problem]:
    if not ex.is_mc(spec, settings):
        return []
    steps = ex.sim_steps(spec, settings)
    if steps > rng.MAX_STEPS:
        return [report("expiry", f"needs {steps} time steps, over the limit {rng.MAX_STEPS}")]
    need = ex.column_bytes(spec, settings)
    if need > ex.kernel_bytes(settings.memory_bytes):
        return [
            report(
                None,
                f"Monte Carlo needs {settings.paths} paths × {steps} steps "
                f"≈ {need / 2**20:.0f} MiB for one scenario, over 15/16 of "
                f"pricing.memoryPerWorker ({settings.memory_bytes / 2**20:.0f} MiB; the rest "
                "holds the task's results)",
            )
        ]
    return []


def to_record(pos: Position) -> pf.PositionRecord:
    return pf.PositionRecord(
        id=pos.id,
        type=pos.type,
        quantity=pos.quantity,
        underlying=pos.underlying,
        currency=pos.currency,
        strike=pos.strike,
        expiry=pos.expiry,
        option_type=pos.option_type,
        desk=pos.desk,
        book=pos.book,
    )


def _file(base: Path, rel: str, source: str, loc: tuple[str, ...]) -> Path:
    path = (base / rel).resolve()
    if not path.is_file():
        raise SpecError.one(source, f"file not found: {rel} (looked for {path})", loc)
    return path


def _stresses(job: RiskJob, market: MarketData, source: str) -> list[tuple[str, dict[str, float]]]:
    factors = market.factor_names()
    probs: list[Problem] = []
    out: list[tuple[str, dict[str, float]]] = []
    for i, st in enumerate(job.spec.scenarios.stress):
        shocks: dict[str, float] = {}
        for j, shock in enumerate(st.shocks):
            loc = ("spec", "scenarios", "stress", i, "shocks", j)
            hits = fnmatch.filter(factors, shock.factor)
            if not hits:
                probs.append(
                    Problem(
                        source,
                        (*loc, "factor"),
                        f"matches no risk factor of the market data: {shock.factor!r}",
                    )
                )
            relative = [h for h in hits if not h.startswith("rate:")]
            if relative and shock.shift <= -1.0:
                probs.append(
                    Problem(source, (*loc, "shift"), "relative shift of spot/vol must be > -1")
                )
            shocks.update(dict.fromkeys(hits, shock.shift))
        out.append((st.name, shocks))
    if probs:
        raise SpecError(probs)
    return out


def _load_market_for(spec: RiskJobSpec, base: Path, source: str) -> MarketData:
    """The snapshot the job names, checked to be as of the job's valuation date."""
    snap = _file(base, spec.market_data.snapshot, source, ("spec", "marketData", "snapshot"))
    market = load_market(snap)
    if market.as_of != spec.valuation_date:
        raise SpecError.one(
            source,
            f"{spec.valuation_date.isoformat()} differs from the market data's asOf "
            f"{market.as_of.isoformat()} ({snap})",
            ("spec", "valuationDate"),
        )
    return market


def _portfolio_entries(
    spec: RiskJobSpec, base: Path, source: str
) -> list[tuple[Position | None, Report]]:
    """The positions (from the CSV file or inline), each with the reporter for its problems."""
    if spec.portfolio.file is not None:
        csv_path = _file(base, spec.portfolio.file, source, ("spec", "portfolio", "file"))
        entries = read_positions_csv(csv_path)
        empty_where: tuple[str, tuple[str, ...]] = (str(csv_path), ())
    else:
        assert spec.portfolio.positions is not None
        entries = [(p, _inline_reporter(source, i)) for i, p in enumerate(spec.portfolio.positions)]
        empty_where = (source, ("spec", "portfolio", "positions"))
    if not entries:
        raise SpecError.one(empty_where[0], "the portfolio is empty", empty_where[1])
    return entries


def _build_portfolio(
    spec: RiskJobSpec,
    entries: list[tuple[Position | None, Report]],
    market: MarketData,
    source: str,
) -> pf.Portfolio:
    """Check every position (up to :data:`MAX_PROBLEMS` problems) and build the portfolio."""
    probs: list[Problem] = _check_pricing(spec.pricing, source)
    if probs:
        raise SpecError(probs)
    settings = pricing_settings(spec.pricing, spec.grid.seed)
    seen: set[str] = set()
    records: list[pf.PositionRecord] = []
    for pos, report in entries:
        assert pos is not None
        pos_probs = check_position(pos, market, spec.valuation_date, report, spec.pricing)
        if pos.id in seen:
            pos_probs.append(report("id", f"duplicate position id {pos.id!r}"))
        seen.add(pos.id)
        rec = to_record(pos)
        if not pos_probs:
            exo = exotic_spec(pos, market, spec.valuation_date, spec.pricing)
            if exo is not None:
                pos_probs += _check_mc_size(exo, settings, report)
                rec = dataclasses.replace(rec, exotic=exo)
        probs += pos_probs
        records.append(rec)
        if len(probs) >= MAX_PROBLEMS:
            break
    if probs:
        raise SpecError(probs)
    return pf.build(records, market, settings)


def _historical_set(
    spec: RiskJobSpec, base: Path, market: MarketData, source: str
) -> sc.ScenarioSet | None:
    """The historical scenario set, when the job asks for one."""
    hist_spec = spec.scenarios.historical
    if hist_spec is None:
        return None
    if spec.market_data.history is None:
        raise SpecError.one(
            source,
            "required when scenarios.historical is set",
            ("spec", "marketData", "history"),
        )
    hist_path = _file(base, spec.market_data.history, source, ("spec", "marketData", "history"))
    history = load_history(hist_path)
    if history.dates[-1] > market.as_of:
        raise SpecError.one(
            str(hist_path),
            f"history ends {history.dates[-1].isoformat()}, after the valuation date "
            f"{market.as_of.isoformat()}",
        )
    try:
        return sc.historical(
            market,
            history,
            window=hist_spec.window,
            horizon=hist_spec.horizon_days,
            overlapping=hist_spec.overlapping,
        )
    except ValueError as exc:
        raise SpecError.one(
            source, f"{exc} in {hist_path}", ("spec", "scenarios", "historical")
        ) from None


def _build_scenarios(job: RiskJob, base: Path, market: MarketData, source: str) -> sc.ScenarioSet:
    """Historical and stress scenarios, concatenated, with the job's vol rule."""
    spec = job.spec
    sets: list[sc.ScenarioSet] = []
    hist = _historical_set(spec, base, market, source)
    if hist is not None:
        sets.append(hist)
    if spec.scenarios.stress:
        sets.append(sc.stress(market, _stresses(job, market, source)))
    return sc.with_vol_rule(sc.concat(*sets), spec.scenarios.vol_rule)


def _measure_request(spec: RiskJobSpec) -> MeasureRequest:
    m = spec.measures
    return MeasureRequest(
        var=tuple(m.var),
        es=tuple(m.es),
        greeks=m.greeks,
        group_by=tuple(m.group_by),
        top_contributors=m.top_contributors,
        convention=m.convention,
        theta_horizon_days=spec.revaluation.horizon_days,
    )


def load_job(path: str | Path) -> JobInputs:
    """Load a RiskJob and the files it references into :class:`JobInputs`.

    Raises :class:`SpecError` with every problem found (up to a limit), each naming its file,
    field (or CSV row and column) and reason. The steps run in order and each stops the load
    with its problems: market data, portfolio entries, positions, scenarios.
    """
    path = Path(path)
    source = str(path)
    job = load_resource(path, RiskJob)
    spec = job.spec
    base = path.resolve().parent
    market = _load_market_for(spec, base, source)
    entries = _portfolio_entries(spec, base, source)
    portfolio = _build_portfolio(spec, entries, market, source)
    scenarios = _build_scenarios(job, base, market, source)
    return JobInputs(
        job=job,
        portfolio=portfolio,
        market=market,
        scenarios=scenarios,
        measures=_measure_request(spec),
    )

"""``RiskJob``: a risk run — portfolio, market data, scenarios and the measures wanted.

``load_job(path)`` reads the job and every file it references (paths relative to the job file),
checks them against each other and returns :class:`riskgrid.risk.inputs.JobInputs`. Every problem
is reported as ``file: field.path: reason`` (for CSV files: ``file: row N, column C: reason``).
"""

from __future__ import annotations

import csv
import datetime as dt
import fnmatch
import io
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, model_validator

from riskgrid.risk import portfolio as pf
from riskgrid.risk import scenarios as sc
from riskgrid.risk.inputs import JobInputs, MeasureRequest
from riskgrid.risk.market import MarketData
from riskgrid.spec.base import DnsLabel, Finite, Resource, Strict
from riskgrid.spec.errors import Problem, SpecError
from riskgrid.spec.loading import load_resource, problems_from_validation, read_text
from riskgrid.spec.market_files import load_history, load_market

InstrumentType = Literal["equity_option", "fx_option", "fx_forward", "spot", "zcb"]
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
        default_factory=lambda: ["desk", "book", "underlying"],
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
    seed: int = Field(0, ge=0, description="Job seed for keyed random streams.")


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


def check_position(
    pos: Position, market: MarketData, valuation_date: dt.date, report: Report
) -> list[Problem]:
    """Type-specific rules and references into the market data."""
    probs: list[Problem] = []
    t = pos.type
    needs = {
        "equity_option": {"underlying", "strike", "expiry", "option_type"},
        "fx_option": {"underlying", "strike", "expiry", "option_type"},
        "fx_forward": {"underlying", "strike", "expiry"},
        "spot": {"underlying"},
        "zcb": {"currency", "expiry"},
    }[t]
    alias = {"option_type": "optionType"}
    for f in ("underlying", "strike", "expiry", "option_type"):
        v = getattr(pos, f)
        if f in needs and v is None:
            probs.append(report(alias.get(f, f), f"required for type {t}"))
        elif f not in needs and v is not None:
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
        elif t == "spot" and u not in market.equities and u not in market.fx_pairs:
            probs.append(report("underlying", f"unknown underlying {u!r}: not in the market data"))
        elif t in ("equity_option", "fx_option") and u not in market.vol_names:
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
    return probs


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


def load_job(path: str | Path) -> JobInputs:
    """Load a RiskJob and the files it references into :class:`JobInputs`.

    Raises :class:`SpecError` with every problem found (up to a limit), each naming its file,
    field (or CSV row and column) and reason.
    """
    path = Path(path)
    source = str(path)
    job = load_resource(path, RiskJob)
    spec = job.spec
    base = path.resolve().parent

    snap = _file(base, spec.market_data.snapshot, source, ("spec", "marketData", "snapshot"))
    market = load_market(snap)
    if market.as_of != spec.valuation_date:
        raise SpecError.one(
            source,
            f"{spec.valuation_date.isoformat()} differs from the market data's asOf "
            f"{market.as_of.isoformat()} ({snap})",
            ("spec", "valuationDate"),
        )

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

    probs: list[Problem] = []
    seen: set[str] = set()
    records: list[pf.PositionRecord] = []
    for pos, report in entries:
        assert pos is not None
        probs += check_position(pos, market, spec.valuation_date, report)
        if pos.id in seen:
            probs.append(report("id", f"duplicate position id {pos.id!r}"))
        seen.add(pos.id)
        records.append(to_record(pos))
        if len(probs) >= MAX_PROBLEMS:
            break
    if probs:
        raise SpecError(probs)
    portfolio = pf.build(records, market)

    sets: list[sc.ScenarioSet] = []
    hist_spec = spec.scenarios.historical
    if hist_spec is not None:
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
            sets.append(
                sc.historical(
                    market,
                    history,
                    window=hist_spec.window,
                    horizon=hist_spec.horizon_days,
                    overlapping=hist_spec.overlapping,
                )
            )
        except ValueError as exc:
            raise SpecError.one(
                source, f"{exc} in {hist_path}", ("spec", "scenarios", "historical")
            ) from None
    if spec.scenarios.stress:
        sets.append(sc.stress(market, _stresses(job, market, source)))
    scenarios = sc.with_vol_rule(sc.concat(*sets), spec.scenarios.vol_rule)

    m = spec.measures
    measures = MeasureRequest(
        var=tuple(m.var),
        es=tuple(m.es),
        greeks=m.greeks,
        group_by=tuple(m.group_by),
        top_contributors=m.top_contributors,
        convention=m.convention,
        theta_horizon_days=spec.revaluation.horizon_days,
    )
    return JobInputs(
        job=job, portfolio=portfolio, market=market, scenarios=scenarios, measures=measures
    )

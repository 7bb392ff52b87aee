"""``ExposureJob``: counterparty exposure and CVA/DVA of netting sets, by Monte Carlo.

A resource of its own rather than a section of ``RiskJob`` (docs/decisions.md D-#19.1): it shares
nothing with a VaR run but the envelope — its market is curves and model parameters, not spots
and history; its unit of work is a block of paths, not positions × scenarios.

``load_exposure_job(path)`` validates the document and cross-checks it (every trade's currencies
have curves and, if foreign, an FX rate; the simulation grid reaches every maturity; the factor
correlation matrix is positive definite; CSA amounts make sense) and returns the plain inputs of
:mod:`riskgrid.risk.xva.setup`. Every problem names the file, the field and the reason.
"""

from __future__ import annotations

import datetime as dt
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from riskgrid.risk.xva import dates as xd
from riskgrid.risk.xva.curves import ZeroCurve
from riskgrid.risk.xva.measures import Credit, Csa
from riskgrid.risk.xva.model import HullWhite
from riskgrid.risk.xva.setup import (
    CurrencySetup,
    EquitySetup,
    ExposureSetup,
    NettingSetSetup,
)
from riskgrid.risk.xva.trades import EquityOption, FxForward, FxOption, Swap, Trade
from riskgrid.spec.base import DnsLabel, Finite, Resource, Strict
from riskgrid.spec.errors import Problem, SpecError
from riskgrid.spec.loading import load_resource

Ccy = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Tenor = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,3}[DWMY]$")]
DayCountName = Literal["ACT/360", "ACT/365F", "30/360"]
Rate = Annotated[Finite, Field(ge=-0.5, le=1.0)]
Amount = Annotated[Finite, Field(ge=0, le=1e15)]
MAX_PATHS = 1_000_000


class CurveSpec(Strict):
    zero_rates: dict[Tenor, Rate] = Field(
        alias="zeroRates",
        min_length=1,
        description="Zero rate per pillar tenor, e.g. `{1Y: 0.02, 10Y: 0.025}`; pillar dates "
        "are valuation date + spot lag + tenor. Log-linear in discount factors between pillars.",
    )
    day_count: DayCountName = Field("ACT/365F", alias="dayCount", description="Of the quotes.")
    compounding: Literal["simple", "annual", "continuous"] = Field(
        "continuous", description="Compounding of the quoted zero rates."
    )
    spot_lag_days: int = Field(0, alias="spotLagDays", ge=0, le=5, description="Business days.")


class HullWhiteSpec(Strict):
    mean_reversion: Annotated[Finite, Field(ge=-0.5, le=5.0)] = Field(alias="meanReversion")
    volatility: Annotated[Finite, Field(ge=0.0, le=0.2)] = Field(
        description="Hull–White (normal) short-rate volatility, e.g. 0.01 = 100bp."
    )


class FxSpec(Strict):
    spot: Annotated[Finite, Field(gt=0)] = Field(description="Base-currency units per unit.")
    volatility: Annotated[Finite, Field(ge=0.0, le=2.0)] = Field(
        description="Lognormal volatility of the FX rate (with both numeraires divided out)."
    )


class CurrencySpec(Strict):
    discount: CurveSpec = Field(description="Discount (and model) curve.")
    indices: dict[str, CurveSpec] = Field(
        default_factory=dict, description="Forwarding curves by index name (`EURIBOR-6M`)."
    )
    model: HullWhiteSpec = Field(description="Hull–White one-factor parameters.")
    fx: FxSpec | None = Field(None, description="FX rate against the base currency (foreign).")


class Correlation(Strict):
    factors: tuple[str, str] = Field(description="Two factors: `IR:<CCY>` or `FX:<CCY>`.")
    value: Annotated[Finite, Field(ge=-1.0, le=1.0)]


class CreditSpec(Strict):
    recovery: Annotated[Finite, Field(ge=0.0, lt=1.0)] = Field(0.4)
    hazard_rates: dict[Tenor, Annotated[Finite, Field(ge=0.0, le=5.0)]] | None = Field(
        None, alias="hazardRates", description="Piecewise-flat hazard rate up to each tenor."
    )
    cds_spreads: dict[Tenor, Annotated[Finite, Field(ge=0.0, le=5.0)]] | None = Field(
        None,
        alias="cdsSpreads",
        description="CDS par spreads; hazard = spread / (1 − recovery) per bucket (the credit "
        "triangle, an approximation of a CDS bootstrap).",
    )

    @model_validator(mode="after")
    def _one(self) -> CreditSpec:
        if (self.hazard_rates is None) == (self.cds_spreads is None):
            raise ValueError("give exactly one of hazardRates and cdsSpreads")
        return self


class CsaSpec(Strict):
    threshold_receive: Amount = Field(0.0, alias="thresholdReceive")
    threshold_pay: Amount = Field(0.0, alias="thresholdPay")
    minimum_transfer_amount: Amount = Field(0.0, alias="minimumTransferAmount")
    independent_amount: Annotated[Finite, Field(ge=-1e15, le=1e15)] = Field(
        0.0, alias="independentAmount", description="Held (> 0) or posted (< 0)."
    )
    margin_period_of_risk_days: int = Field(10, alias="marginPeriodOfRiskDays", ge=0, le=250)

    @model_validator(mode="after")
    def _mta(self) -> CsaSpec:
        for side, thr in (("Receive", self.threshold_receive), ("Pay", self.threshold_pay)):
            if thr > 0 and self.minimum_transfer_amount > thr:
                raise ValueError(
                    f"minimumTransferAmount {self.minimum_transfer_amount:g} exceeds the "
                    f"non-zero threshold{side} {thr:g}: the threshold could never bind"
                )
        return self


class SwapSpec(Strict):
    id: str = Field(min_length=1, max_length=128)
    type: Literal["swap"]
    currency: Ccy
    notional: Annotated[Finite, Field(gt=0, le=1e12)]
    fixed_rate: Rate = Field(alias="fixedRate")
    payer: Literal["fixed", "float"] = Field(description="Which leg we pay.")
    start: dt.date
    end: dt.date
    fixed_tenor: Tenor = Field("1Y", alias="fixedTenor")
    float_tenor: Tenor = Field("6M", alias="floatTenor")
    fixed_day_count: DayCountName = Field("30/360", alias="fixedDayCount")
    float_day_count: DayCountName = Field("ACT/360", alias="floatDayCount")
    index: str | None = Field(None, description="Forwarding curve; default: discount curve.")
    spread: Rate = 0.0
    current_fixing: Rate | None = Field(
        None, alias="currentFixing", description="Fixing of the period running today."
    )

    @model_validator(mode="after")
    def _dates(self) -> SwapSpec:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class FxForwardSpec(Strict):
    id: str = Field(min_length=1, max_length=128)
    type: Literal["fx_forward"]
    bought: Ccy
    sold: Ccy
    notional: Annotated[Finite, Field(gt=0, le=1e12)] = Field(description="In `bought`.")
    strike: Annotated[Finite, Field(gt=0)] = Field(description="`sold` per `bought`.")
    maturity: dt.date


class FxOptionSpec(Strict):
    id: str = Field(min_length=1, max_length=128)
    type: Literal["fx_option"]
    underlying: Ccy = Field(description="Currency bought (call) or sold (put).")
    against: Ccy = Field(description="Currency the strike and the payoff are in.")
    notional: Annotated[Finite, Field(ge=-1e12, le=1e12)] = Field(
        description="Units of `underlying`; negative = short. Not 0."
    )
    strike: Annotated[Finite, Field(gt=0)]
    option_type: Literal["call", "put"] = Field(alias="optionType")
    expiry: dt.date
    volatility: Annotated[Finite, Field(gt=0, le=3.0)] = Field(
        description="Black volatility the option is valued with on each simulated state."
    )


class EquityOptionSpec(Strict):
    id: str = Field(min_length=1, max_length=128)
    type: Literal["equity_option"]
    underlying: str = Field(min_length=1, description="An entry of spec.equities.")
    quantity: Annotated[Finite, Field(ge=-1e12, le=1e12)] = Field(
        description="Shares; negative = short. Not 0."
    )
    strike: Annotated[Finite, Field(gt=0)]
    option_type: Literal["call", "put"] = Field(alias="optionType")
    expiry: dt.date
    volatility: Annotated[Finite, Field(gt=0, le=3.0)]


TradeSpec = Annotated[
    SwapSpec | FxForwardSpec | FxOptionSpec | EquityOptionSpec, Field(discriminator="type")
]


class EquitySpec(Strict):
    currency: Ccy
    spot: Annotated[Finite, Field(gt=0)]
    dividend_yield: Annotated[Finite, Field(ge=-0.2, le=1.0)] = Field(0.0, alias="dividendYield")
    volatility: Annotated[Finite, Field(gt=0, le=3.0)] = Field(
        description="Lognormal volatility of the share in the model."
    )


class NettingSetSpec(Strict):
    name: DnsLabel
    counterparty: str = Field(min_length=1)
    csa: CsaSpec | None = None
    trades: list[TradeSpec] = Field(min_length=1, max_length=100_000)


class GridStep(Strict):
    until: Tenor
    step: Tenor


class SimulationSpec(Strict):
    grid: list[GridStep] = Field(min_length=1, description="Monthly then quarterly, etc.")
    paths: int = Field(2000, ge=2, le=MAX_PATHS)
    seed: int = Field(0, ge=0, le=2**63 - 1)


class ExposureMeasures(Strict):
    pfe_quantiles: list[Annotated[Finite, Field(gt=0.5, lt=1.0)]] = Field(
        default_factory=lambda: [0.95], alias="pfeQuantiles"
    )
    rate_bump_bp: Annotated[Finite, Field(ge=0.0, le=100.0)] = Field(
        1.0, alias="rateBumpBp", description="CVA sensitivity bump per currency; 0 = none."
    )
    credit_bump_bp: Annotated[Finite, Field(ge=0.0, le=1000.0)] = Field(
        1.0, alias="creditBumpBp", description="Hazard-rate bump for CS01; 0 = none."
    )


class ExposureJobSpec(Strict):
    valuation_date: dt.date = Field(alias="valuationDate")
    base_currency: Ccy = Field(alias="baseCurrency")
    currencies: dict[Ccy, CurrencySpec] = Field(min_length=1)
    equities: dict[str, EquitySpec] = Field(
        default_factory=dict, description="Equity factors (`EQ:<name>`) for equity options."
    )
    correlations: list[Correlation] = Field(default_factory=list)
    bank: CreditSpec | None = Field(None, description="Our own credit, for DVA.")
    counterparties: dict[str, CreditSpec] = Field(min_length=1)
    netting_sets: list[NettingSetSpec] = Field(alias="nettingSets", min_length=1)
    simulation: SimulationSpec
    measures: ExposureMeasures = Field(default_factory=ExposureMeasures)


class ExposureJob(Resource):
    """An exposure/CVA run (apiVersion riskgrid.dev/v1alpha1, kind ExposureJob)."""

    kind: Literal["ExposureJob"] = Field("ExposureJob")
    spec: ExposureJobSpec


# ---------------------------------------------------------------------------------------------


def _spot(as_of: dt.date, lag: int) -> dt.date:
    d = as_of
    while lag:
        d += dt.timedelta(days=1)
        if d.weekday() < 5:
            lag -= 1
    return d


def _curve(as_of: dt.date, c: CurveSpec) -> ZeroCurve:
    spot = _spot(as_of, c.spot_lag_days)
    items = sorted(((xd.add_tenor(spot, t), r) for t, r in c.zero_rates.items()))
    return ZeroCurve.from_quotes(
        as_of, [d for d, _ in items], [r for _, r in items], c.day_count, c.compounding
    )


def _credit(as_of: dt.date, c: CreditSpec) -> Credit:
    src = c.hazard_rates if c.hazard_rates is not None else c.cds_spreads
    assert src is not None
    items = sorted((xd.model_time(as_of, xd.add_tenor(as_of, t)), v) for t, v in src.items())
    rates = [v if c.hazard_rates is not None else v / (1.0 - c.recovery) for _, v in items]
    return Credit(np.array([t for t, _ in items]), np.array(rates), c.recovery)


def _check_market(job: ExposureJob, source: str) -> list[Problem]:
    """Currencies (the base, FX for the foreign ones), equities and correlations."""
    s = job.spec
    probs: list[Problem] = []
    base = ("spec",)
    if s.base_currency not in s.currencies:
        probs.append(Problem(source, (*base, "baseCurrency"), "has no entry in currencies"))
    for ccy, c in s.currencies.items():
        if ccy == s.base_currency and c.fx is not None:
            probs.append(Problem(source, (*base, "currencies", ccy, "fx"), "not for the base"))
        if ccy != s.base_currency and c.fx is None:
            probs.append(
                Problem(source, (*base, "currencies", ccy, "fx"), "required for a foreign currency")
            )
    factors = set(_factor_names(job))
    for name, eq in s.equities.items():
        if eq.currency not in s.currencies:
            probs.append(
                Problem(
                    source, (*base, "equities", name, "currency"), f"no curve for {eq.currency}"
                )
            )
    for i, corr in enumerate(s.correlations):
        for f in corr.factors:
            if f not in factors:
                probs.append(
                    Problem(source, (*base, "correlations", i, "factors"), f"unknown factor {f!r}")
                )
        if corr.factors[0] == corr.factors[1]:
            probs.append(Problem(source, (*base, "correlations", i, "factors"), "same factor"))
    return probs


def _check_option(
    s: ExposureJobSpec,
    tr: FxOptionSpec | EquityOptionSpec,
    tw: tuple[str | int, ...],
    source: str,
) -> list[Problem]:
    probs: list[Problem] = []
    size = tr.notional if isinstance(tr, FxOptionSpec) else tr.quantity
    if size == 0:
        fld = "notional" if isinstance(tr, FxOptionSpec) else "quantity"
        probs.append(Problem(source, (*tw, fld), "must not be 0"))
    if isinstance(tr, FxOptionSpec) and tr.underlying == tr.against:
        probs.append(Problem(source, (*tw, "against"), "same as underlying"))
    if isinstance(tr, EquityOptionSpec) and tr.underlying not in s.equities:
        probs.append(Problem(source, (*tw, "underlying"), f"no equity {tr.underlying!r}"))
    return probs


def _check_swap(
    s: ExposureJobSpec, tr: SwapSpec, tw: tuple[str | int, ...], source: str
) -> list[Problem]:
    probs: list[Problem] = []
    cur = s.currencies.get(tr.currency)
    if tr.index and cur is not None and tr.index not in cur.indices:
        probs.append(Problem(source, (*tw, "index"), f"unknown index {tr.index!r}"))
    flt = xd.schedule(tr.start, tr.end, tr.float_tenor)
    running = [(a, b) for a, b in pairwise(flt) if a <= s.valuation_date < b]
    if running and tr.current_fixing is None:
        a, b = running[0]
        probs.append(
            Problem(
                source,
                (*tw, "currentFixing"),
                f"required: the period {a.isoformat()}–{b.isoformat()} fixed before "
                "the valuation date",
            )
        )
    return probs


def _check_trade(
    s: ExposureJobSpec,
    tr: SwapSpec | FxForwardSpec | FxOptionSpec | EquityOptionSpec,
    tw: tuple[str | int, ...],
    last: dt.date,
    source: str,
) -> list[Problem]:
    """One trade: its currencies, its own fields, and a maturity inside the simulation grid."""
    probs: list[Problem] = []
    for fld, ccy in _currency_fields(tr):
        if ccy not in s.currencies:
            probs.append(Problem(source, (*tw, fld), f"no curve for currency {ccy}"))
    if isinstance(tr, FxOptionSpec | EquityOptionSpec):
        mat = tr.expiry
        probs += _check_option(s, tr, tw, source)
    elif isinstance(tr, SwapSpec):
        mat = tr.end
        probs += _check_swap(s, tr, tw, source)
    else:
        mat = tr.maturity
        if tr.bought == tr.sold:
            probs.append(Problem(source, (*tw, "sold"), "same currency as bought"))
    if mat <= s.valuation_date:
        probs.append(Problem(source, tw, f"matured {mat.isoformat()}"))
    elif mat > last:
        probs.append(
            Problem(
                source,
                ("spec", "simulation", "grid"),
                f"ends {last.isoformat()}, before trade {tr.id!r} matures {mat.isoformat()}",
            )
        )
    return probs


def _check(job: ExposureJob, source: str) -> list[Problem]:
    s = job.spec
    probs = _check_market(job, source)
    grid_end = xd.grid_dates(s.valuation_date, [(g.until, g.step) for g in s.simulation.grid])
    last = grid_end[-1] if grid_end else s.valuation_date
    for n, ns in enumerate(s.netting_sets):
        where = ("spec", "nettingSets", n)
        if ns.counterparty not in s.counterparties:
            probs.append(
                Problem(
                    source, (*where, "counterparty"), f"no credit curve for {ns.counterparty!r}"
                )
            )
        for k, tr in enumerate(ns.trades):
            probs += _check_trade(s, tr, (*where, "trades", k), last, source)
    return probs


def _currency_fields(
    tr: SwapSpec | FxForwardSpec | FxOptionSpec | EquityOptionSpec,
) -> list[tuple[str, str]]:
    if isinstance(tr, SwapSpec):
        return [("currency", tr.currency)]
    if isinstance(tr, FxForwardSpec):
        return [("bought", tr.bought), ("sold", tr.sold)]
    if isinstance(tr, FxOptionSpec):
        return [("underlying", tr.underlying), ("against", tr.against)]
    return []


def _factor_names(job: ExposureJob) -> list[str]:
    s = job.spec
    return (
        [f"IR:{c}" for c in s.currencies]
        + [f"FX:{c}" for c, v in s.currencies.items() if v.fx is not None]
        + [f"EQ:{n}" for n in s.equities]
    )


def _correlation(job: ExposureJob, names: list[str], source: str) -> np.ndarray:
    m = np.eye(len(names))
    for c in job.spec.correlations:
        a, b = names.index(c.factors[0]), names.index(c.factors[1])
        m[a, b] = m[b, a] = c.value
    if np.linalg.eigvalsh(m).min() <= 1e-12:
        raise SpecError.one(
            source,
            "the factor correlation matrix is not positive definite "
            f"(smallest eigenvalue {np.linalg.eigvalsh(m).min():.3g})",
            ("spec", "correlations"),
        )
    return m


def _to_trade(tr: SwapSpec | FxForwardSpec | FxOptionSpec | EquityOptionSpec) -> Trade:
    """The pricer's trade for a checked trade spec."""
    if isinstance(tr, SwapSpec):
        return Swap(
            tr.id,
            tr.currency,
            tr.notional,
            tr.fixed_rate,
            tr.payer == "fixed",
            tr.start,
            tr.end,
            tr.fixed_tenor,
            tr.float_tenor,
            tr.fixed_day_count,
            tr.float_day_count,
            tr.index or "",
            tr.spread,
            tr.current_fixing,
        )
    if isinstance(tr, FxForwardSpec):
        return FxForward(tr.id, tr.bought, tr.sold, tr.notional, tr.strike, tr.maturity)
    if isinstance(tr, FxOptionSpec):
        return FxOption(
            tr.id,
            tr.underlying,
            tr.against,
            tr.notional,
            tr.strike,
            tr.option_type == "call",
            tr.expiry,
            tr.volatility,
        )
    return EquityOption(
        tr.id,
        tr.underlying,
        tr.quantity,
        tr.strike,
        tr.option_type == "call",
        tr.expiry,
        tr.volatility,
    )


def _to_csa(cs: CsaSpec | None) -> Csa | None:
    if cs is None:
        return None
    return Csa(
        cs.threshold_receive,
        cs.threshold_pay,
        cs.minimum_transfer_amount,
        cs.independent_amount,
        cs.margin_period_of_risk_days,
    )


def _currency_setups(s: ExposureJobSpec) -> dict[str, CurrencySetup]:
    as_of = s.valuation_date
    return {
        ccy: CurrencySetup(
            discount=_curve(as_of, c.discount),
            indices={k: _curve(as_of, v) for k, v in c.indices.items()},
            rates=HullWhite(c.model.mean_reversion, c.model.volatility),
            fx_spot=c.fx.spot if c.fx else 1.0,
            fx_vol=c.fx.volatility if c.fx else 0.0,
        )
        for ccy, c in s.currencies.items()
    }


def to_setup(job: ExposureJob, source: str) -> ExposureSetup:
    """The simulation's setup for a checked job (:class:`SpecError` naming every problem)."""
    probs = _check(job, source)
    if probs:
        raise SpecError(probs)
    s = job.spec
    as_of = s.valuation_date
    currencies = _currency_setups(s)
    names = _factor_names(job)
    corr = _correlation(job, names, source)
    netting = [
        NettingSetSetup(
            ns.name, ns.counterparty, _to_csa(ns.csa), tuple(_to_trade(tr) for tr in ns.trades)
        )
        for ns in s.netting_sets
    ]
    return ExposureSetup(
        as_of=as_of,
        base=s.base_currency,
        currencies=currencies,
        factor_names=tuple(names),
        correlation=corr,
        netting_sets=tuple(netting),
        report_dates=tuple(xd.grid_dates(as_of, [(g.until, g.step) for g in s.simulation.grid])),
        paths=s.simulation.paths,
        seed=s.simulation.seed,
        quantiles=tuple(s.measures.pfe_quantiles),
        counterparties={k: _credit(as_of, v) for k, v in s.counterparties.items()},
        bank=_credit(as_of, s.bank) if s.bank else None,
        equities={
            n: EquitySetup(e.currency, e.spot, e.dividend_yield, e.volatility)
            for n, e in s.equities.items()
        },
        rate_bump=s.measures.rate_bump_bp * 1e-4,
        credit_bump=s.measures.credit_bump_bp * 1e-4,
    )


def load_exposure_job(path: str | Path) -> tuple[ExposureJob, ExposureSetup]:
    """Load and cross-check an ExposureJob; raises :class:`SpecError` naming every problem."""
    source = str(path)
    job = load_resource(Path(path), ExposureJob)
    try:
        return job, to_setup(job, source)
    except ValueError as exc:  # e.g. a running period without its fixing
        raise SpecError.one(source, str(exc), ("spec", "nettingSets")) from None


def job_fingerprint(job: ExposureJob) -> str:
    """SHA-256 of the job's canonical JSON (the whole input: no files are referenced)."""
    import hashlib

    text = job.model_dump_json(by_alias=True, exclude={"metadata"})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

"""Market-data files: the as-of snapshot (YAML) and the risk-factor history (CSV).

Snapshot (YAML, one document; schema: ``riskgrid schema MarketData``)::

    asOf: 2026-11-20          # the valuation date the data is for
    baseCurrency: USD         # reporting currency; needs a curve and FX to every currency
    curves:                   # continuously compounded zero rates, ACT/365F, by tenor pillar
      USD: {3M: 0.043, 1Y: 0.041, 5Y: 0.038}
    fx:                       # CCY1CCY2: units of CCY2 for one CCY1
      EURUSD: 1.0812
    equities:
      ACME: {spot: 101.5, currency: USD, dividendYield: 0.012}
    vols:                     # Black vols by tenor pillar, per equity or FX pair
      ACME: {3M: 0.24, 1Y: 0.26}
    volSurfaces:              # strike x expiry grids (an underlying is in vols or here)
      KORA:
        strikes: [80, 100, 120]          # or moneyness: [0.8, 1.0, 1.2] (K / spot)
        vols: {3M: [0.30, 0.25, 0.22], 1Y: [0.29, 0.26, 0.24]}   # or totalVariance: {...}

History (CSV): a header ``date,<factor>,<factor>,...`` then one row per business day, dates
(ISO) strictly increasing; factor names as in :mod:`riskgrid.risk.market` (``spot:ACME``,
``vol:EURUSD``, ``rate:USD:5Y``). Spots and vols must be positive; rates are decimals.

Every error names the file, and for CSV the row (the line number in the file) and the column.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import numpy as np
from pydantic import AfterValidator, BaseModel, Field, ValidationError

from riskgrid.risk import curves
from riskgrid.risk import market as market_mod
from riskgrid.risk.market import MarketData
from riskgrid.risk.scenarios import FactorHistory
from riskgrid.spec.base import Finite, Strict
from riskgrid.spec.errors import Problem, SpecError
from riskgrid.spec.loading import parse_yaml_documents, problems_from_validation, read_text

M = TypeVar("M", bound=BaseModel)
_T = TypeVar("_T")

_CCY = re.compile(r"^[A-Z]{3}$")
_PAIR = re.compile(r"^[A-Z]{6}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_FACTOR = re.compile(r"^(spot|vol):[A-Za-z0-9._-]+$|^rate:[A-Za-z0-9._:-]+:\d+[DWMY]$")


def _tenor(v: str) -> str:
    curves.tenor_years(v)  # raises ValueError with the reason
    return v.strip().upper()


Tenor = Annotated[str, AfterValidator(_tenor)]
PositiveFinite = Annotated[Finite, Field(gt=0)]


class Equity(Strict):
    spot: PositiveFinite = Field(description="Price of one share, in `currency`.")
    currency: str = Field(
        pattern=_CCY.pattern, description="ISO code of the currency the equity trades in."
    )
    dividend_yield: Finite = Field(
        0.0,
        alias="dividendYield",
        ge=-0.5,
        le=0.5,
        description="Continuous dividend yield (decimal, 0.012 = 1.2%), flat in maturity.",
    )


class VolSurface(Strict):
    """An implied vol surface: one row of vols (or total variances) per expiry pillar."""

    strikes: list[PositiveFinite] | None = Field(
        None,
        description="Strike pillars in underlying units, strictly increasing (or give "
        "`moneyness`).",
    )
    moneyness: list[PositiveFinite] | None = Field(
        None,
        description="Strike pillars as K / spot (1.0 = at the money), strictly increasing "
        "(or give `strikes`).",
    )
    vols: dict[Tenor, list[Finite]] | None = Field(
        None,
        description="Expiry tenor → Black vols, one per strike pillar (decimal, 0 < vol ≤ 5).",
    )
    total_variance: dict[Tenor, list[Finite]] | None = Field(
        None,
        alias="totalVariance",
        description="Instead of `vols`: expiry tenor → total variance σ²·t (> 0), one per "
        "strike pillar.",
    )


class MarketFile(Strict):
    """The as-of market snapshot file."""

    as_of: dt.date = Field(alias="asOf", description="Date the data is as of (ISO).")
    base_currency: str = Field(
        alias="baseCurrency",
        pattern=_CCY.pattern,
        description="Reporting currency of PVs, P&L, VaR and ES.",
    )
    curves: dict[str, dict[Tenor, Annotated[Finite, Field(ge=-0.5, le=1.0)]]] = Field(
        description="Zero curve per currency (ISO code): tenor (e.g. `3M`, `1Y`) → "
        "continuously compounded zero rate (decimal). Linear in zero rate between pillars, "
        "flat outside; times ACT/365F (`3M` = 0.25 years)."
    )
    fx: dict[str, PositiveFinite] = Field(
        default_factory=dict,
        description="FX spot per pair `CCY1CCY2` (units of CCY2 per one CCY1).",
    )
    equities: dict[str, Equity] = Field(
        default_factory=dict, description="Equity underlyings by name."
    )
    vols: dict[str, dict[Tenor, Annotated[Finite, Field(gt=0, le=5.0)]]] = Field(
        default_factory=dict,
        description="Black volatility per underlying (equity name or FX pair): tenor → vol "
        "(decimal, 0.25 = 25%). Linear in total variance between pillars, flat outside.",
    )
    vol_surfaces: dict[str, VolSurface] = Field(
        default_factory=dict,
        alias="volSurfaces",
        description="Implied vol surface per underlying (equity or FX pair; not also in "
        "`vols`): strike × expiry grid. Linear in vol over log-moneyness ln(K/spot) and flat "
        "outside the strikes; linear in total variance over time and flat vol outside the "
        "expiries. Total variance must be non-decreasing in expiry for every strike (no "
        "calendar arbitrage). See docs/risk.md.",
    )


def _pillar_problems(
    loc: tuple[str, ...], axis: str, pillars: list[float], source: str
) -> list[Problem]:
    """The strike axis: at least one pillar, strictly increasing."""
    probs: list[Problem] = []
    if not pillars:
        probs.append(Problem(source, (*loc, axis), "needs at least one strike pillar"))
    for j in range(1, len(pillars)):
        if pillars[j] <= pillars[j - 1]:
            probs.append(
                Problem(
                    source,
                    (*loc, axis, j),
                    f"strikes must be strictly increasing: {pillars[j]} after {pillars[j - 1]}",
                )
            )
    return probs


def _row_problems(
    loc: tuple[str, ...],
    field: str,
    rows: dict[str, list[float]],
    years: dict[str, float],
    n_pillars: int,
    source: str,
) -> list[Problem]:
    """The expiry rows: present, at distinct times, one value per strike pillar, in range."""
    probs: list[Problem] = []
    if not rows:
        probs.append(Problem(source, (*loc, field), "needs at least one expiry pillar"))
    if len(set(years.values())) != len(years):
        probs.append(Problem(source, (*loc, field), "has two expiry pillars at the same time"))
    for tenor, row in rows.items():
        if len(row) != n_pillars:
            probs.append(
                Problem(
                    source,
                    (*loc, field, tenor),
                    f"has {len(row)} values for {n_pillars} strike pillars (missing or extra "
                    "pillars)",
                )
            )
        for j, v in enumerate(row):
            if field == "vols" and not 0.0 < v <= 5.0:
                probs.append(
                    Problem(source, (*loc, field, tenor, j), f"vol must be in (0, 5], got {v}")
                )
            elif field == "totalVariance" and v <= 0.0:
                probs.append(
                    Problem(
                        source,
                        (*loc, field, tenor, j),
                        f"total variance must be > 0, got {v}" + (" (negative)" if v < 0 else ""),
                    )
                )
    return probs


def _calendar_problems(
    loc: tuple[str, ...],
    field: str,
    axis: str,
    pillars: list[float],
    tenors: list[str],
    w: dict[str, list[float]],
    source: str,
) -> list[Problem]:
    """No calendar arbitrage: total variance non-decreasing in expiry at every strike."""
    probs: list[Problem] = []
    for i in range(1, len(tenors)):
        prev, cur = tenors[i - 1], tenors[i]
        for j in range(len(pillars)):
            if w[cur][j] < w[prev][j]:
                probs.append(
                    Problem(
                        source,
                        (*loc, field, cur, j),
                        f"total variance {w[cur][j]:.6g} at {cur} is below {w[prev][j]:.6g} at "
                        f"{prev} ({axis} {pillars[j]:g}): total variance must be non-decreasing "
                        "in expiry (calendar arbitrage)",
                    )
                )
    return probs


def _check_surface(
    name: str, sf: VolSurface, spot: float | None, source: str
) -> tuple[list[Problem], tuple[list[str], list[float], list[list[float]]] | None]:
    """Problems of one surface, or ``(tenors, log-moneyness, vols)`` ready for ``build``.

    The checks run in stages (the shape of the quote, its axes and values, then calendar
    arbitrage); a stage with problems stops the later ones, whose messages would be noise.
    """
    loc = ("volSurfaces", name)
    probs: list[Problem] = []
    if (sf.strikes is None) == (sf.moneyness is None):
        probs.append(Problem(source, loc, "give exactly one of `strikes` and `moneyness`"))
    if (sf.vols is None) == (sf.total_variance is None):
        probs.append(Problem(source, loc, "give exactly one of `vols` and `totalVariance`"))
    if probs:
        return probs, None
    axis, pillars = (
        ("strikes", sf.strikes) if sf.strikes is not None else ("moneyness", sf.moneyness)
    )
    assert pillars is not None
    probs += _pillar_problems(loc, axis, pillars, source)
    field, rows = ("vols", sf.vols) if sf.vols is not None else ("totalVariance", sf.total_variance)
    assert rows is not None
    years = {t: curves.tenor_years(t) for t in rows}
    probs += _row_problems(loc, field, rows, years, len(pillars), source)
    if probs:
        return probs, None
    tenors = sorted(rows, key=years.__getitem__)
    # total variance per (tenor, strike): the quoted one, or σ²·t
    w = {
        t: list(rows[t]) if field == "totalVariance" else [v * v * years[t] for v in rows[t]]
        for t in tenors
    }
    probs += _calendar_problems(loc, field, axis, pillars, tenors, w, source)
    if probs:
        return probs, None
    if axis == "strikes":
        if spot is None:
            return probs, None  # reported by the caller (not an underlying of this file)
        x = [math.log(k / spot) for k in pillars]
    else:
        x = [math.log(m) for m in pillars]
    vols = [
        [math.sqrt(v / years[t]) for v in w[t]] if field == "totalVariance" else list(rows[t])
        for t in tenors
    ]
    return probs, (tenors, x, vols)


def validate_plain(doc: object, model: type[M], source: str) -> M:
    """Validate a document that is not a Resource (no apiVersion/kind envelope)."""
    if not isinstance(doc, dict):
        raise SpecError.one(
            source, f"expected a mapping at the top level, got {type(doc).__name__}"
        )
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise SpecError(problems_from_validation(exc, source)) from None


def _cross_check(m: MarketFile, source: str) -> list[Problem]:
    probs: list[Problem] = []
    for ccy, pillars in m.curves.items():
        if not _CCY.match(ccy):
            probs.append(Problem(source, ("curves", ccy), "must be a 3-letter ISO currency code"))
        if not pillars:
            probs.append(Problem(source, ("curves", ccy), "needs at least one pillar"))
        years = [curves.tenor_years(t) for t in pillars]
        if len(set(years)) != len(years):
            probs.append(Problem(source, ("curves", ccy), "has two pillars at the same time"))
    if m.base_currency not in m.curves:
        probs.append(Problem(source, ("baseCurrency",), f"no curve for {m.base_currency}"))
    for pair in m.fx:
        if not _PAIR.match(pair):
            probs.append(Problem(source, ("fx", pair), "must be 6 letters CCY1CCY2, e.g. EURUSD"))
            continue
        for ccy in (pair[:3], pair[3:]):
            if ccy not in m.curves:
                probs.append(Problem(source, ("fx", pair), f"no curve for currency {ccy}"))
    for name, eq in m.equities.items():
        if not _NAME.match(name) or (_PAIR.match(name) and name in m.fx):
            probs.append(Problem(source, ("equities", name), "invalid or duplicate name"))
        if eq.currency not in m.curves:
            probs.append(
                Problem(source, ("equities", name, "currency"), f"no curve for {eq.currency}")
            )
    for name, pillars in m.vols.items():
        if name not in m.equities and name not in m.fx:
            probs.append(Problem(source, ("vols", name), "not an equity or FX pair of this file"))
        if not pillars:
            probs.append(Problem(source, ("vols", name), "needs at least one pillar"))
    for name in m.vol_surfaces:
        if name not in m.equities and name not in m.fx:
            probs.append(
                Problem(source, ("volSurfaces", name), "not an equity or FX pair of this file")
            )
        if name in m.vols:
            probs.append(
                Problem(
                    source,
                    ("volSurfaces", name),
                    "also given in `vols`: give a term structure or a surface, not both",
                )
            )
    return probs


def _surfaces(
    m: MarketFile, source: str
) -> tuple[list[Problem], dict[str, tuple[list[str], list[float], list[list[float]]]]]:
    probs: list[Problem] = []
    out: dict[str, tuple[list[str], list[float], list[list[float]]]] = {}
    for name, sf in m.vol_surfaces.items():
        spot = m.equities[name].spot if name in m.equities else m.fx.get(name)
        ps, built = _check_surface(name, sf, spot, source)
        probs += ps
        if built is not None:
            out[name] = built
    return probs, out


def _sorted(pillars: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(pillars.items(), key=lambda kv: curves.tenor_years(kv[0]))


# Parsed market files by SHA-256 of their text: the API validates a job's inputs at submit and
# again when it runs, and desks resubmit jobs over the same (MB-sized) data; a file already
# parsed costs a hash, not a parse. Only successes are kept (errors name the path they were
# read from); the objects are read-only by convention (risk.market, risk.scenarios).
_PARSED: OrderedDict[tuple[str, str], Any] = OrderedDict()
_PARSED_MAX = 32
_PARSED_LOCK = threading.Lock()


def _by_content(kind: str, text: str, parse: Callable[[], _T]) -> _T:
    key = (kind, hashlib.sha256(text.encode("utf-8")).hexdigest())
    with _PARSED_LOCK:
        if key in _PARSED:
            _PARSED.move_to_end(key)
            return cast(_T, _PARSED[key])  # stored under its kind by this function
    value = parse()
    with _PARSED_LOCK:
        _PARSED[key] = value
        while len(_PARSED) > _PARSED_MAX:
            _PARSED.popitem(last=False)
    return value


def load_market(path: str | Path) -> MarketData:
    """Read and check a snapshot file; raises :class:`SpecError` naming file and field."""
    path = Path(path)
    text = read_text(path, what="market data file")
    return _by_content("market", text, lambda: _parse_market(text, str(path)))


def _parse_market(text: str, source: str) -> MarketData:
    docs = parse_yaml_documents(text, source)
    if len(docs) != 1:
        raise SpecError.one(source, f"expected exactly one YAML document, found {len(docs)}")
    m = validate_plain(docs[0], MarketFile, source)
    probs = _cross_check(m, source)
    surface_probs, surfaces = _surfaces(m, source)
    probs += surface_probs
    if probs:
        raise SpecError(probs)
    try:
        return market_mod.build(
            as_of=m.as_of,
            base_currency=m.base_currency,
            curve_pillars={c: _sorted(p) for c, p in m.curves.items()},
            fx=dict(m.fx),
            equities={n: (e.spot, e.currency, e.dividend_yield) for n, e in m.equities.items()},
            vols={u: _sorted(p) for u, p in m.vols.items()},
            surfaces=surfaces,
        )
    except ValueError as exc:
        raise SpecError.one(source, str(exc), ("fx",)) from None


def _csv_problem(source: str, row: int, column: str, message: str) -> Problem:
    return Problem(source, (), f"row {row}, column {column}: {message}")


def load_history(path: str | Path) -> FactorHistory:
    """Read a risk-factor history CSV; errors name the file, row and column."""
    path = Path(path)
    text = read_text(path, what="history file")
    return _by_content("history", text, lambda: _parse_history(text, str(path)))


def _parse_history(text: str, source: str) -> FactorHistory:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or header[0].strip() != "date":
        raise SpecError.one(source, "row 1: the header must start with a 'date' column")
    names = [h.strip() for h in header[1:]]
    probs: list[Problem] = []
    for name in names:
        if not _FACTOR.match(name):
            probs.append(
                _csv_problem(
                    source, 1, name, "not a factor name (spot:NAME, vol:NAME, rate:CURVE:TENOR)"
                )
            )
    if len(set(names)) != len(names):
        probs.append(Problem(source, (), "row 1: duplicate column names"))
    if probs:
        raise SpecError(probs)
    positive = np.array([not n.startswith("rate:") for n in names])
    dates: list[dt.date] = []
    rows: list[list[float]] = []
    for line, rec in enumerate(reader, start=2):
        if not rec or all(not c.strip() for c in rec):
            continue
        if len(rec) != len(header):
            probs.append(
                Problem(source, (), f"row {line}: {len(rec)} cells, header has {len(header)}")
            )
            continue
        try:
            d = dt.date.fromisoformat(rec[0].strip())
        except ValueError:
            probs.append(_csv_problem(source, line, "date", f"not an ISO date: {rec[0]!r}"))
            continue
        if dates and d <= dates[-1]:
            probs.append(_csv_problem(source, line, "date", "dates must strictly increase"))
        values: list[float] = []
        for name, cell, pos in zip(names, rec[1:], positive, strict=True):
            try:
                v = float(cell)
            except ValueError:
                probs.append(_csv_problem(source, line, name, f"not a number: {cell!r}"))
                v = math.nan
            else:
                if not math.isfinite(v):
                    probs.append(_csv_problem(source, line, name, "must be a finite number"))
                elif pos and v <= 0:
                    probs.append(_csv_problem(source, line, name, "must be > 0"))
            values.append(v)
        dates.append(d)
        rows.append(values)
        if len(probs) >= 50:
            break
    if probs:
        raise SpecError(probs)
    if not rows:
        raise SpecError.one(source, "no data rows")
    return FactorHistory(
        dates=tuple(dates), names=tuple(names), values=np.array(rows, dtype=np.float64)
    )

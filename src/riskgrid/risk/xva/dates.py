"""Dates for exposure simulation: tenors, day counts, business-day rolls, schedules, grids.

Business days are weekdays: holiday calendars (TARGET, NY, London) are not modelled, so a
coupon date that falls on a holiday is not moved (documented in docs/exposure.md). Model time is
ACT/365F from the valuation date; accruals use each leg's own day count.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Literal

DayCount = Literal["ACT/360", "ACT/365F", "30/360"]
_TENOR = re.compile(r"^(\d{1,4})([DWMY])$")


def parse_tenor(label: str) -> tuple[int, str]:
    """``"6M"`` → ``(6, "M")``; raises ``ValueError`` on anything else."""
    m = _TENOR.match(label.strip().upper())
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"not a tenor: {label!r} (use e.g. 1D, 2W, 6M, 10Y)")
    return int(m.group(1)), m.group(2)


def add_months(d: dt.date, months: int) -> dt.date:
    """``d`` plus whole months, the day clamped to the month's end (31 Jan + 1M = 28/29 Feb)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def add_tenor(d: dt.date, label: str, times: int = 1) -> dt.date:
    n, unit = parse_tenor(label)
    n *= times
    if unit == "D":
        return d + dt.timedelta(days=n)
    if unit == "W":
        return d + dt.timedelta(weeks=n)
    return add_months(d, n if unit == "M" else 12 * n)


def roll_modified_following(d: dt.date) -> dt.date:
    """Next weekday, unless that crosses into the next month: then the previous weekday."""
    out = d
    while out.weekday() >= 5:
        out += dt.timedelta(days=1)
    if out.month != d.month:
        out = d
        while out.weekday() >= 5:
            out -= dt.timedelta(days=1)
    return out


def year_fraction(d0: dt.date, d1: dt.date, basis: DayCount) -> float:
    """Accrual between two dates. 30/360 is the ISDA bond basis (30/360 US without EOM Feb)."""
    if basis == "ACT/360":
        return (d1 - d0).days / 360.0
    if basis == "ACT/365F":
        return (d1 - d0).days / 365.0
    day0, day1 = min(d0.day, 30), d1.day
    if day0 == 30 and day1 == 31:
        day1 = 30
    return (360 * (d1.year - d0.year) + 30 * (d1.month - d0.month) + (day1 - day0)) / 360.0


def model_time(as_of: dt.date, d: dt.date) -> float:
    """Model time of a date: ACT/365F years after the valuation date."""
    return (d - as_of).days / 365.0


def schedule(start: dt.date, end: dt.date, tenor: str) -> list[dt.date]:
    """Adjusted period boundaries from ``start`` to ``end``, generated forward.

    Unadjusted dates are ``start + k·tenor``; a final stub ends at ``end``; every date is rolled
    modified-following. At least two dates (one period) are returned.
    """
    if end <= start:
        raise ValueError("end must be after start")
    dates = [start]
    k = 1
    while True:
        d = add_tenor(start, tenor, k)
        if d >= end - dt.timedelta(days=7):  # no stub shorter than a week
            break
        dates.append(d)
        k += 1
    dates.append(end)
    return [roll_modified_following(d) for d in dates]


def grid_dates(as_of: dt.date, steps: list[tuple[str, str]]) -> list[dt.date]:
    """Simulation dates: for each ``(until, step)`` segment, dates every ``step`` up to
    ``as_of + until``; e.g. ``[("1Y", "1M"), ("30Y", "3M")]`` is monthly then quarterly."""
    out: list[dt.date] = []
    last = as_of
    for until, step in steps:
        stop = add_tenor(as_of, until)
        k = 1
        while True:
            d = add_tenor(last, step, k)
            if d > stop:
                break
            out.append(d)
            k += 1
        if out:
            last = out[-1]
    return out

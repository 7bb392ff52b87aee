"""The error tree for bad input.

Every problem a user can cause with a file is a :class:`SpecError`: it names the file, the field
path inside it and what was expected, so that the CLI can print ``job.yaml:
spec.portfolio.positions[3].strike: must be > 0`` and exit 2 without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Loc = Sequence[str | int]


def format_loc(loc: Loc) -> str:
    """``("spec", "positions", 3, "strike")`` → ``spec.positions[3].strike``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one place in one file."""

    source: str
    loc: tuple[str | int, ...]
    message: str

    def __str__(self) -> str:
        where = format_loc(self.loc)
        return (
            f"{self.source}: {where}: {self.message}" if where else f"{self.source}: {self.message}"
        )


class RiskgridError(Exception):
    """Base of every error riskgrid raises on purpose."""


class SpecError(RiskgridError):
    """Input that cannot be accepted; carries one or more :class:`Problem`."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def one(cls, source: str, message: str, loc: Loc = ()) -> SpecError:
        return cls([Problem(source, tuple(loc), message)])

"""Partitions of the address and port spaces into atoms.

Every CIDR and port range named anywhere in the policies becomes a boundary; the spaces are cut
at those boundaries, so each atom is treated identically by every rule. Checking one
representative per atom is then exact, and the matrix stays small however many addresses or
ports a rule covers.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

MAX_PORT = 65535
PORT_PROTOCOLS = ("TCP", "UDP", "SCTP")
_FAMILY_MAX = {4: (1 << 32) - 1, 6: (1 << 128) - 1}


@dataclass(frozen=True, order=True)
class IpRange:
    """A closed range of addresses of one IP family."""

    family: int
    lo: int
    hi: int

    @classmethod
    def from_cidr(cls, text: str) -> IpRange:
        net = ipaddress.ip_network(text, strict=False)
        return cls(net.version, int(net.network_address), int(net.broadcast_address))

    def contains(self, other: IpRange) -> bool:
        return self.family == other.family and self.lo <= other.lo and other.hi <= self.hi

    def overlaps(self, other: IpRange) -> bool:
        return self.family == other.family and self.lo <= other.hi and other.lo <= self.hi

    def cidrs(self) -> list[str]:
        """The range as the shortest list of CIDRs."""
        cls = ipaddress.IPv4Address if self.family == 4 else ipaddress.IPv6Address
        nets = ipaddress.summarize_address_range(cls(self.lo), cls(self.hi))
        return [str(n) for n in nets]

    def __str__(self) -> str:
        parts = self.cidrs()
        return parts[0] if len(parts) == 1 else f"{parts[0]}…{parts[-1]} ({len(parts)} CIDRs)"


def parse_cidr(text: object) -> IpRange:
    """A CIDR (or single address) as an :class:`IpRange`; ``ValueError`` if it does not parse."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a CIDR string")
    try:
        return IpRange.from_cidr(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a valid CIDR") from None


def ip_atoms(ranges: Iterable[IpRange]) -> list[IpRange]:
    """Cut both address families at every range boundary; the atoms cover each family fully."""
    bounds: dict[int, set[int]] = {4: {0, _FAMILY_MAX[4] + 1}, 6: {0, _FAMILY_MAX[6] + 1}}
    for r in ranges:
        bounds[r.family].update((r.lo, r.hi + 1))
    atoms: list[IpRange] = []
    for family in (4, 6):
        cuts = sorted(bounds[family])
        atoms.extend(IpRange(family, a, b - 1) for a, b in itertools.pairwise(cuts))
    return atoms


@dataclass(frozen=True, order=True)
class PortAtom:
    """A range of ports of one protocol; ``lo``/``hi`` are 0 for protocols without ports."""

    protocol: str
    lo: int
    hi: int

    @property
    def has_ports(self) -> bool:
        return self.protocol in PORT_PROTOCOLS

    def __str__(self) -> str:
        if not self.has_ports:
            return self.protocol
        if self.lo == 1 and self.hi == MAX_PORT:
            return f"{self.protocol}:*"
        return f"{self.protocol}:{self.lo}" + (f"-{self.hi}" if self.hi != self.lo else "")


def port_atoms(
    ranges: Iterable[tuple[str, int, int]], extra_protocols: Iterable[str] = ()
) -> list[PortAtom]:
    """Cut 1..65535 of each port protocol at every boundary; other protocols get one atom."""
    bounds: dict[str, set[int]] = {p: {1, MAX_PORT + 1} for p in PORT_PROTOCOLS}
    for proto, lo, hi in ranges:
        if proto in bounds:
            bounds[proto].update((max(lo, 1), min(hi, MAX_PORT) + 1))
    atoms: list[PortAtom] = []
    for proto in PORT_PROTOCOLS:
        cuts = sorted(bounds[proto])
        atoms.extend(PortAtom(proto, a, b - 1) for a, b in itertools.pairwise(cuts))
    for proto in sorted(set(extra_protocols) - set(PORT_PROTOCOLS)):
        atoms.append(PortAtom(proto, 0, 0))
    return atoms


def summarize_ports(atoms: Iterable[PortAtom]) -> str:
    """Human summary such as ``TCP:53,6379-6380; UDP:53`` (adjacent atoms are merged)."""
    by_proto: dict[str, list[tuple[int, int]]] = {}
    for a in sorted(atoms):
        spans = by_proto.setdefault(a.protocol, [])
        if spans and a.has_ports and spans[-1][1] + 1 == a.lo:
            spans[-1] = (spans[-1][0], a.hi)
        else:
            spans.append((a.lo, a.hi))
    parts = []
    for proto, spans in by_proto.items():
        if proto not in PORT_PROTOCOLS:
            parts.append(proto)
        elif spans == [(1, MAX_PORT)]:
            parts.append(f"{proto}:*")
        else:
            text = ",".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in spans)
            parts.append(f"{proto}:{text}")
    return "; ".join(parts)


def _merge(ranges: Iterable[IpRange]) -> list[IpRange]:
    out: list[IpRange] = []
    for r in sorted(ranges):
        if out and out[-1].family == r.family and out[-1].hi + 1 >= r.lo:
            out[-1] = IpRange(r.family, out[-1].lo, max(out[-1].hi, r.hi))
        else:
            out.append(r)
    return out


def describe_ranges(ranges: Iterable[IpRange]) -> str:
    """Short text for a set of address ranges: ``10.0.0.0/8,192.168.0.0/16`` or, when shorter,
    ``0.0.0.0/0 except 169.254.169.254/32``."""
    parts: list[str] = []
    merged = _merge(ranges)
    for family in (4, 6):
        fam = [r for r in merged if r.family == family]
        if not fam:
            continue
        inside = [c for r in fam for c in r.cidrs()]
        holes: list[IpRange] = []
        cursor = 0
        for r in fam:
            if r.lo > cursor:
                holes.append(IpRange(family, cursor, r.lo - 1))
            cursor = r.hi + 1
        if cursor <= _FAMILY_MAX[family]:
            holes.append(IpRange(family, cursor, _FAMILY_MAX[family]))
        outside = [c for r in holes for c in r.cidrs()]
        everything = "0.0.0.0/0" if family == 4 else "::/0"
        if not outside:
            parts.append(everything)
        elif len(outside) < len(inside):
            parts.append(f"{everything} except {','.join(outside)}")
        else:
            parts.append(",".join(inside))
    return "; ".join(parts)

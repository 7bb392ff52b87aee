"""Run IBM's network-config-analyzer (NCA) connectivity query and read its answer.

NCA prints one line per (source, destination, connection set) in its ``txt_no_fw_rules``
format, e.g. ``prod/client[Pod] => prod/web[Pod] : {protocols:TCP,dst_ports:8000-8100}`` or
``0.0.0.0-255.255.255.255 => dev/client[Pod] : All connections``.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from nca import nca_cli

_LINE = re.compile(r"^(?P<src>\S+) => (?P<dst>\S+) : (?P<conn>.+)$")
_SET = re.compile(r"\{([^}]*)\}")


@dataclass(frozen=True)
class NcaConn:
    protocols: frozenset[str] | None  # None: all connections
    ports: tuple[tuple[int, int], ...] | None  # None: all ports

    def allows(self, protocol: str, port: int) -> bool:
        if self.protocols is None:
            return True
        if protocol not in self.protocols:
            return False
        return self.ports is None or any(lo <= port <= hi for lo, hi in self.ports)


def _endpoint(text: str) -> tuple[str, object]:
    if text.endswith("]") and "[" in text:
        return "pod", text[: text.index("[")]
    ranges = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        ranges.append((ipaddress.ip_address(lo), ipaddress.ip_address(hi or lo)))
    return "ip", ranges


def _conns(text: str) -> list[NcaConn]:
    if text.strip() == "All connections":
        return [NcaConn(None, None)]
    out = []
    for body in _SET.findall(text):
        protos: set[str] = set()
        ports: list[tuple[int, int]] | None = None
        m = re.search(r"protocols:([A-Za-z0-9, ]+?)(?:,dst_ports:|,src_ports:|$)", body)
        if m:
            protos.update(p.strip() for p in m.group(1).split(",") if p.strip())
        pm = re.search(r"dst_ports:([0-9,\-]+)", body)
        if pm:
            ports = []
            for span in pm.group(1).split(","):
                lo, _, hi = span.partition("-")
                ports.append((int(lo), int(hi or lo)))
        out.append(NcaConn(frozenset(protos), None if ports is None else tuple(ports)))
    return out


@dataclass
class NcaResult:
    lines: list[tuple[tuple[str, object], tuple[str, object], list[NcaConn]]]
    raw: str
    log: str
    returncode: int

    @staticmethod
    def _match(ep: tuple[str, object], ref: str) -> bool:
        kind, value = ep
        if kind == "pod":
            return value == ref
        try:
            addr = ipaddress.ip_address(ref)
        except ValueError:
            return False
        return any(lo <= addr <= hi for lo, hi in value)  # type: ignore[union-attr]

    def allowed(self, src: str, dst: str, port: int, protocol: str) -> bool:
        return any(
            self._match(s, src)
            and self._match(d, dst)
            and any(c.allows(protocol, port) for c in cs)
            for s, d, cs in self.lines
        )


def run_nca(yaml_text: str, workdir: Path) -> NcaResult:
    """NCA's connectivity map of the objects in ``yaml_text`` (written under ``workdir``)."""
    src = workdir / "objects.yaml"
    out = workdir / "nca-out.txt"
    src.write_text(yaml_text, encoding="utf-8")
    log = io.StringIO()
    # nca_cli prints its errors to the `stderr` it imported, not to the current sys.stderr.
    saved = nca_cli.stderr
    nca_cli.stderr = log
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            rc = nca_cli.nca_main(
                ["--connectivity", "-r", str(src), "-o", "txt_no_fw_rules", "-f", str(out)]
            )
    finally:
        nca_cli.stderr = saved
    raw = out.read_text(encoding="utf-8") if out.exists() else ""
    lines = []
    for line in raw.splitlines():
        m = _LINE.match(line.strip())
        if m:
            lines.append((_endpoint(m["src"]), _endpoint(m["dst"]), _conns(m["conn"])))
    return NcaResult(lines, raw, log.getvalue(), int(rc or 0))

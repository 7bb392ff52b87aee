"""`riskgrid netpol …`: the connectivity matrix of manifests, and why a path is open or not.

Thin shell over :mod:`riskgrid.netpol`: reads YAML/JSON files and directories, names each
document ``file doc N`` so that errors point at it, and prints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from riskgrid.netpol.analysis import connectivity
from riskgrid.netpol.matrix import ConnectivityMatrix, QueryError
from riskgrid.spec.errors import SpecError
from riskgrid.spec.loading import parse_yaml_documents, read_text

_SUFFIXES = (".yaml", ".yml", ".json")


def load_objects(paths: list[Path]) -> tuple[list[Any], list[str]]:
    """Every document of every file (directories: their YAML/JSON files, recursively)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
            if not found:
                raise SpecError.one(str(path), "directory holds no .yaml/.yml/.json files")
            files.extend(found)
        else:
            files.append(path)
    objects: list[Any] = []
    sources: list[str] = []
    for f in files:
        docs = parse_yaml_documents(read_text(f), str(f))
        for i, doc in enumerate(docs):
            objects.append(doc)
            sources.append(f"{f} doc {i + 1}")
    return objects, sources


def _is_snapshot(path: Path) -> bool:
    return path.is_dir() and (path / "manifest.json").is_file()


def _matrix(paths: list[Path], pod_network: list[str] | None) -> ConnectivityMatrix:
    if len(paths) == 1 and _is_snapshot(paths[0]):
        # A cluster snapshot (riskgrid cluster snapshot): running pods with their addresses;
        # verdicts that depend on a missing address are flagged (docs/cluster.md).
        from riskgrid.cluster.reach import network_world
        from riskgrid.cluster.snapshot import load_snapshot

        snap = load_snapshot(paths)
        for problem in snap.problems:
            print(f"error: {problem}", file=sys.stderr)
        if snap.banner():
            print(snap.banner(), file=sys.stderr)
        world = network_world(snap)
        mx = connectivity(
            world.objects,
            sources=world.sources,
            pod_network=pod_network or (),
            add_cluster_dns=False,
            flag_unknown_addresses=True,
        )
    else:
        objects, sources = load_objects(paths)
        mx = connectivity(objects, sources=sources, pod_network=pod_network or ())
    for warning in mx.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return mx


_POD_NETWORK_HELP = (
    "CIDR pod addresses come from (repeatable). With it, an ipBlock/nets that covers the "
    "whole pod network also matches pods, as Calico enforces; without it, ipBlocks match "
    "only cluster-external addresses."
)


def _print_table(mx: ConnectivityMatrix, external: bool) -> None:
    console = Console()
    pols = len(mx.cluster.policies)
    tiers = ", ".join(
        f"{t.name}({t.order:g})" for t in sorted(mx.cluster.tiers.values(), key=lambda t: t.order)
    )
    console.print(
        f"{len(mx.pods)} pods in {len(mx.classes)} classes, {pols} policies, tiers: {tiers}"
    )
    table = Table(title="allowed connections")
    for header in ("source", "destination", "ports"):
        # Fold rather than truncate: a cut-off port list in a security report misleads.
        table.add_column(header, overflow="fold")
    for c in mx.connections(external=external):
        table.add_row(c.src, c.dst, c.ports)
    console.print(table)
    if mx.cluster.ignored:
        ignored = ", ".join(f"{k}×{n}" for k, n in sorted(mx.cluster.ignored.items()))
        console.print(f"ignored (no bearing on connectivity): {ignored}")


def matrix(
    paths: list[Path] = typer.Argument(..., help="Manifest files or directories."),
    fmt: str = typer.Option("text", "--format", "-f", help="text or json"),
    external: bool = typer.Option(True, help="Include traffic to/from external addresses."),
    pod_network: list[str] | None = typer.Option(None, help=_POD_NETWORK_HELP),
) -> None:
    """Print every allowed connection between pods (and external addresses)."""
    if fmt not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--format")
    mx = _matrix(paths, pod_network)
    if fmt == "json":
        json.dump(mx.to_dict(external=external), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_table(mx, external)


def explain(
    paths: list[Path] = typer.Argument(..., help="Manifest files or directories."),
    src: str = typer.Option(..., "--from", help="namespace/pod or an address/CIDR"),
    dst: str = typer.Option(..., "--to", help="namespace/pod or an address/CIDR"),
    port: str | None = typer.Option(None, help="Port number or name (default: any)."),
    protocol: str = typer.Option("TCP", help="TCP, UDP or SCTP"),
    pod_network: list[str] | None = typer.Option(None, help=_POD_NETWORK_HELP),
) -> None:
    """Say whether SRC reaches DST and which tiers/policies/rules decided it."""
    mx = _matrix(paths, pod_network)
    port_value: int | str | None = int(port) if port and port.isdigit() else port
    try:
        decision = mx.explain(src, dst, port_value, protocol)
    except QueryError as exc:
        raise SpecError.one("query", str(exc)) from None
    print(decision.explain())
    if not decision.allowed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    group = typer.Typer(help="Network policy analysis (Kubernetes + Calico tiers).")
    group.command("matrix")(matrix)
    group.command("explain")(explain)
    app.add_typer(group, name="netpol")

"""`riskgrid cluster …`: snapshot a running cluster, audit it, reachability, drift.

Thin shell over :mod:`riskgrid.cluster`; every analysis of a partial snapshot prints the
PARTIAL ANALYSIS banner first and exits 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

_SNAP = typer.Argument(..., help="Snapshot directory, or kubectl -o yaml dump files.")


def _banner(snap) -> None:
    for p in snap.problems:
        print(f"error: {p}", file=sys.stderr)
    if snap.banner():
        print(snap.banner(), file=sys.stderr)


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Audit a running cluster: snapshot, policy audit, reachability, drift.",
        no_args_is_help=True,
    )

    @group.command("snapshot")
    def snapshot(
        out: Annotated[Path, typer.Option("--output", "-o", help="New snapshot directory.")],
        kubeconfig: Annotated[str | None, typer.Option(help="kubeconfig file")] = None,
        context: Annotated[str | None, typer.Option(help="kubeconfig context")] = None,
        page: Annotated[int, typer.Option(help="Objects per list request.")] = 500,
    ) -> None:
        """Read every kind the audit needs (never Secrets) into a versioned snapshot."""
        from riskgrid.cluster.live import snapshot_cluster

        def progress(res, n: int) -> None:
            print(f"\r{res.api_version} {res.plural}: {n}", end="", file=sys.stderr)

        path = snapshot_cluster(
            out, kubeconfig=kubeconfig, context=context, page=page, progress=progress
        )
        print(f"\nsnapshot written to {path}", file=sys.stderr)

    @group.command("audit")
    def audit(
        snapshot: Annotated[list[Path], _SNAP],
        fmt: Annotated[
            str, typer.Option("--format", "-f", help="text|json|sarif|junit|policyreport")
        ] = "text",
        exceptions: Annotated[
            list[Path] | None, typer.Option("--exceptions", "-e", help="PolicyException file(s).")
        ] = None,
        fail_on: Annotated[str, typer.Option(help="Lowest failing severity.")] = "low",
        config: Annotated[
            Path | None, typer.Option("--config", "-c", help="PolicyConfig file.")
        ] = None,
    ) -> None:
        """Evaluate the policy library over every live object (pods with their controller)."""
        from riskgrid.cluster.audit import audit_snapshot
        from riskgrid.cluster.policyreport import policy_reports
        from riskgrid.cluster.snapshot import load_snapshot
        from riskgrid.policy import report as r
        from riskgrid.policy.library import load_library
        from riskgrid.spec.exceptions import load_exceptions

        if fmt not in ("text", "json", "sarif", "junit", "policyreport"):
            raise typer.BadParameter("must be text, json, sarif, junit or policyreport")
        snap = load_snapshot(snapshot)
        if snap.banner():
            print(snap.banner(), file=sys.stderr)
        from riskgrid.policy.config import load_config

        result = audit_snapshot(
            snap,
            config=load_config(config) if config else None,
            exceptions=load_exceptions(list(exceptions or [])),
        )
        rep = result.report
        if fmt == "text":
            text = r.render_text(rep)
            if result.folded:
                text += f"{len(result.folded)} controlled objects judged with their controller\n"
        elif fmt == "json":
            data = {**rep.to_dict(), "folded": result.folded, "partial": result.partial_banner}
            text = json.dumps(data, indent=2) + "\n"
        elif fmt == "sarif":
            rules = [
                {
                    "id": p.id,
                    "name": p.title,
                    "shortDescription": {"text": p.title},
                    "help": {"text": p.remediation},
                }
                for p in load_library()
            ]
            text = r.render_sarif(rep, rules)
        elif fmt == "junit":
            text = r.render_junit(rep)
        else:
            import yaml

            text = yaml.safe_dump_all(policy_reports(result), sort_keys=False)
        sys.stdout.write(text)
        raise typer.Exit(rep.exit_code(fail_on))

    @group.command("matrix")
    def matrix(
        snapshot: Annotated[list[Path], _SNAP],
        fmt: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
    ) -> None:
        """Allowed connections between the running pods, with their real addresses."""
        from riskgrid.cluster.reach import snapshot_matrix
        from riskgrid.cluster.snapshot import load_snapshot

        snap = load_snapshot(snapshot)
        _banner(snap)
        mx, world = snapshot_matrix(snap)
        for s in world.skipped:
            print(f"skipped: {s}", file=sys.stderr)
        if fmt == "json":
            print(json.dumps({**mx.to_dict(), "partial": snap.banner()}, indent=2))
        else:
            for conn in mx.connections():
                print(f"{conn.src} -> {conn.dst} {conn.ports}")
            for s, d in mx.undecided():
                print(f"{s} -> {d} UNDECIDED (depends on pod addresses not in the snapshot)")
        raise typer.Exit(2 if snap.partial else 0)

    @group.command("explain")
    def explain(
        snapshot: Annotated[list[Path], _SNAP],
        src: Annotated[str, typer.Option("--from", help="namespace/pod or address/CIDR")],
        dst: Annotated[str, typer.Option("--to", help="namespace/pod or address/CIDR")],
        port: Annotated[str | None, typer.Option(help="Port number or name")] = None,
        protocol: Annotated[str, typer.Option(help="TCP, UDP or SCTP")] = "TCP",
    ) -> None:
        """Why SRC does or does not reach DST on the live state (exit 1 denied, 3 undecided)."""
        from riskgrid.cluster.reach import snapshot_matrix
        from riskgrid.cluster.snapshot import load_snapshot
        from riskgrid.netpol.matrix import QueryError
        from riskgrid.spec.errors import SpecError

        snap = load_snapshot(snapshot)
        _banner(snap)
        mx, _ = snapshot_matrix(snap)
        value: int | str | None = int(port) if port and port.isdigit() else port
        try:
            decision = mx.explain(src, dst, value, protocol)
        except QueryError as exc:
            raise SpecError.one("query", str(exc)) from None
        print(decision.explain())
        if decision.depends_on_addresses:
            raise typer.Exit(3)
        if not decision.allowed:
            raise typer.Exit(1)

    @group.command("isolation")
    def isolation_(snapshot: Annotated[list[Path], _SNAP]) -> None:
        """The tenant isolation proof on the live state (tenants from namespace labels)."""
        from riskgrid.cluster.reach import isolation
        from riskgrid.cluster.snapshot import load_snapshot

        snap = load_snapshot(snapshot)
        _banner(snap)
        res = isolation(snap)
        for f in res.findings:
            print(f)
        for s, d in res.undecided:
            print(f"undecided: {s} -> {d} (depends on pod addresses)")
        print(f"isolation of {len(res.tenants)} tenants on the live state: {res.verdict()}")
        raise typer.Exit({True: 0, False: 1, None: 3}[res.holds])

    @group.command("drift")
    def drift_(
        snapshot: Annotated[Path, typer.Argument(help="Snapshot directory or dump.")],
        tenants: Annotated[list[Path], typer.Argument(help="Tenant YAML files.")],
        fmt: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
    ) -> None:
        """Live objects against the bundles rendered now; isolation on the live state."""
        from riskgrid.cluster.drift import drift
        from riskgrid.cluster.reach import isolation
        from riskgrid.cluster.snapshot import load_snapshot
        from riskgrid.spec.tenant import load_tenants
        from riskgrid.tenancy.platform import render_platform
        from riskgrid.tenancy.render import render_tenants
        from riskgrid.tenancy.verify import allowed_egress

        ts = load_tenants(tenants)
        snap = load_snapshot([snapshot])
        _banner(snap)
        rep = drift(snap, [*render_platform(ts), *render_tenants(ts)], ts)
        iso = isolation(
            snap,
            tenants={t.name: {t.namespace} for t in ts},
            allowed_egress={t.name: allowed_egress(t) for t in ts},
        )
        if fmt == "json":
            data = {
                **rep.to_dict(),
                "isolation": iso.verdict(),
                "findings": [str(f) for f in iso.findings],
                "undecided": [list(p) for p in iso.undecided],
                "partial": snap.banner(),
            }
            print(json.dumps(data, indent=2))
        else:
            for ref in rep.missing:
                print(f"MISSING  {ref}")
            for ref in rep.extra:
                print(f"EXTRA    {ref}")
            for ref, changes in rep.changed.items():
                print(f"CHANGED  {ref}")
                for ch in changes:
                    print(f"         {ch}")
            for f in iso.findings:
                print(f"ISOLATION {f}")
            if rep.not_compared:
                print(f"not compared (not in a snapshot): {len(rep.not_compared)} objects")
            print(
                f"{len(rep.missing)} missing, {len(rep.extra)} extra, {len(rep.changed)} changed; "
                f"isolation on the live state: {iso.verdict()}"
            )
        if snap.partial:
            raise typer.Exit(2)
        raise typer.Exit(0 if rep.clean and iso.holds else 1)

    app.add_typer(group, name="cluster")

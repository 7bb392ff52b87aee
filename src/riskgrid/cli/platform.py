"""``riskgrid platform render``: the cluster-wide pieces every tenant relies on."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer


class Layout(StrEnum):
    object = "object"
    kind = "kind"


def register(app: typer.Typer) -> None:
    """Add ``platform`` to the root app."""
    platform_app = typer.Typer(help="Cluster-wide platform bundle.", no_args_is_help=True)
    app.add_typer(platform_app, name="platform")

    @platform_app.command("render")
    def render(
        tenants: list[Path] = typer.Argument(None, help="Tenant YAML files (optional)."),
        out: Path = typer.Option(..., "-o", "--out", help="Output directory (replaced)."),
        layout: Layout = typer.Option(Layout.object, help="One file per object or per kind."),
        gatekeeper: bool = typer.Option(True, help="Include Gatekeeper templates/constraints."),
        capacity: Path | None = typer.Option(
            None,
            "--capacity",
            help="CapacityPlan YAML: Kueue flavors/queues/priorities and Karpenter NodePools.",
        ),
    ) -> None:
        """Render the platform namespace, Calico tier, Kueue flavors and Gatekeeper policies."""
        from riskgrid.spec.tenant import load_tenants
        from riskgrid.tenancy.output import write_bundle
        from riskgrid.tenancy.platform import render_platform

        loaded = load_tenants(tenants or [])
        plan = None
        if capacity is not None:
            from riskgrid.spec.capacity import load_capacity_plan

            plan = load_capacity_plan(capacity)
        objects = render_platform(loaded, gatekeeper=gatekeeper, capacity=plan)
        files = write_bundle(objects, out, layout.value)
        typer.echo(f"wrote {len(objects)} objects in {len(files)} files to {out}")

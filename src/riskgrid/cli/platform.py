"""``riskgrid platform render``: the cluster-wide pieces every tenant relies on."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer


class Layout(StrEnum):
    object = "object"
    kind = "kind"


class Target(StrEnum):
    kubernetes = "kubernetes"
    eks = "eks"


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
        target: Target = typer.Option(
            Target.kubernetes,
            "--target",
            help="kubernetes: the in-cluster platform bundle; eks: the cluster itself (eksctl).",
        ),
        cluster: Path | None = typer.Option(
            None, "--cluster", help="EksCluster YAML (with --target eks)."
        ),
    ) -> None:
        """Render the platform namespace, Calico tier, Kueue flavors and Gatekeeper policies,
        or with ``--target eks`` the cluster's eksctl ClusterConfig (CIS-checked)."""
        if target is Target.eks:
            _render_eks(cluster, out)
            return
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


def _render_eks(cluster: Path | None, out: Path) -> None:
    """Write ``cluster.yaml`` (eksctl ClusterConfig) after schema and CIS checks; exit 1 on a
    failed check with nothing written, exit 2 on bad input."""
    from riskgrid.spec.eks import load_eks_cluster
    from riskgrid.spec.errors import SpecError
    from riskgrid.tenancy.eks import render_checked
    from riskgrid.tenancy.output import write_bundle

    if cluster is None:
        raise SpecError.one("--cluster", "required with --target eks (an EksCluster YAML file)")
    config, report = render_checked(load_eks_cluster(cluster), str(cluster))
    if report.violations:
        for v in report.violations:
            typer.echo(f"{v.policy_id} {v.path}: {v.message}", err=True)
        typer.echo(
            f"REFUSED: {len(report.violations)} CIS EKS violations; nothing written", err=True
        )
        raise typer.Exit(1)
    write_bundle([config], out, "object")
    typer.echo(
        f"wrote eksctl ClusterConfig {config['metadata']['name']} to {out} (schema + CIS EKS OK)"
    )

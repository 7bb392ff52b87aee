"""``riskgrid tenant render|verify|diff|apply``: thin shells over :mod:`riskgrid.tenancy`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

import typer

from riskgrid.cli import client
from riskgrid.spec.errors import SpecError
from riskgrid.spec.loading import parse_yaml_documents, read_text


class Layout(StrEnum):
    object = "object"
    kind = "kind"


class DryRun(StrEnum):
    none = "none"
    server = "server"


def _extra_objects(paths: list[Path]) -> list[dict]:
    objects: list[dict] = []
    for p in paths:
        for i, doc in enumerate(parse_yaml_documents(read_text(p), str(p))):
            if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
                raise SpecError.one(str(p), "expected a Kubernetes object", (i,))
            objects.append(doc)
    return objects


_ACCESS = typer.Option(
    [],
    "--access",
    help="ServiceAccess YAML files: cloud services for the tenants (needs --cluster).",
)
_CLUSTER = typer.Option(None, "--cluster", help="EksCluster YAML (account, region, cluster name).")
_JUNIT = typer.Option(
    None,
    "--junit",
    help="JUnit XML of a test run: the evidence that decides which services are assured.",
)
_EVIDENCE = typer.Option(
    None,
    "--evidence",
    help="Evidence file of 'riskgrid threats verify' (default results/threats/evidence.json).",
)
_MODEL = typer.Option(Path("threatmodel"), "--model", help="Threat model directory.")


def _with_access(
    loaded: list,
    access: list[Path],
    cluster: Path | None,
    junit: Path | None,
    evidence: Path | None,
    model: Path,
) -> tuple[list, list[dict]]:
    """The tenants with their service egress, and the rendered access objects; refusals (bad
    request, unassured service) are :class:`SpecError` naming file and field."""
    if not access:
        return loaded, []
    from riskgrid.spec.eks import load_eks_cluster
    from riskgrid.spec.service_access import load_service_access
    from riskgrid.tenancy.cloud import plan_access
    from riskgrid.threats.assurance import assess_services

    if cluster is None:
        raise SpecError.one("--cluster", "required with --access (an EksCluster YAML file)")
    eks = load_eks_cluster(cluster)
    requests, problems = [], []
    for p in access:
        try:
            requests.append((load_service_access(p), str(p)))
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SpecError(problems)
    from riskgrid.spec.cloud_catalogue import CATALOGUE

    services = {g.service for a, _ in requests for g in a.spec.grants if g.service in CATALOGUE}
    unassured = assess_services(
        services, model_dir=model, repo_root=Path.cwd(), junit=junit, evidence=evidence
    )
    return plan_access(loaded, requests, eks, unassured)


_WITH = typer.Option(
    [], "--with", help="Extra Kubernetes objects, proven and applied with the bundles."
)


@contextmanager
def _refusal() -> Iterator[None]:
    """Print a failed proof the way ``tenant verify`` does and exit 1: nothing was applied."""
    from riskgrid.tenancy.proven import NotProven

    try:
        yield
    except NotProven as exc:
        for p in exc.report.problems:
            typer.echo(str(p), err=True)
        typer.echo(
            f"REFUSED: verification failed ({len(exc.report.problems)} problems; tenant pairs "
            f"isolated {exc.report.tenant_pairs_passed}/{exc.report.tenant_pairs_checked}); "
            "nothing was applied",
            err=True,
        )
        raise typer.Exit(1) from None


def register(app: typer.Typer) -> None:
    """Add ``tenant`` to the root app."""
    tenant_app = typer.Typer(
        help="Render, prove and apply tenant (risk desk) bundles.", no_args_is_help=True
    )
    app.add_typer(tenant_app, name="tenant")
    # create/get talk to the API server; they live with the other client commands.
    client.register_tenant_commands(tenant_app)

    @tenant_app.command("render")
    def render(
        tenants: list[Path] = typer.Argument(..., help="Tenant YAML files."),
        out: Path = typer.Option(..., "-o", "--out", help="Output directory (replaced)."),
        layout: Layout = typer.Option(Layout.object, help="One file per object or per kind."),
        access: list[Path] = _ACCESS,
        cluster: Path | None = _CLUSTER,
        junit: Path | None = _JUNIT,
        evidence: Path | None = _EVIDENCE,
        model: Path = _MODEL,
    ) -> None:
        """Render the tenants' hardened bundles into DIR (all or nothing)."""
        from riskgrid.spec.tenant import load_tenants
        from riskgrid.tenancy.output import write_bundle
        from riskgrid.tenancy.render import render_tenants

        loaded, cloud = _with_access(load_tenants(tenants), access, cluster, junit, evidence, model)
        objects = [*render_tenants(loaded), *cloud]
        files = write_bundle(objects, out, layout.value)
        typer.echo(f"wrote {len(objects)} objects in {len(files)} files to {out}")

    @tenant_app.command("verify")
    def verify(
        tenants: list[Path] = typer.Argument(..., help="Tenant YAML files (verified together)."),
        extra: list[Path] = typer.Option(
            [], "--with", help="Extra Kubernetes objects to include (e.g. a policy to test)."
        ),
        no_tier: bool = typer.Option(
            False, "--without-tier", help="Drop the Calico isolation tier (to see what it buys)."
        ),
        gatekeeper: bool = typer.Option(True, help="Include the Gatekeeper export."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
        access: list[Path] = _ACCESS,
        cluster: Path | None = _CLUSTER,
        junit: Path | None = _JUNIT,
        evidence: Path | None = _EVIDENCE,
        model: Path = _MODEL,
        trust_policy: Path = typer.Option(
            None,
            "--trust-policy",
            help="TrustPolicy: also verify each tenant's Ray image (signature, SBOM, scan) "
            "and refuse it through RG-IMG-005.",
        ),
        exceptions: list[Path] = typer.Option(
            [], "--exceptions", help="PolicyException files for the image gate (RG-IMG-005)."
        ),
    ) -> None:
        """Prove schema, policy, network and cloud-access guarantees for the tenants plus the
        platform."""
        from riskgrid.spec.tenant import load_tenants
        from riskgrid.tenancy.platform import render_platform
        from riskgrid.tenancy.render import render_tenants
        from riskgrid.tenancy.verify import verify as run_verify
        from riskgrid.tenancy.verify import without_tier

        loaded, cloud = _with_access(load_tenants(tenants), access, cluster, junit, evidence, model)
        objects = [
            *render_platform(loaded, gatekeeper=gatekeeper),
            *render_tenants(loaded),
            *cloud,
            *_extra_objects(extra),
        ]
        if no_tier:
            objects = without_tier(objects)
        params, decisions = None, []
        if trust_policy is not None:
            from riskgrid.supply.setup import gate_from_files, rego_parameters, verify_tenant

            gate = gate_from_files(trust_policy, exceptions)
            try:
                per_tenant = {t.name: verify_tenant(gate, t) for t in loaded}
            finally:
                gate.close()
            params = {name: rego_parameters(ds) for name, ds in per_tenant.items()}
            decisions = [d for ds in per_tenant.values() for d in ds]
        report = run_verify(loaded, objects, policy_params=params)
        if as_json:
            data = report.to_dict()
            if trust_policy is not None:
                data["images"] = [d.to_dict() for d in decisions]
            typer.echo(json.dumps(data, indent=2))
        else:
            for d in decisions:
                state = f"verified as {d.pinned}" if d.allowed else "REFUSED"
                typer.echo(f"image {d.image}: {state}")
                for m in d.messages():
                    typer.echo(f"  {m}")
            for p in report.problems:
                typer.echo(str(p))
            verdict = "OK" if report.ok else f"FAILED ({len(report.problems)} problems)"
            typer.echo(
                f"{verdict}: {report.objects} objects; tenant pairs isolated "
                f"{report.tenant_pairs_passed}/{report.tenant_pairs_checked}"
            )
        if not report.ok:
            raise typer.Exit(1)

    @tenant_app.command("diff")
    def diff(
        tenants: list[Path] = typer.Argument(..., help="Tenant YAML files (proven together)."),
        extra: list[Path] = _WITH,
        kubeconfig: str = typer.Option(None, "--kubeconfig", help="kubeconfig file."),
        context: str = typer.Option(None, "--context", help="kubeconfig context."),
    ) -> None:
        """Prove the bundles, then show what applying would change (GET + server-side dry run)."""
        from riskgrid.spec.tenant import load_tenants
        from riskgrid.tenancy.proven import diff_proven

        loaded, objects = load_tenants(tenants), _extra_objects(extra)
        with _refusal():
            text = diff_proven(loaded, extra=objects, kubeconfig=kubeconfig, context=context)
        typer.echo(text, nl=False)

    @tenant_app.command("apply")
    def apply(
        tenants: list[Path] = typer.Argument(..., help="Tenant YAML files (proven together)."),
        extra: list[Path] = _WITH,
        kubeconfig: str = typer.Option(None, "--kubeconfig", help="kubeconfig file."),
        context: str = typer.Option(None, "--context", help="kubeconfig context."),
        dry_run: DryRun = typer.Option(DryRun.none, "--dry-run", help="'server': dryRun=All."),
    ) -> None:
        """Prove the bundles with the platform, then server-side apply them (field manager
        'riskgrid'), in order. Applies nothing when any guarantee fails (exit 1)."""
        from riskgrid.spec.tenant import load_tenants
        from riskgrid.tenancy.proven import apply_proven

        loaded, objects = load_tenants(tenants), _extra_objects(extra)
        suffix = " (server dry run)" if dry_run is DryRun.server else ""
        with _refusal():
            apply_proven(
                loaded,
                extra=objects,
                kubeconfig=kubeconfig,
                context=context,
                dry_run=dry_run is DryRun.server,
                progress=lambda a: typer.echo(f"applied {a.object} [{a.status}]{suffix}"),
            )

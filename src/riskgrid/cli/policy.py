"""`riskgrid policy …`: check, list, exceptions, export — thin shells over riskgrid.policy."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer

from riskgrid.spec.errors import RiskgridError

FORMATS = ("text", "json", "sarif", "junit")
SEVERITY_CHOICES = ("low", "medium", "high", "critical")


def _config(path: Path | None):
    from riskgrid.policy.config import default_config, load_config

    return load_config(path) if path else default_config()


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    policy = typer.Typer(
        help="Rego guardrails: check, list, exceptions, export.", no_args_is_help=True
    )
    app.add_typer(policy, name="policy")

    @policy.command("check")
    def check(
        paths: Annotated[list[str], typer.Argument(help="Files, directories, or - for stdin.")],
        fmt: Annotated[str, typer.Option("--format", "-f", help="text|json|sarif|junit")] = "text",
        fail_on: Annotated[str, typer.Option(help="Lowest severity that fails (exit 1).")] = "low",
        config: Annotated[
            Path | None, typer.Option("--config", "-c", help="PolicyConfig file.")
        ] = None,
        exceptions: Annotated[
            list[Path] | None, typer.Option("--exceptions", "-e", help="PolicyException file(s).")
        ] = None,
        engine: Annotated[str, typer.Option(help="regorus (default) or regopy.")] = "regorus",
    ) -> None:
        """Check Kubernetes objects against the policy library."""
        from riskgrid.policy.check import check_documents
        from riskgrid.policy.gcpause import gc_paused
        from riskgrid.policy.inputs import read_inputs
        from riskgrid.policy.library import load_library
        from riskgrid.policy.report import render_json, render_junit, render_sarif, render_text
        from riskgrid.spec.exceptions import load_exceptions

        if fmt not in FORMATS:
            raise RiskgridError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        if fail_on not in SEVERITY_CHOICES:
            raise RiskgridError(f"--fail-on must be one of {', '.join(SEVERITY_CHOICES)}")
        cfg = _config(config)
        excs = load_exceptions(list(exceptions or []))
        # One pause over reading, checking and rendering: the parsed trees are never rescanned.
        with gc_paused():
            docs, errors = read_inputs(paths)
            report = check_documents(
                docs, config=cfg, exceptions=excs, engine=engine, errors=errors
            )
            if fmt == "text":
                out = render_text(report)
            elif fmt == "json":
                out = render_json(report)
            elif fmt == "junit":
                out = render_junit(report)
            else:
                rules = [
                    {
                        "id": p.id,
                        "name": p.title,
                        "shortDescription": {"text": p.title},
                        "fullDescription": {"text": p.rationale},
                        "help": {"text": p.remediation},
                    }
                    for p in load_library()
                ]
                out = render_sarif(report, rules)
        sys.stdout.write(out)
        raise typer.Exit(report.exit_code(fail_on))

    @policy.command("list")
    def list_(
        fmt: Annotated[str, typer.Option("--format", "-f", help="text|json")] = "text",
    ) -> None:
        """List the policies with severity, controls and the kinds they read."""
        import json

        from riskgrid.policy.library import load_library

        lib = load_library()
        if fmt == "json":
            rows = [
                {
                    "id": p.id,
                    "title": p.title,
                    "severity": p.severity,
                    "category": p.category,
                    "controls": list(p.controls),
                    "catalogue": list(p.catalogue),
                    "kinds": list(p.kinds),
                    "scope": p.scope,
                    "remediation": p.remediation,
                    "params": p.defaults,
                    "cases": len(p.cases),
                }
                for p in lib
            ]
            sys.stdout.write(json.dumps(rows, indent=2) + "\n")
            return
        for p in lib:
            sys.stdout.write(f"{p.id:12} {p.severity:8} {p.title}  [{', '.join(p.controls)}]\n")
        sys.stdout.write(f"{len(lib)} policies\n")

    @policy.command("exceptions")
    def exceptions_(
        files: Annotated[list[Path], typer.Argument(help="PolicyException file(s).")],
        today: Annotated[
            str | None, typer.Option(help="Evaluate as of this date (YYYY-MM-DD).")
        ] = None,
    ) -> None:
        """List exceptions with their scope, approver and days left."""
        from riskgrid.spec.exceptions import load_exceptions

        day = dt.date.fromisoformat(today) if today else dt.date.today()
        for e in load_exceptions(list(files)):
            s = e.spec.scope
            scope = ",".join(f"{k}={v}" for k, v in s.model_dump().items() if v is not None)
            left = e.days_left(day)
            state = f"{left} days left" if left >= 0 else f"EXPIRED {-left} days ago"
            sys.stdout.write(
                f"{e.metadata.name:30} {e.spec.policy:12} {state:22} approver={e.spec.approver} "
                f"scope[{scope}]\n"
            )

    @policy.command("export")
    def export(
        target: Annotated[str, typer.Option(help="gatekeeper or opa.")] = "gatekeeper",
        out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path(
            "gatekeeper"
        ),
        config: Annotated[Path | None, typer.Option("--config", "-c")] = None,
        exceptions: Annotated[list[Path] | None, typer.Option("--exceptions", "-e")] = None,
    ) -> None:
        """Export ConstraintTemplates + Constraints, or an OPA bundle."""
        from riskgrid.policy.export import export_gatekeeper, export_opa_bundle
        from riskgrid.spec.exceptions import load_exceptions

        cfg = _config(config)
        if target == "gatekeeper":
            files = export_gatekeeper(
                out, config=cfg, exceptions=load_exceptions(list(exceptions or []))
            )
        elif target == "opa":
            files = export_opa_bundle(out, config=cfg)
        else:
            raise RiskgridError(f"--target must be gatekeeper or opa, got {target!r}")
        sys.stdout.write(f"wrote {len(files)} files to {out}\n")

"""``riskgrid threats validate|verify|report|gate`` — thin shell over riskgrid.threats."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import typer

from riskgrid.spec.errors import RiskgridError
from riskgrid.threats import report as rp
from riskgrid.threats.gate import gate_failures
from riskgrid.threats.loader import load_floors
from riskgrid.threats.mutate import MUTATION_FILE
from riskgrid.threats.validate import validate
from riskgrid.threats.workflow import assess, verify

DEFAULT_MODEL = Path("threatmodel")
DEFAULT_EVIDENCE = Path("results/threats/evidence.json")
#: Committed mutation results (``riskgrid threats mutate``), used while their files are unchanged.
DEFAULT_MUTATION = DEFAULT_MODEL / MUTATION_FILE

_MODEL = typer.Option(DEFAULT_MODEL, "--model", help="Threat-model directory.")
_ROOT = typer.Option(Path("."), "--repo", help="Repository root (tests, policies, examples).")
_EVIDENCE = typer.Option(DEFAULT_EVIDENCE, "--evidence", help="Evidence JSON file.")
_TODAY = typer.Option(None, "--today", help="Date for exception expiry (default: today, UTC).")
_ALLOW_DIRTY = typer.Option(
    False,
    "--allow-dirty",
    help="Accept a dirty tree or no git checkout; the evidence and report are UNOFFICIAL.",
)
_TRUSTED_KEY = typer.Option(
    None,
    "--trusted-key",
    help="Ed25519 public key (PEM): require EVIDENCE.sig to be a valid signature by it.",
)


def _today(value: str | None) -> date:
    if value is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RiskgridError(f"--today: {value!r} is not a YYYY-MM-DD date") from None


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        # mkstemp makes the file private; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def register(app: typer.Typer) -> None:
    """Add ``threats`` and its subcommands to the root app."""
    threats = typer.Typer(
        help="The platform's threat model: validate, verify, report, gate.",
        no_args_is_help=True,
    )
    app.add_typer(threats, name="threats")

    @threats.command("validate")
    def validate_cmd(model: Path = _MODEL, repo: Path = _ROOT) -> None:
        """Schema-check the model and resolve every reference (exit 2 on any dangling one)."""
        v = validate(model, repo_root=repo)
        m = v.model
        typer.echo(
            f"ok: {len(m.threats)} threats, {len(m.controls)} controls, "
            f"{len(m.attack_trees)} attack trees, {len(v.verifications)} verifications resolved"
        )

    @threats.command("verify")
    def verify_cmd(
        model: Path = _MODEL,
        repo: Path = _ROOT,
        out: Path = typer.Option(DEFAULT_EVIDENCE, "--out", help="Evidence JSON to write."),
        junit: Path | None = typer.Option(
            None, "--junit", help="Ingest this JUnit XML instead of running the tests."
        ),
        allow_dirty: bool = _ALLOW_DIRTY,
    ) -> None:
        """Run (or read from JUnit XML) every verification; write per-control evidence.

        Exits 0 once the evidence is recorded, failures included: ``gate`` judges them.
        """
        evidence = verify(model, repo, out=out, junit=junit, allow_dirty=allow_dirty)
        bad = [r for r in evidence.verifications if r.outcome != "passed"]
        done = sum(rec.verified for rec in evidence.controls.values())
        typer.echo(
            f"{len(evidence.verifications) - len(bad)}/{len(evidence.verifications)} "
            f"verifications passed; {done}/{len(evidence.controls)} controls verified "
            f"on {(evidence.commit or 'no checkout')[:12]}{' (dirty)' if evidence.dirty else ''}"
            f"{'' if evidence.official else ' UNOFFICIAL'}; wrote {out}"
        )
        for r in bad:
            typer.echo(f"  {r.outcome}: {r.control} {r.ref}", err=True)

    @threats.command("report")
    def report_cmd(
        model: Path = _MODEL,
        repo: Path = _ROOT,
        evidence: Path = _EVIDENCE,
        fmt: str = typer.Option("html", "--format", help="md, html or json."),
        output: Path | None = typer.Option(None, "--output", "-o", help="File (default stdout)."),
        today: str | None = _TODAY,
        allow_dirty: bool = _ALLOW_DIRTY,
        trusted_key: Path | None = _TRUSTED_KEY,
    ) -> None:
        """Render the report: headline numbers, threats by residual risk, attack trees."""
        if fmt not in ("md", "html", "json"):
            raise RiskgridError(f"--format: must be md, html or json, not {fmt!r}")
        a = assess(
            model, repo, evidence_path=evidence if evidence.exists() else None,
            today=_today(today), allow_dirty=allow_dirty, trusted_key=trusted_key,
        )  # fmt: skip
        doc = a.report()
        text = {
            "md": lambda: rp.render_markdown(doc),
            "html": lambda: rp.render_html(doc, a.validated.model),
            "json": lambda: rp.render_json(doc) + "\n",
        }[fmt]()
        if output is None:
            typer.echo(text, nl=False)
        else:
            _write(output, text)
            typer.echo(f"wrote {output}", err=True)

    @threats.command("gate")
    def gate_cmd(
        model: Path = _MODEL,
        repo: Path = _ROOT,
        evidence: Path = _EVIDENCE,
        today: str | None = _TODAY,
        allow_dirty: bool = _ALLOW_DIRTY,
        trusted_key: Path | None = _TRUSTED_KEY,
    ) -> None:
        """Recompute every control from the model and the JUnit results the evidence binds;
        fail (exit 1) on a broken binding, a verification that did not pass, or a metric
        outside its floor."""
        a = assess(
            model, repo, evidence_path=evidence, today=_today(today),
            allow_dirty=allow_dirty, trusted_key=trusted_key,
        )  # fmt: skip
        if a.binding_problems or a.evidence is None:
            for p in a.binding_problems or ["no usable evidence"]:
                typer.echo(f"FAIL evidence {evidence}: {p}", err=True)
            typer.echo("gate: evidence refused; nothing counts as verified", err=True)
            raise typer.Exit(1)
        headline = a.metrics.headline()
        failures = gate_failures(headline, a.evidence, load_floors(model), a.mutation)
        for name, value in headline.items():
            typer.echo(f"{name}: {rp.fmt(name, value)}")
        if failures:
            for f in failures:
                typer.echo(f"FAIL {f}", err=True)
            raise typer.Exit(1)
        typer.echo("gate: pass" if a.official else "gate: pass (UNOFFICIAL: --allow-dirty)")

    @threats.command("mutate")
    def mutate_cmd(
        model: Path = _MODEL,
        repo: Path = _ROOT,
        control: list[str] = typer.Option(
            [], "--control", help="Only these controls (default: every one with code refs)."
        ),
        per_control: int = typer.Option(
            3, "--per-control", min=0, help="Fine-grained mutants sampled per control."
        ),
        out: Path = typer.Option(DEFAULT_MUTATION, "--out", help="Results JSON to write."),
    ) -> None:
        """Mutate each control's code and run its referenced tests: killed/survived per mutant.

        Results are written after each control, and existing results for other controls in OUT
        are kept, so a sample can grow run by run.
        """
        from riskgrid.threats.binding import tree_state
        from riskgrid.threats.mutate import (
            MutantResult,
            load_results,
            mutate_controls,
            mutation_targets,
            write_results,
        )

        validated = validate(model, repo_root=repo)

        def show(r: MutantResult) -> None:
            m = r.mutant
            typer.echo(f"  {r.outcome:8} {m.control} {m.operator:8} {m.file}:{m.line} "
                       f"{m.description} ({r.seconds:.1f} s)")  # fmt: skip

        commit = tree_state(repo).commit
        for cid in control or mutation_targets(validated.model):
            results = mutate_controls(
                validated, repo, controls=[cid], per_control=per_control, progress=show
            )
            if not results:
                typer.echo(f"{cid}: no code reference to mutate (or not implemented)")
                continue
            [r] = results  # one control asked for, one result
            kept = load_results(out, repo) if out.exists() else {}
            write_results([r], out, commit=commit, keep=kept)
            score = "n/a" if r.score is None else f"{r.score:.2f}"
            typer.echo(f"{r.control}: killed {r.killed}/{len(r.results)} (score {score})")
        typer.echo(f"wrote {out}")

    @threats.command("sign")
    def sign_cmd(
        evidence: Path = _EVIDENCE,
        key: Path = typer.Option(..., "--key", help="Ed25519 private key (PEM, unencrypted)."),
    ) -> None:
        """Sign the evidence file (writes EVIDENCE.sig); the gate checks it with --trusted-key."""
        from riskgrid.threats.binding import sign_file

        typer.echo(f"wrote {sign_file(evidence, key)}")

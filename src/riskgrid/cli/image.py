"""``riskgrid image verify|sign|keygen``: thin shells over :mod:`riskgrid.supply`."""

from __future__ import annotations

import datetime as dt
import json
import os
from enum import StrEnum
from pathlib import Path

import typer

from riskgrid.spec.errors import RiskgridError, SpecError


class Kind(StrEnum):
    provenance = "provenance"
    sbom = "sbom"
    vuln = "vuln"
    vex = "vex"


TRUST = typer.Option(..., "--trust-policy", help="TrustPolicy YAML file.")
EXCEPTIONS = typer.Option(
    [], "--exceptions", help="PolicyException files (RG-IMG-005 exceptions accept named CVEs)."
)


def _read_json(path: Path) -> object:
    from riskgrid.spec.loading import read_text

    try:
        return json.loads(read_text(path))
    except ValueError as exc:
        raise SpecError.one(str(path), f"not valid JSON: {exc}") from None


def register(app: typer.Typer) -> None:
    image_app = typer.Typer(
        help="Verify images (signature, SBOM, scan) against a trust policy; sign them (dev).",
        no_args_is_help=True,
    )
    app.add_typer(image_app, name="image")

    @image_app.command("verify")
    def verify(
        images: list[str] = typer.Argument(..., help="Image references (tag and/or digest)."),
        trust_policy: Path = TRUST,
        exceptions: list[Path] = EXCEPTIONS,
        tenant: str = typer.Option(None, "--tenant", help="Tenant the images run for."),
        namespace: str = typer.Option(None, "--namespace", help="Namespace (for exceptions)."),
        as_json: bool = typer.Option(False, "--json", help="Decisions as JSON."),
    ) -> None:
        """Resolve each image to its digest and verify it; exit 1 if any is refused."""
        from riskgrid.supply.setup import gate_from_files

        gate = gate_from_files(trust_policy, exceptions)
        try:
            decisions = gate.verify_many(images, tenant=tenant, namespace=namespace)
        finally:
            gate.close()
        if as_json:
            typer.echo(json.dumps([d.to_dict() for d in decisions], indent=2))
        else:
            for d in decisions:
                if d.allowed:
                    typer.echo(
                        f"ALLOWED {d.image} -> {d.pinned} (rule {d.trust_rule}, "
                        f"signed by {d.signer})"
                    )
                    for note in d.notes:
                        typer.echo(f"  note: {note}")
                else:
                    for m in d.messages():
                        typer.echo(f"REFUSED {m}")
        if not all(d.allowed for d in decisions):
            raise typer.Exit(1)

    @image_app.command("sign")
    def sign(
        image: str = typer.Argument(..., help="Image reference to attest (tag or digest)."),
        key: Path = typer.Option(..., "--key", help="PEM private key (Ed25519/ECDSA), dev only."),
        kind: Kind = typer.Option(Kind.provenance, "--type", help="What to attest."),
        predicate: Path = typer.Option(
            None,
            "--predicate",
            help="JSON: CycloneDX SBOM (sbom), scanner output (vuln), CycloneDX VEX (vex), "
            "SLSA provenance (provenance; default: a minimal one).",
        ),
        scanner: str = typer.Option(
            "pkg:github/aquasecurity/trivy", "--scanner", help="Scanner purl (vuln)."
        ),
        scanned_at: str = typer.Option(None, "--scanned-at", help="ISO time of the scan (vuln)."),
        builder: str = typer.Option("riskgrid-dev", "--builder", help="Builder id (provenance)."),
        plain_http: bool = typer.Option(False, "--plain-http", help="Loopback registries only."),
        timeout: float = typer.Option(10.0, "--timeout", help="Seconds per registry request."),
    ) -> None:
        """Sign an in-toto statement over the image's digest (DSSE) and attach it as a referrer."""
        from riskgrid.supply import attest, dsse
        from riskgrid.supply.refs import parse_ref
        from riskgrid.supply.registry import RegistryClient

        private = dsse.load_private_key(key.read_bytes())
        ref = parse_ref(image)
        if kind is Kind.provenance:
            body = _read_json(predicate) if predicate else attest.provenance(builder, image)
        elif predicate is None:
            raise RiskgridError(f"--type {kind.value} needs --predicate FILE")
        elif kind is Kind.vuln:
            when = dt.datetime.now(dt.UTC)
            if scanned_at:
                try:
                    when = dt.datetime.fromisoformat(scanned_at.replace("Z", "+00:00"))
                except ValueError:
                    raise RiskgridError(f"--scanned-at {scanned_at!r}: not an ISO time") from None
            body = attest.vuln_report(scanner, _read_json(predicate), when)
        else:
            body = _read_json(predicate)
        with RegistryClient(ref.host, plain_http=plain_http, timeout=timeout) as client:
            digest, referrer = attest.attach_attestation(
                client, image, attest.PREDICATES[kind.value], body, private
            )
        typer.echo(f"attached {kind.value} attestation {referrer} to {ref.repository}@{digest}")

    @image_app.command("provider")
    def provider(
        trust_policy: Path = TRUST,
        exceptions: list[Path] = EXCEPTIONS,
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        port: int = typer.Option(8090, "--port", help="Port."),
        certfile: Path = typer.Option(None, "--tls-cert", help="TLS certificate (Gatekeeper)."),
        keyfile: Path = typer.Option(None, "--tls-key", help="TLS private key."),
    ) -> None:
        """Serve the gate as a Gatekeeper external data provider (POST /validate)."""
        import uvicorn

        from riskgrid.supply.provider import provider_app
        from riskgrid.supply.setup import gate_from_files

        if (certfile is None) != (keyfile is None):
            raise RiskgridError("--tls-cert and --tls-key go together")
        app = provider_app(gate_from_files(trust_policy, exceptions))
        uvicorn.run(
            app,
            host=host,
            port=port,
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None,
            log_level="warning",
            server_header=False,
        )

    @image_app.command("keygen")
    def keygen(
        out: Path = typer.Option(..., "-o", "--out", help="Private key file (mode 0600)."),
    ) -> None:
        """A dev/test Ed25519 key pair: OUT (private) and OUT.pub (for the TrustPolicy)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519

        if out.exists():
            raise RiskgridError(f"{out}: exists; refusing to overwrite a key")
        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        pub = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        Path(f"{out}.pub").write_bytes(pub)
        typer.echo(f"wrote {out} and {out}.pub")

"""The signing side, for pipelines and tests: attach signed in-toto attestations to an image.

``riskgrid image sign`` is this module: resolve the image to its digest, wrap a predicate in an
in-toto Statement over that digest, sign it (DSSE) and push it as an OCI referrer of the image.
A production pipeline does the same with its own tooling and a key held in a KMS/HSM
(docs/supply-chain.md); the key here is a PEM file, which suits dev and tests only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from riskgrid.supply import dsse, vulns
from riskgrid.supply.gate import ATTESTATION_ARTIFACT, PROVENANCE_PREDICATE
from riskgrid.supply.refs import parse_ref
from riskgrid.supply.registry import RegistryClient

#: Short names the CLI takes for the predicate types the gate reads.
PREDICATES = {
    "provenance": PROVENANCE_PREDICATE,
    "sbom": "https://cyclonedx.org/bom",
    "vuln": vulns.VULN_PREDICATE,
    "vex": vulns.VEX_PREDICATE,
}


def provenance(builder: str, repository: str) -> dict[str, Any]:
    """A minimal SLSA v1 provenance predicate (who built it, from what)."""
    return {
        "buildDefinition": {
            "buildType": "https://riskgrid.dev/build/v1",
            "externalParameters": {"repository": repository},
        },
        "runDetails": {"builder": {"id": builder}},
    }


def vuln_report(scanner_uri: str, result: Any, finished: dt.datetime) -> dict[str, Any]:
    """cosign's vuln/v1 predicate around a scanner's own JSON output."""
    stamp = finished.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return {
        "invocation": {"uri": "", "event_id": "", "builder.id": ""},
        "scanner": {"uri": scanner_uri, "version": "", "result": result},
        "metadata": {"scanStartedOn": stamp, "scanFinishedOn": stamp},
    }


def attach_attestation(
    client: RegistryClient,
    image: str,
    predicate_type: str,
    predicate: Any,
    private_key: Any,
    *,
    subject_digest: str | None = None,
) -> tuple[str, str]:
    """Sign and attach; returns (image digest, referrer digest).

    ``subject_digest`` signs a statement over another digest while attaching it to this image
    (only tests want that: it is how a replayed signature looks).
    """
    ref = parse_ref(image)
    manifest = client.manifest(ref.path, ref.digest or ref.tag or "")
    stmt = dsse.statement(
        ref.repository, subject_digest or manifest.digest, predicate_type, predicate
    )
    envelope = dsse.sign_envelope(stmt, private_key)
    referrer = client.attach(
        ref.path,
        manifest,
        ATTESTATION_ARTIFACT,
        dsse.ENVELOPE_MEDIA_TYPE,
        envelope,
        {"dev.riskgrid.predicateType": predicate_type},
    )
    return manifest.digest, referrer

"""Building real test images (oras) and attaching real signed attestations to them."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from riskgrid.spec.trust import TrustPolicy
from riskgrid.supply import attest
from riskgrid.supply.registry import RegistryClient

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
NOW = dt.datetime.now(dt.UTC)

BASE_COMPONENTS = [
    {"type": "library", "name": "numpy", "version": "1.26.4", "purl": "pkg:pypi/numpy@1.26.4"},
    {
        "type": "library",
        "name": "ray",
        "version": "2.9.3",
        "purl": "pkg:pypi/ray@2.9.3",
        "components": [
            {"type": "library", "name": "grpcio", "purl": "pkg:pypi/grpcio@1.60.0"},
        ],
    },
]


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_image(host: str, repo: str, tag: str, content: bytes) -> str:
    """A real OCI image (one gzip'd tar layer holding ``content``), pushed with oras."""
    import oras.container
    import oras.provider

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        info = tarfile.TarInfo("opt/riskgrid/build.txt")
        info.size = len(content)
        info.mtime = 0
        tf.addfile(info, io.BytesIO(content))
    layer_bytes = gzip.compress(raw.getvalue(), mtime=0)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"User": "1000", "Entrypoint": ["/opt/riskgrid/worker"]},
        "rootfs": {"type": "layers", "diff_ids": [_sha(raw.getvalue())]},
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    client = oras.provider.Registry(hostname=host, insecure=True)
    target = oras.container.Container(f"{host}/{repo}:{tag}")
    with tempfile.TemporaryDirectory() as tmp:
        layer_path, config_path = Path(tmp, "layer.tar.gz"), Path(tmp, "config.json")
        layer_path.write_bytes(layer_bytes)
        config_path.write_bytes(config_bytes)
        layer = {"mediaType": OCI_LAYER, "digest": _sha(layer_bytes), "size": len(layer_bytes)}
        conf = {"mediaType": OCI_CONFIG, "digest": _sha(config_bytes), "size": len(config_bytes)}
        for path, desc in ((layer_path, layer), (config_path, conf)):
            resp = client.upload_blob(str(path), target, desc)
            assert resp.status_code in (200, 201), resp.text
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": conf,
            "layers": [layer],
        }
        resp = client.upload_manifest(manifest, target)
        assert resp.status_code == 201, resp.text
        return resp.headers["Docker-Content-Digest"]


def sbom(components: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "components": components if components is not None else BASE_COMPONENTS,
    }


def trivy(findings: list[tuple[str, str]]) -> dict[str, Any]:
    """A Trivy JSON report (schema 2) with (id, SEVERITY) findings."""
    return {
        "SchemaVersion": 2,
        "ArtifactName": "test-image",
        "ArtifactType": "container_image",
        "Results": [
            {
                "Target": "python-pkg",
                "Class": "lang-pkgs",
                "Type": "python-pkg",
                "Vulnerabilities": [
                    {
                        "VulnerabilityID": cve,
                        "PkgName": "pyyaml",
                        "InstalledVersion": "5.3",
                        "Severity": sev.upper(),
                    }
                    for cve, sev in findings
                ],
            }
        ],
    }


def grype(findings: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "matches": [
            {
                "vulnerability": {"id": cve, "severity": sev.capitalize()},
                "artifact": {"name": "openssl", "version": "3.0.1", "purl": "pkg:deb/openssl"},
            }
            for cve, sev in findings
        ],
        "descriptor": {"name": "grype", "version": "0.74.0"},
    }


def cyclonedx_vulns(findings: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "vulnerabilities": [
            {"id": cve, "ratings": [{"severity": sev.lower()}], "affects": [{"ref": "pkg:pypi/x"}]}
            for cve, sev in findings
        ],
    }


def vex(not_affected: list[str]) -> dict[str, Any]:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "vulnerabilities": [
            {
                "id": cve,
                "analysis": {"state": "not_affected", "justification": "code_not_reachable"},
                "affects": [{"ref": "pkg:pypi/pyyaml@5.3"}],
            }
            for cve in not_affected
        ],
    }


SCANNERS = {
    "trivy": ("pkg:github/aquasecurity/trivy@0.50.0", trivy),
    "grype": ("pkg:github/anchore/grype@0.74.0", grype),
    "cyclonedx": ("pkg:github/CycloneDX/cyclonedx-cli@0.25.0", cyclonedx_vulns),
}


def sign(
    host: str,
    image: str,
    kind: str,
    key: Any,
    predicate: Any = None,
    *,
    subject_digest: str | None = None,
) -> str:
    if predicate is None and kind == "provenance":
        predicate = attest.provenance("https://ci.riskgrid.example/pipeline", image)
    with RegistryClient(host, plain_http=True, timeout=10) as client:
        return attest.attach_attestation(
            client,
            image,
            attest.PREDICATES[kind],
            predicate,
            key,
            subject_digest=subject_digest,
        )[1]


def release(
    host: str,
    repo: str,
    tag: str,
    keys: Any,
    *,
    components: list[dict[str, Any]] | None = None,
    findings: list[tuple[str, str]] = (),  # type: ignore[assignment]
    scanner: str = "trivy",
    scanned: dt.datetime | None = None,
    with_sbom: bool = True,
    with_signature: bool = True,
    with_scan: bool = True,
) -> str:
    """Push an image and attach what a good pipeline attaches; returns the digest."""
    digest = push_image(host, repo, tag, f"{repo}:{tag}:{NOW.isoformat()}".encode())
    image = f"{host}/{repo}@{digest}"
    if with_signature:
        sign(host, image, "provenance", keys.pipeline)
    if with_sbom:
        sign(host, image, "sbom", keys.pipeline, sbom(components))
    if with_scan:
        uri, make = SCANNERS[scanner]
        report = attest.vuln_report(uri, make(list(findings)), scanned or NOW)
        sign(host, image, "vuln", keys.scanner, report)
    return digest


def trust_policy(
    host: str, keys: Any, *, timeout: str = "3s", cache_ttl: str = "10m", **rule: Any
) -> TrustPolicy:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    def pem(k: Any) -> str:
        return k.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()

    base_rule = {
        "name": "desk-images",
        "repositories": [f"{host}/riskgrid"],
        "keys": ["pipeline", "scanner"],
        "bannedComponents": [
            {"purl": "pkg:pypi/pyyaml@5.*", "reason": "unsafe yaml.load (CVE-2020-14343)"}
        ],
        "vulnerabilities": {"threshold": "high", "maxAge": "7d"},
    }
    base_rule.update(rule)
    doc = {
        "apiVersion": "riskgrid.dev/v1alpha1",
        "kind": "TrustPolicy",
        "metadata": {"name": "platform"},
        "spec": {
            "keys": [
                {"name": "pipeline", "publicKey": pem(keys.pipeline)},
                {"name": "scanner", "publicKey": pem(keys.scanner)},
            ],
            "rules": [base_rule],
            "plainHttp": [host],
            "cacheTtl": cache_ttl,
            "timeout": timeout,
        },
    }
    return TrustPolicy.model_validate(doc)

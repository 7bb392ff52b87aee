"""The image gate against a real registry (Debian's docker-registry, distribution 2.8).

Images are real OCI manifests with a gzip'd tar layer, pushed with oras; their signature, SBOM
and scan report are DSSE-signed in-toto statements attached as OCI referrers (through the
referrers tag schema: this registry has no referrers API). One case per kind of bad input.
"""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from supply_helpers import (
    NOW,
    push_image,
    release,
    sign,
    trust_policy,
    vex,
)

from riskgrid.spec.exceptions import PolicyException
from riskgrid.supply.gate import Gate, external_data
from riskgrid.supply.registry import RegistryClient


def _verify(registry, keys, image, *, tenant=None, namespace=None, exceptions=(), **rule):
    gate = Gate(trust_policy(registry.host, keys, **rule), exceptions=exceptions)
    try:
        return gate.verify(image, tenant=tenant, namespace=namespace)
    finally:
        gate.close()


def _rules(decision) -> list[str]:
    return [r.rule for r in decision.reasons]


def test_signed_image_with_sbom_and_fresh_scan_is_allowed_and_pinned(registry, keys):
    digest = release(registry.host, "riskgrid/ray-good", "2.9.3", keys)
    d = _verify(registry, keys, f"{registry.host}/riskgrid/ray-good:2.9.3")
    assert d.allowed, d.messages()
    assert d.digest == digest  # the tag was resolved against the registry
    assert d.pinned == f"{registry.host}/riskgrid/ray-good@{digest}"
    assert d.signer == "pipeline" and d.trust_rule == "desk-images"
    # distribution 2.8 has no referrers API: they were found through the sha256-<hex> tag index
    with RegistryClient(registry.host, plain_http=True) as c:
        refs = c.referrers("riskgrid/ray-good", digest)
        assert c.referrers_api is False
    assert len(refs) == 3
    assert {r["artifactType"] for r in refs} == {"application/vnd.dsse.envelope.v1+json"}


def test_unsigned_image_is_refused(registry, keys):
    digest = release(registry.host, "riskgrid/unsigned", "1", keys, with_signature=False)
    d = _verify(registry, keys, f"{registry.host}/riskgrid/unsigned@{digest}")
    assert not d.allowed
    assert _rules(d) == ["signature"]
    assert d.messages()[0].startswith(f"{registry.host}/riskgrid/unsigned@{digest}: rule signature")


def test_signature_by_an_untrusted_key_is_refused(registry, keys):
    digest = release(registry.host, "riskgrid/stranger", "1", keys, with_signature=False)
    image = f"{registry.host}/riskgrid/stranger@{digest}"
    sign(registry.host, image, "provenance", keys.stranger)
    d = _verify(registry, keys, image)
    assert _rules(d) == ["signature"]
    assert "1 signed by untrusted keys" in d.reasons[0].message


def test_signature_over_another_digest_is_refused(registry, keys):
    other = release(registry.host, "riskgrid/replayed-src", "1", keys)
    digest = release(registry.host, "riskgrid/replayed", "1", keys, with_signature=False)
    image = f"{registry.host}/riskgrid/replayed@{digest}"
    # a genuine pipeline signature, but over another image's digest, attached to this one
    sign(registry.host, image, "provenance", keys.pipeline, subject_digest=other)
    d = _verify(registry, keys, image)
    assert _rules(d) == ["signature"]
    assert other in d.reasons[0].message and "not over this image" in d.reasons[0].message


def test_a_tag_moved_after_signing_is_refused(registry, keys):
    host = registry.host
    signed = release(host, "riskgrid/moved", "prod", keys)
    assert _verify(registry, keys, f"{host}/riskgrid/moved:prod").allowed
    # someone re-pushes the tag with other content and no signature
    moved = push_image(host, "riskgrid/moved", "prod", b"swapped content")
    assert moved != signed
    by_tag = _verify(registry, keys, f"{host}/riskgrid/moved:prod")
    assert not by_tag.allowed and by_tag.digest == moved
    assert "signature" in _rules(by_tag)
    pinned = _verify(registry, keys, f"{host}/riskgrid/moved:prod@{signed}")
    assert _rules(pinned) == ["tag"]
    assert f"now points at {moved}, not the pinned {signed}" in pinned.reasons[0].message


def test_a_truncated_attestation_is_refused(registry, keys):
    digest = release(registry.host, "riskgrid/truncated", "1", keys)
    image = f"{registry.host}/riskgrid/truncated@{digest}"
    with RegistryClient(registry.host, plain_http=True) as c:
        subject = c.manifest("riskgrid/truncated", digest)
        envelope = b'{"payloadType":"application/vnd.in-toto+json","payload":"eyJfdHlwZSI6'
        c.attach(
            "riskgrid/truncated",
            subject,
            "application/vnd.dsse.envelope.v1+json",
            "application/vnd.dsse.envelope.v1+json",
            envelope,
        )
    d = _verify(registry, keys, image)
    assert _rules(d) == ["attestation"]
    assert "envelope is not JSON" in d.reasons[0].message


def test_a_malformed_signed_attestation_is_refused(registry, keys):
    digest = release(registry.host, "riskgrid/malformed", "1", keys)
    image = f"{registry.host}/riskgrid/malformed@{digest}"
    # validly signed, but the SBOM predicate is not CycloneDX
    sign(registry.host, image, "sbom", keys.pipeline, {"spdxVersion": "SPDX-2.3"})
    d = _verify(registry, keys, image)
    assert _rules(d) == ["attestation"]
    assert "not a CycloneDX JSON document" in d.reasons[0].message


def test_an_sbom_with_a_banned_component_is_refused(registry, keys):
    components = [{"type": "library", "name": "pyyaml", "purl": "pkg:pypi/pyyaml@5.3.1"}]
    digest = release(registry.host, "riskgrid/banned", "1", keys, components=components)
    d = _verify(registry, keys, f"{registry.host}/riskgrid/banned@{digest}")
    assert _rules(d) == ["banned-component"]
    assert "pkg:pypi/pyyaml@5.3.1" in d.reasons[0].message
    assert "pkg:pypi/pyyaml@5.*" in d.reasons[0].message


def test_a_missing_sbom_is_refused_unless_the_rule_waives_it(registry, keys):
    digest = release(registry.host, "riskgrid/no-sbom", "1", keys, with_sbom=False)
    image = f"{registry.host}/riskgrid/no-sbom@{digest}"
    assert _rules(_verify(registry, keys, image)) == ["sbom"]
    assert _verify(registry, keys, image, requireSbom=False).allowed


def test_a_report_older_than_allowed_is_refused(registry, keys):
    old = NOW - dt.timedelta(days=8)
    digest = release(registry.host, "riskgrid/stale", "1", keys, scanned=old)
    image = f"{registry.host}/riskgrid/stale@{digest}"
    d = _verify(registry, keys, image)
    assert _rules(d) == ["report-age"]
    assert "over maxAge 7d" in d.reasons[0].message
    assert _verify(registry, keys, image, vulnerabilities={"maxAge": "9d"}).allowed


def test_no_scan_report_is_refused(registry, keys):
    digest = release(registry.host, "riskgrid/unscanned", "1", keys, with_scan=False)
    d = _verify(registry, keys, f"{registry.host}/riskgrid/unscanned@{digest}")
    assert _rules(d) == ["vulnerability-report"]


@pytest.mark.parametrize("scanner", ["trivy", "grype", "cyclonedx"])
def test_findings_at_or_above_the_threshold_are_refused_in_every_report_format(
    registry, keys, scanner
):
    findings = [("CVE-2024-0001", "critical"), ("CVE-2024-0002", "medium")]
    digest = release(
        registry.host, f"riskgrid/vuln-{scanner}", "1", keys, findings=findings, scanner=scanner
    )
    image = f"{registry.host}/riskgrid/vuln-{scanner}@{digest}"
    d = _verify(registry, keys, image)
    assert _rules(d) == ["vulnerability"]
    assert "CVE-2024-0001 (critical)" in d.reasons[0].message
    # the medium finding is under the threshold; lowering it refuses that one too
    low = _verify(registry, keys, image, vulnerabilities={"threshold": "medium"})
    assert sorted(r.message.split()[0] for r in low.reasons) == ["CVE-2024-0001", "CVE-2024-0002"]


def test_vex_not_affected_statements_are_honoured(registry, keys):
    digest = release(
        registry.host, "riskgrid/vexed", "1", keys, findings=[("CVE-2024-1111", "high")]
    )
    image = f"{registry.host}/riskgrid/vexed@{digest}"
    assert _rules(_verify(registry, keys, image)) == ["vulnerability"]
    sign(registry.host, image, "vex", keys.pipeline, vex(["CVE-2024-1111"]))
    d = _verify(registry, keys, image)
    assert d.allowed, d.messages()
    assert any("CVE-2024-1111" in n and "VEX" in n for n in d.notes)


def _exception(image: str, cves: list[str], expires: dt.date, name: str = "accept-cve"):
    return PolicyException.model_validate(
        {
            "apiVersion": "riskgrid.dev/v1alpha1",
            "kind": "PolicyException",
            "metadata": {"name": name},
            "spec": {
                "policy": "RG-IMG-005",
                "scope": {"namespace": "fx-options", "image": image, "cves": cves},
                "justification": "Fix ships in the next base image; not reachable from pricers.",
                "approver": "ciso-delegate",
                "expires": expires.isoformat(),
            },
        }
    )


def test_a_policy_exception_covers_that_cve_for_that_image_only(registry, keys):
    host = registry.host
    findings = [("CVE-2024-2222", "high")]
    digest = release(host, "riskgrid/excepted", "1", keys, findings=findings)
    other = release(host, "riskgrid/excepted-other", "1", keys, findings=findings)
    image = f"{host}/riskgrid/excepted@{digest}"
    tomorrow = NOW.date() + dt.timedelta(days=1)
    exc = _exception(image, ["CVE-2024-2222"], tomorrow)
    d = _verify(registry, keys, image, namespace="fx-options", exceptions=[exc])
    assert d.allowed, d.messages()
    assert any("accepted by PolicyException accept-cve" in n for n in d.notes)
    # not for another image, another namespace, another CVE, or once expired
    elsewhere = f"{host}/riskgrid/excepted-other@{other}"
    assert not _verify(registry, keys, elsewhere, namespace="fx-options", exceptions=[exc]).allowed
    assert not _verify(registry, keys, image, namespace="rates", exceptions=[exc]).allowed
    wrong_cve = _exception(image, ["CVE-2024-9999"], tomorrow)
    assert not _verify(
        registry, keys, image, namespace="fx-options", exceptions=[wrong_cve]
    ).allowed
    expired = _exception(image, ["CVE-2024-2222"], NOW.date() - dt.timedelta(days=1))
    assert not _verify(registry, keys, image, namespace="fx-options", exceptions=[expired]).allowed


def test_an_unsigned_third_party_image_is_refused_before_any_registry_call(registry, keys):
    digest = push_image(registry.host, "thirdparty/redis", "7", b"redis")
    d = _verify(registry, keys, f"{registry.host}/thirdparty/redis@{digest}")
    assert _rules(d) == ["trust-policy"]
    assert f"covers repository {registry.host}/thirdparty/redis" in d.reasons[0].message
    # and a look-alike path segment is not covered by the riskgrid prefix
    look_alike = _verify(registry, keys, f"{registry.host}/riskgrid-evil/x@{digest}")
    assert _rules(look_alike) == ["trust-policy"]


def test_rules_scoped_to_tenants(registry, keys):
    digest = release(registry.host, "riskgrid/desk-only", "1", keys)
    image = f"{registry.host}/riskgrid/desk-only@{digest}"
    assert _verify(registry, keys, image, tenant="fx-options", tenants=["fx-options"]).allowed
    d = _verify(registry, keys, image, tenant="rates", tenants=["fx-options"])
    assert _rules(d) == ["trust-policy"] and "for tenant 'rates'" in d.reasons[0].message


def test_gate_verdicts_reach_the_rego_library_as_external_data(registry, keys, repo_root):
    """RG-IMG-005 refuses the rendered RayCluster whose digest the gate refused, with the
    gate's reason, and passes the one it verified: the same Rego that exports to Gatekeeper."""
    from riskgrid.policy.check import check_objects
    from riskgrid.policy.config import PolicyConfig
    from riskgrid.spec.tenant import Tenant
    from riskgrid.tenancy.render import render_tenant

    host = registry.host
    good = release(host, "riskgrid/rego-good", "1", keys)
    bad = release(host, "riskgrid/rego-bad", "1", keys, with_signature=False)
    doc = yaml.safe_load((repo_root / "examples/tenants/fx-options.yaml").read_text())
    results = {}
    gate = Gate(trust_policy(host, keys))
    for name, digest, repo in (("good", good, "rego-good"), ("bad", bad, "rego-bad")):
        doc["spec"]["ray"]["image"] = f"{host}/riskgrid/{repo}@{digest}"
        doc["spec"]["images"]["allowed"] = [f"{host}/riskgrid"]
        tenant = Tenant.model_validate(doc)
        decision = gate.verify(tenant.spec.ray.image, tenant=tenant.name)
        config = PolicyConfig.model_validate(
            {
                "apiVersion": "riskgrid.dev/v1alpha1",
                "kind": "PolicyConfig",
                "metadata": {"name": "gate"},
                "spec": {
                    "parameters": {
                        "RG-IMG-005": {"enforce": True, "images": external_data([decision])}
                    }
                },
            }
        )
        clusters = [o for o in render_tenant(tenant) if o["kind"] == "RayCluster"]
        report = check_objects(clusters, config=config)
        results[name] = [v for v in report.violations if v.policy_id == "RG-IMG-005"]
    gate.close()
    assert results["good"] == []
    assert results["bad"], "the unsigned image's RayCluster must be refused"
    assert all("signature: no provenance signature" in v.message for v in results["bad"])

"""The gate's pure parts: references, DSSE, the trust policy resource, report parsers."""

from __future__ import annotations

import base64
import json

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from supply_helpers import cyclonedx_vulns, grype, trivy

from riskgrid.spec.errors import SpecError
from riskgrid.spec.trust import load_trust_policy
from riskgrid.supply import dsse, vulns
from riskgrid.supply.cache import VerdictCache
from riskgrid.supply.refs import ReferenceError_, parse_ref


def test_pae_matches_the_dsse_specification_example():
    assert dsse.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


@pytest.mark.parametrize("curve", ["ed25519", "p256", "p384"])
def test_envelope_verifies_only_untampered_and_only_with_the_trusted_key(curve):
    make = {
        "ed25519": ed25519.Ed25519PrivateKey.generate,
        "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    }[curve]
    key, other = make(), make()
    stmt = dsse.statement("reg.example/riskgrid/ray", "sha256:" + "a" * 64, "x", {"k": 1})
    raw = dsse.sign_envelope(stmt, key)
    opened = dsse.open_envelope(raw, {"pipeline": key.public_key()})
    assert opened.signer == "pipeline" and opened.statement == stmt
    assert dsse.subject_digests(opened.statement) == {"sha256:" + "a" * 64}
    with pytest.raises(dsse.AttestationError, match="no signature verifies"):
        dsse.open_envelope(raw, {"other": other.public_key()})
    env = json.loads(raw)
    stmt["subject"][0]["digest"]["sha256"] = "b" * 64  # the payload changed after signing
    env["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    with pytest.raises(dsse.AttestationError, match="no signature verifies"):
        dsse.open_envelope(json.dumps(env).encode(), {"pipeline": key.public_key()})
    env["payloadType"] = "text/plain"
    with pytest.raises(dsse.AttestationError, match="payloadType"):
        dsse.open_envelope(json.dumps(env).encode(), {"pipeline": key.public_key()})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5000/riskgrid/ray:2.9", ("127.0.0.1:5000", "riskgrid/ray", "2.9", None)),
        (
            "reg.example/a/b:1@sha256:" + "c" * 64,
            ("reg.example", "a/b", "1", "sha256:" + "c" * 64),
        ),
        ("localhost/x@sha256:" + "d" * 64, ("localhost", "x", None, "sha256:" + "d" * 64)),
    ],
)
def test_references_parse(text, expected):
    r = parse_ref(text)
    assert (r.host, r.path, r.tag, r.digest) == expected


@pytest.mark.parametrize(
    "text",
    [
        "python:3.12",
        "library/python:3.12",
        "reg.example/UPPER:1",
        "reg.example/a",
        "reg.example/a@sha256:abc",
    ],
)
def test_references_without_explicit_registry_or_pin_are_refused(text):
    with pytest.raises(ReferenceError_):
        parse_ref(text)


def _policy_doc() -> dict:
    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return {
        "apiVersion": "riskgrid.dev/v1alpha1",
        "kind": "TrustPolicy",
        "metadata": {"name": "p"},
        "spec": {
            "keys": [{"name": "pipeline", "publicKey": pem}],
            "rules": [
                {"name": "all", "repositories": ["reg.example/riskgrid"], "keys": ["pipeline"]},
                {
                    "name": "desk",
                    "repositories": ["reg.example/riskgrid/fx"],
                    "tenants": ["fx-options"],
                    "keys": ["pipeline"],
                },
            ],
        },
    }


def test_trust_policy_most_specific_rule_wins(tmp_path):
    path = tmp_path / "tp.yaml"
    path.write_text(yaml.safe_dump(_policy_doc()))
    tp = load_trust_policy(path)
    assert tp.rule_for("reg.example/riskgrid/fx/ray", "fx-options").name == "desk"
    assert tp.rule_for("reg.example/riskgrid/fx/ray", "rates").name == "all"
    assert tp.rule_for("reg.example/riskgrid-evil/ray", None) is None


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        (lambda d: d["spec"]["rules"][0].update(keys=["ghost"]), "spec", "unknown keys: ghost"),
        (
            lambda d: d["spec"]["keys"][0].update(publicKey="not a key"),
            "spec.keys[0]",
            "not a PEM public key",
        ),
        (
            lambda d: d["spec"]["rules"][0].update(vulnerabilities={"maxAge": "7 days"}),
            "spec.rules[0].vulnerabilities",
            "not a duration",
        ),
        (lambda d: d["spec"].update(cacheTtl="soon"), "spec", "not a duration"),
        (lambda d: d["spec"]["rules"][0].update(extra=1), "spec.rules[0].extra", "not permitted"),
    ],
)
def test_bad_trust_policy_names_file_field_and_reason(tmp_path, change, where, reason):
    doc = _policy_doc()
    change(doc)
    path = tmp_path / "tp.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(SpecError) as info:
        load_trust_policy(path)
    text = str(info.value)
    assert f"{path}: {where}" in text and reason in text


def test_report_parsers_agree_on_the_same_findings():
    findings = [("CVE-1", "critical"), ("CVE-2", "low"), ("GHSA-x", "weird")]
    for doc in (trivy(findings), grype(findings), cyclonedx_vulns(findings)):
        report = vulns.parse_vuln_predicate(
            {"scanner": {"result": doc}, "metadata": {"scanFinishedOn": "2026-11-29T08:00:00Z"}}
        )
        assert [(f.id, f.severity) for f in report.findings] == [
            ("CVE-1", "critical"),
            ("CVE-2", "low"),
            ("GHSA-x", "unknown"),  # unrated: below every threshold, but listed
        ]
    with pytest.raises(dsse.AttestationError, match="neither Trivy"):
        vulns.parse_vuln_predicate(
            {"scanner": {"result": {"x": 1}}, "metadata": {"scanFinishedOn": "2026-11-29T08:00Z"}}
        )
    with pytest.raises(dsse.AttestationError, match="no time zone"):
        vulns.parse_vuln_predicate(
            {"scanner": {"result": trivy([])}, "metadata": {"scanFinishedOn": "2026-11-29T08:00"}}
        )


def test_cache_expires_and_stays_bounded():
    import datetime as dt

    now = [dt.datetime(2026, 11, 29, tzinfo=dt.UTC)]
    cache = VerdictCache(60, max_entries=2, clock=lambda: now[0])
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)  # "a" is pushed out
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, 2, 3)
    now[0] += dt.timedelta(seconds=61)
    assert cache.get("b") is None and len(cache) == 1

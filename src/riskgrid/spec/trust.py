"""``TrustPolicy``: which images the platform will run, and what it must be able to prove of them.

One resource for the platform (``riskgrid schema TrustPolicy``). Each rule covers a set of
repositories (registry/repository prefixes, whole path segments) and optionally only some
tenants; the most specific matching rule decides. An image no rule covers is refused: a
third-party image is never trusted by default. A rule names the public keys whose DSSE
signatures count for those repositories, whether an SBOM attestation is required, which
components are banned (purl patterns), and the vulnerability threshold and maximum report age.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from riskgrid.spec.base import DnsLabel, Resource, Strict
from riskgrid.spec.loading import load_resource
from riskgrid.spec.tenant import RegistryPrefix

__all__ = ["SEVERITIES", "TrustKey", "TrustPolicy", "TrustRule", "load_trust_policy"]

#: Severity order, lowest first; ``unknown`` sits below ``low`` (a scanner that could not rate
#: a finding does not block at the default threshold, and says so in the report).
SEVERITIES = ("unknown", "negligible", "low", "medium", "high", "critical")
Severity = Literal["negligible", "low", "medium", "high", "critical"]

_DURATION = re.compile(r"^(?P<n>[0-9]{1,6})(?P<unit>[smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> int:
    """``90s``, ``30m``, ``12h``, ``7d`` → seconds."""
    m = _DURATION.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a duration such as '90s', '30m', '12h' or '7d'")
    return int(m.group("n")) * _UNIT[m.group("unit")]


class TrustKey(Strict):
    """A public key a signing pipeline signs with (Ed25519 or ECDSA P-256/P-384, PEM)."""

    name: DnsLabel
    public_key: str = Field(
        alias="publicKey", min_length=1, description="PEM SubjectPublicKeyInfo."
    )

    @model_validator(mode="after")
    def _parses(self) -> TrustKey:
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        try:
            key = load_pem_public_key(self.public_key.encode())
        except ValueError as exc:
            raise ValueError(f"publicKey is not a PEM public key: {exc}") from None
        ok = isinstance(key, ed25519.Ed25519PublicKey) or (
            isinstance(key, ec.EllipticCurvePublicKey)
            and key.curve.name in ("secp256r1", "secp384r1")
        )
        if not ok:
            raise ValueError("publicKey must be Ed25519 or ECDSA P-256/P-384")
        return self


class Vulnerabilities(Strict):
    threshold: Severity = Field(
        default="high", description="Findings at or above this severity are refused."
    )
    max_age: str = Field(
        default="7d",
        alias="maxAge",
        description="Newest scan report must be younger than this ('12h', '7d').",
    )

    @model_validator(mode="after")
    def _age(self) -> Vulnerabilities:
        if duration_seconds(self.max_age) <= 0:
            raise ValueError("maxAge must be greater than zero")
        return self

    @property
    def max_age_seconds(self) -> int:
        return duration_seconds(self.max_age)


class BannedComponent(Strict):
    purl: str = Field(
        min_length=5,
        pattern=r"^pkg:",
        description="purl glob, e.g. 'pkg:pypi/pyyaml@5.*' or 'pkg:maven/org.apache.logging"
        ".log4j/log4j-core@2.1[0-4]*'.",
    )
    reason: str = Field(min_length=3)


class TrustRule(Strict):
    name: DnsLabel
    repositories: list[RegistryPrefix] = Field(
        min_length=1, description="Registry/repository prefixes this rule covers."
    )
    tenants: list[DnsLabel] = Field(
        default_factory=list, description="Only these tenants (empty: every tenant)."
    )
    keys: list[DnsLabel] = Field(
        min_length=1, description="Names of spec.keys whose signatures count here."
    )
    require_sbom: bool = Field(default=True, alias="requireSbom")
    banned_components: list[BannedComponent] = Field(default_factory=list, alias="bannedComponents")
    vulnerabilities: Vulnerabilities = Field(default_factory=Vulnerabilities)


class TrustPolicySpec(Strict):
    keys: list[TrustKey] = Field(min_length=1)
    rules: list[TrustRule] = Field(min_length=1)
    plain_http: list[str] = Field(
        default_factory=list,
        alias="plainHttp",
        description="Registry hosts spoken to over plain HTTP (loopback test registries).",
    )
    cache_ttl: str = Field(
        default="10m", alias="cacheTtl", description="How long a verdict is reused, by digest."
    )
    timeout: str = Field(default="10s", description="Deadline of each registry request.")

    @model_validator(mode="after")
    def _refs(self) -> TrustPolicySpec:
        names = [k.name for k in self.keys]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate key names: {', '.join(sorted(dupes))}")
        rule_names = [r.name for r in self.rules]
        if len(set(rule_names)) != len(rule_names):
            raise ValueError("rule names must be unique")
        for rule in self.rules:
            missing = [k for k in rule.keys if k not in names]
            if missing:
                raise ValueError(f"rule {rule.name!r} names unknown keys: {', '.join(missing)}")
        duration_seconds(self.cache_ttl)
        if duration_seconds(self.timeout) <= 0:
            raise ValueError("timeout must be greater than zero")
        return self


class TrustPolicy(Resource):
    kind: Literal["TrustPolicy"] = "TrustPolicy"
    spec: TrustPolicySpec

    def rule_for(self, repository: str, tenant: str | None) -> TrustRule | None:
        """The most specific rule whose prefix covers ``repository`` (``host/path``) and whose
        tenant list (if any) names ``tenant``."""
        best: tuple[int, TrustRule] | None = None
        for rule in self.spec.rules:
            if rule.tenants and tenant not in rule.tenants:
                continue
            for prefix in rule.repositories:
                p = prefix.rstrip("/")
                covers = repository == p or repository.startswith(p + "/")
                if covers and (best is None or len(p) > best[0]):
                    best = (len(p), rule)
        return best[1] if best else None

    def key(self, name: str) -> TrustKey:
        return next(k for k in self.spec.keys if k.name == name)


def load_trust_policy(path: str | Path) -> TrustPolicy:
    return load_resource(path, TrustPolicy)

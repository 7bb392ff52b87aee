"""The image gate: one decision per image digest, with a reason naming the image and the rule.

For each image: resolve tag → digest against the registry; find the trust rule that covers its
repository (none: refused, third-party images are never trusted by default); list the digest's
OCI referrers; open every DSSE attestation among them with the rule's keys; then require

* ``signature`` — a provenance statement (SLSA v1) over exactly this digest, by a trusted key;
* ``sbom`` — a CycloneDX SBOM attestation over this digest (when the rule requires one), with
  no component matching a ``bannedComponents`` purl pattern (``banned-component``);
* ``vulnerability-report`` — a scan report (Trivy, Grype or CycloneDX inside cosign's vuln
  predicate) younger than ``maxAge`` (``report-age``), with no finding at or above the
  threshold (``vulnerability``) unless a VEX attestation says ``not_affected`` or an active
  ``PolicyException`` for RG-IMG-005 names the CVE and this image.

Anything that cannot be read or trusted is a refusal, never a pass: a malformed or truncated
attestation (``attestation``), a registry that refuses, fails or does not answer in time
(``registry``), a tag that no longer points at the digest it was pinned with (``tag``).
Decisions are cached by digest (:mod:`riskgrid.supply.cache`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from riskgrid.spec.exceptions import PolicyException
from riskgrid.spec.trust import TrustPolicy, TrustRule, duration_seconds
from riskgrid.supply import dsse, sbom, vulns
from riskgrid.supply.cache import VerdictCache
from riskgrid.supply.refs import ImageRef, ReferenceError_, parse_ref
from riskgrid.supply.registry import RegistryClient, RegistryError

#: The policy id of the gate in the library (Rego RG-IMG-005) and in PolicyExceptions.
POLICY_ID = "RG-IMG-005"
#: Referrer artifact type of every riskgrid-readable attestation: a DSSE envelope whose in-toto
#: predicateType says what it is (provenance, SBOM, scan report, VEX).
ATTESTATION_ARTIFACT = dsse.ENVELOPE_MEDIA_TYPE
PROVENANCE_PREDICATE = "https://slsa.dev/provenance/v1"
#: Clock skew tolerated for a scan report dated in the future.
SKEW = dt.timedelta(minutes=5)
MAX_REFERRERS = 64  # more than this many referrers of one image is refused, not read


@dataclass(frozen=True)
class Reason:
    rule: str
    message: str


@dataclass
class Decision:
    image: str
    digest: str | None
    allowed: bool
    reasons: list[Reason] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    trust_rule: str | None = None
    signer: str | None = None
    pinned: str | None = None
    checked_at: str = ""
    cached: bool = False

    def messages(self) -> list[str]:
        """``IMAGE: rule RULE: reason`` for each refusal."""
        return [f"{self.image}: rule {r.rule}: {r.message}" for r in self.reasons]

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "digest": self.digest,
            "pinned": self.pinned,
            "allowed": self.allowed,
            "reasons": [{"rule": r.rule, "message": r.message} for r in self.reasons],
            "notes": list(self.notes),
            "trustRule": self.trust_rule,
            "signer": self.signer,
            "checkedAt": self.checked_at,
            "cached": self.cached,
        }

    def external(self) -> dict[str, Any]:
        """The entry Rego reads for this digest (``params.images[digest]``)."""
        return {
            "verified": self.allowed,
            "reasons": [f"{r.rule}: {r.message}" for r in self.reasons],
        }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _refused(image: str, digest: str | None, rule: str, message: str, **kw: Any) -> Decision:
    return Decision(image, digest, False, [Reason(rule, message)], **kw)


@dataclass
class _Evidence:
    provenance: list[str] = field(default_factory=list)  # signer names
    sboms: list[tuple[str, list[str]]] = field(default_factory=list)  # (signer, purls)
    reports: list[vulns.Report] = field(default_factory=list)
    cleared: set[str] = field(default_factory=set)
    wrong_subject: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)
    untrusted: int = 0
    other: int = 0


class Gate:
    """Verifies images against one :class:`TrustPolicy`; safe to share between threads."""

    def __init__(
        self,
        policy: TrustPolicy,
        *,
        exceptions: Sequence[PolicyException] = (),
        cache: VerdictCache | None = None,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.policy = policy
        self.exceptions = list(exceptions)
        self.clock = clock
        self.cache = cache or VerdictCache(duration_seconds(policy.spec.cache_ttl), clock=clock)
        self.timeout = float(duration_seconds(policy.spec.timeout))
        self._keys = {k.name: dsse.load_public_key(k.public_key) for k in policy.spec.keys}
        self._clients: dict[str, RegistryClient] = {}
        self._lock = threading.Lock()
        blob = json.dumps(
            [policy.model_dump(mode="json"), [e.model_dump(mode="json") for e in self.exceptions]],
            sort_keys=True,
        )
        self.fingerprint = hashlib.sha256(blob.encode()).hexdigest()[:16]

    def close(self) -> None:
        with self._lock:
            for c in self._clients.values():
                c.close()
            self._clients.clear()

    def client(self, host: str) -> RegistryClient:
        with self._lock:
            if host not in self._clients:
                self._clients[host] = RegistryClient(
                    host, plain_http=host in self.policy.spec.plain_http, timeout=self.timeout
                )
            return self._clients[host]

    # ---------------------------------------------------------------------------------------

    def verify_many(
        self, images: Iterable[str], *, tenant: str | None = None, namespace: str | None = None
    ) -> list[Decision]:
        return [self.verify(i, tenant=tenant, namespace=namespace) for i in images]

    def verify(
        self, image: str, *, tenant: str | None = None, namespace: str | None = None
    ) -> Decision:
        stamp = self.clock().isoformat()
        try:
            ref = parse_ref(image)
        except ReferenceError_ as exc:
            return _refused(image, None, "reference", str(exc), checked_at=stamp)
        rule = self.policy.rule_for(ref.repository, tenant)
        if rule is None:
            who = f" for tenant {tenant!r}" if tenant else ""
            return _refused(
                image,
                ref.digest,
                "trust-policy",
                f"no rule of TrustPolicy {self.policy.metadata.name!r} covers repository "
                f"{ref.repository}{who}; images from outside the trusted repositories are "
                "refused",
                checked_at=stamp,
            )
        key = (self.fingerprint, tenant or "", namespace or "", ref.repository)
        if ref.digest and not ref.tag:
            hit = self.cache.get((*key, ref.digest))
            if hit is not None:
                return _as_cached(hit, image)
        try:
            decision = self._verify_uncached(image, ref, rule, namespace, stamp)
        except RegistryError as exc:
            why = "registry unavailable, failing closed: " if exc.unavailable else ""
            return _refused(
                image, ref.digest, "registry", f"{why}{exc}", trust_rule=rule.name, checked_at=stamp
            )
        if decision.digest:
            self.cache.put((*key, decision.digest), decision)
        return decision

    def _verify_uncached(
        self, image: str, ref: ImageRef, rule: TrustRule, namespace: str | None, stamp: str
    ) -> Decision:
        client = self.client(ref.host)
        manifest = client.manifest(ref.path, ref.tag or ref.digest or "")
        digest = manifest.digest
        if ref.tag and ref.digest and digest != ref.digest:
            return _refused(
                image,
                ref.digest,
                "tag",
                f"tag {ref.tag!r} now points at {digest}, not the pinned {ref.digest} "
                "(the tag was moved after the image was pinned)",
                trust_rule=rule.name,
                checked_at=stamp,
            )
        if ref.tag and ref.digest:
            # The decision is about the pinned digest; the tag only had to agree with it.
            digest = ref.digest
        ev = self._evidence(client, ref, digest, rule)
        d = Decision(
            image,
            digest,
            True,
            trust_rule=rule.name,
            pinned=ref.pinned(digest),
            checked_at=stamp,
        )
        self._judge(d, ev, rule, namespace)
        d.allowed = not d.reasons
        return d

    def _evidence(
        self, client: RegistryClient, ref: ImageRef, digest: str, rule: TrustRule
    ) -> _Evidence:
        keys = {name: self._keys[name] for name in rule.keys}
        ev = _Evidence()
        descriptors = client.referrers(ref.path, digest)
        if len(descriptors) > MAX_REFERRERS:
            ev.malformed.append(f"{len(descriptors)} referrers, over the limit of {MAX_REFERRERS}")
            return ev
        for desc in descriptors:
            if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
                ev.malformed.append("a referrers index entry has no digest")
                continue
            if desc.get("artifactType") != ATTESTATION_ARTIFACT:
                ev.other += 1
                continue
            short = desc["digest"][:19]
            try:
                self._read_attestation(client, ref, digest, desc["digest"], keys, ev)
            except dsse.AttestationError as exc:
                if "no signature verifies" in str(exc):
                    ev.untrusted += 1
                else:
                    ev.malformed.append(f"attestation {short}: {exc}")
        return ev

    def _read_attestation(
        self,
        client: RegistryClient,
        ref: ImageRef,
        digest: str,
        referrer: str,
        keys: dict[str, Any],
        ev: _Evidence,
    ) -> None:
        man = client.manifest(ref.path, referrer).json()
        subject = man.get("subject") if isinstance(man, dict) else None
        if not isinstance(subject, dict) or subject.get("digest") != digest:
            raise dsse.AttestationError("referrer manifest's subject is not this image")
        layers = [
            layer
            for layer in man.get("layers") or []
            if isinstance(layer, dict) and layer.get("mediaType") == dsse.ENVELOPE_MEDIA_TYPE
        ]
        if not layers:
            raise dsse.AttestationError("referrer has no DSSE envelope layer")
        for layer in layers:
            raw = client.blob(ref.path, str(layer.get("digest")))
            verified = dsse.open_envelope(raw, keys)
            stmt = verified.statement
            subjects = dsse.subject_digests(stmt)
            if digest not in subjects:
                ev.wrong_subject.append(
                    f"{stmt.get('predicateType')} signed by {verified.signer} is over "
                    f"{', '.join(sorted(subjects)) or 'no digest'}, not {digest}"
                )
                continue
            ptype = stmt["predicateType"]
            predicate = stmt.get("predicate")
            if ptype == PROVENANCE_PREDICATE:
                ev.provenance.append(verified.signer)
            elif sbom.is_sbom_predicate(ptype):
                ev.sboms.append((verified.signer, sbom.component_purls(predicate)))
            elif ptype == vulns.VULN_PREDICATE:
                ev.reports.append(vulns.parse_vuln_predicate(predicate))
            elif ptype == vulns.VEX_PREDICATE:
                ev.cleared |= vulns.parse_vex_predicate(predicate)
            else:
                ev.other += 1

    def _judge(self, d: Decision, ev: _Evidence, rule: TrustRule, namespace: str | None) -> None:
        add = d.reasons.append
        for m in ev.malformed:
            add(Reason("attestation", f"{m} (an unreadable attestation is never skipped)"))
        if ev.provenance:
            d.signer = ev.provenance[0]
        elif ev.wrong_subject:
            add(Reason("signature", "signature is not over this image: " + ev.wrong_subject[0]))
        else:
            extra = f" ({ev.untrusted} signed by untrusted keys)" if ev.untrusted else ""
            add(
                Reason(
                    "signature",
                    f"no provenance signature over {d.digest} by a key trusted for rule "
                    f"{rule.name!r} (keys: {', '.join(rule.keys)}){extra}",
                )
            )
        if rule.require_sbom and not ev.sboms:
            add(Reason("sbom", "no CycloneDX SBOM attestation signed by a trusted key"))
        for _, purls in ev.sboms:
            for hit in sbom.banned(purls, rule.banned_components):
                add(
                    Reason(
                        "banned-component",
                        f"SBOM lists {hit.purl} (banned by {hit.pattern}: {hit.reason})",
                    )
                )
        self._judge_vulns(d, ev, rule, namespace)

    def _judge_vulns(
        self, d: Decision, ev: _Evidence, rule: TrustRule, namespace: str | None
    ) -> None:
        add = d.reasons.append
        if not ev.reports:
            add(
                Reason("vulnerability-report", "no scan report attestation signed by a trusted key")
            )
            return
        now = self.clock()
        report = max(ev.reports, key=lambda r: r.finished)
        age = now - report.finished
        limit = rule.vulnerabilities.max_age_seconds
        if report.finished > now + SKEW:
            add(
                Reason(
                    "report-age",
                    f"newest scan report is dated in the future ({report.finished.isoformat()})",
                )
            )
            return
        if age.total_seconds() > limit:
            add(
                Reason(
                    "report-age",
                    f"newest scan report ({report.scanner}, {report.finished.isoformat()}) is "
                    f"{_human(age)} old, over maxAge {rule.vulnerabilities.max_age}",
                )
            )
            return
        threshold = vulns.rank(rule.vulnerabilities.threshold)
        cleared = ev.cleared | report.cleared
        waived = self._waived(d, namespace, now.date())
        seen: set[str] = set()
        for f in sorted(report.findings, key=lambda f: (-vulns.rank(f.severity), f.id)):
            if vulns.rank(f.severity) < threshold or f.id in seen:
                continue
            seen.add(f.id)
            if f.id in cleared:
                d.notes.append(f"{f.id} ({f.severity}) not affecting this image per VEX")
            elif f.id in waived:
                d.notes.append(f"{f.id} ({f.severity}) accepted by PolicyException {waived[f.id]}")
            else:
                add(
                    Reason(
                        "vulnerability",
                        f"{f.id} ({f.severity}) in {f.package}, at or above threshold "
                        f"{rule.vulnerabilities.threshold}, not waived",
                    )
                )

    def _waived(self, d: Decision, namespace: str | None, today: dt.date) -> dict[str, str]:
        """CVE id → name of the active PolicyException that accepts it for this image."""
        out: dict[str, str] = {}
        for e in self.exceptions:
            s = e.spec.scope
            if e.spec.policy != POLICY_ID or not e.active(today) or not s.cves:
                continue
            if s.image is not None and s.image not in (d.pinned, d.digest):
                continue
            if s.image is None and s.name is None:
                continue  # an exception must name the image (or the object running it)
            if s.namespace is not None and s.namespace != namespace:
                continue
            for cve in s.cves:
                out.setdefault(cve, e.metadata.name)
        return out


def _human(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f}d" if hours >= 48 else f"{hours:.1f}h"


def _as_cached(d: Decision, image: str) -> Decision:
    return Decision(
        image,
        d.digest,
        d.allowed,
        list(d.reasons),
        list(d.notes),
        d.trust_rule,
        d.signer,
        d.pinned,
        d.checked_at,
        cached=True,
    )


def external_data(decisions: Iterable[Decision]) -> dict[str, Any]:
    """Decisions as Rego's external data: digest → {verified, reasons}."""
    return {d.digest: d.external() for d in decisions if d.digest}

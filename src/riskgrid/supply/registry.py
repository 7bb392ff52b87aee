"""A small OCI distribution client over httpx: the calls the gate and the signing helper need.

Every request has a deadline (the trust policy's ``timeout``); every manifest and blob fetched
is hashed and compared with the digest it was asked for, so a registry (or anything between
us and it) cannot substitute content. Referrers are listed with the OCI 1.1 referrers API and,
where the registry has none (distribution 2.8, the Debian ``docker-registry``), with the
*referrers tag schema* the same specification defines: an image index tagged
``sha256-<hex of the subject digest>`` whose entries are the referrer manifests.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from riskgrid.spec.errors import RiskgridError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
MAX_MANIFEST = 4 * 1024 * 1024  # the OCI distribution spec's recommended manifest limit
MAX_BLOB = 16 * 1024 * 1024  # attestations are small; a larger one is refused, not read


class RegistryError(RiskgridError):
    """The registry could not give a trustworthy answer (unreachable, refused, wrong content)."""

    def __init__(self, message: str, *, status: int | None = None, unavailable: bool = False):
        super().__init__(message)
        self.status = status
        self.unavailable = unavailable


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    body: bytes

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.body)}


class RegistryClient:
    """One registry host. ``plain_http`` only for loopback test registries."""

    def __init__(self, host: str, *, plain_http: bool = False, timeout: float = 10.0):
        import httpx

        self.host = host
        self.base = f"{'http' if plain_http else 'https'}://{host}"
        self.timeout = timeout
        # no redirects to other hosts are followed blindly: blob redirects to storage are the
        # norm, so follow them, but never send credentials (we send none at all).
        self._http = httpx.Client(
            base_url=self.base,
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            headers={"User-Agent": "riskgrid-supply/1"},
        )
        self.referrers_api: bool | None = None  # learnt on first use

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ------------------------------------------------------------------------

    def _request(self, method: str, url: str, **kw: Any) -> Any:
        import httpx

        try:
            return self._http.request(method, url, **kw)
        except httpx.TimeoutException:
            raise RegistryError(
                f"registry {self.host} did not answer {method} {url} within {self.timeout:g}s",
                unavailable=True,
            ) from None
        except httpx.HTTPError as exc:
            raise RegistryError(
                f"registry {self.host} unreachable ({type(exc).__name__}: {exc})",
                unavailable=True,
            ) from None

    def _fail(self, resp: Any, what: str) -> RegistryError:
        status = resp.status_code
        if status in (401, 403):
            why = "refused access (credentials are not configured for this registry)"
        elif status == 404:
            why = "has no such object"
        elif status >= 500:
            why = "failed (server error)"
        else:
            why = "answered unexpectedly"
        return RegistryError(
            f"registry {self.host} {why}: HTTP {status} for {what}",
            status=status,
            unavailable=status >= 500,
        )

    @staticmethod
    def _read_limited(resp: Any, limit: int, what: str) -> bytes:
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise RegistryError(f"{what} is {declared} bytes, over the {limit}-byte limit")
        body = resp.content
        if len(body) > limit:
            raise RegistryError(f"{what} is over the {limit}-byte limit")
        return body

    # -- reading --------------------------------------------------------------------------

    def manifest(self, path: str, reference: str) -> Manifest:
        """The manifest at a tag or digest; when asked by digest, the body must hash to it."""
        what = f"manifest {path}:{reference}" if ":" not in reference else f"{path}@{reference}"
        resp = self._request(
            "GET",
            f"/v2/{path}/manifests/{reference}",
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
        )
        if resp.status_code != 200:
            raise self._fail(resp, what)
        body = self._read_limited(resp, MAX_MANIFEST, what)
        digest = sha256_digest(body)
        if reference.startswith("sha256:") and digest != reference:
            raise RegistryError(f"{what}: content hashes to {digest}, not the digest asked for")
        header = resp.headers.get("docker-content-digest")
        if header and header != digest:
            raise RegistryError(
                f"{what}: registry says {header} but the content hashes to {digest}"
            )
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        try:
            doc = json.loads(body)
        except ValueError:
            raise RegistryError(f"{what}: manifest is not JSON") from None
        if not isinstance(doc, dict):
            raise RegistryError(f"{what}: manifest is not a JSON object")
        media_type = doc.get("mediaType") or media_type
        if media_type not in MANIFEST_TYPES:
            raise RegistryError(f"{what}: unsupported manifest media type {media_type!r}")
        return Manifest(digest, media_type, body)

    def blob(self, path: str, digest: str, *, limit: int = MAX_BLOB) -> bytes:
        what = f"blob {path}@{digest}"
        resp = self._request("GET", f"/v2/{path}/blobs/{digest}")
        if resp.status_code != 200:
            raise self._fail(resp, what)
        body = self._read_limited(resp, limit, what)
        if sha256_digest(body) != digest:
            raise RegistryError(f"{what}: content does not hash to its digest")
        return body

    def referrers(self, path: str, digest: str) -> list[dict[str, Any]]:
        """Descriptors of the manifests whose ``subject`` is ``digest`` (may be empty)."""
        if self.referrers_api is not False:
            resp = self._request(
                "GET", f"/v2/{path}/referrers/{digest}", headers={"Accept": OCI_INDEX}
            )
            ctype = resp.headers.get("content-type", "").split(";")[0].strip()
            if resp.status_code == 200 and ctype == OCI_INDEX:
                self.referrers_api = True
                doc = json.loads(self._read_limited(resp, MAX_MANIFEST, "referrers index"))
                return list(doc.get("manifests") or [])
            if resp.status_code in (401, 403) or resp.status_code >= 500:
                raise self._fail(resp, f"referrers of {path}@{digest}")
            self.referrers_api = False  # 404/400/other: no API, use the tag schema
        try:
            index = self.manifest(path, fallback_tag(digest))
        except RegistryError as exc:
            if exc.status == 404:
                return []
            raise
        return list(index.json().get("manifests") or [])

    def exists(self, path: str, digest: str) -> bool:
        resp = self._request("HEAD", f"/v2/{path}/blobs/{digest}")
        return resp.status_code == 200

    # -- writing (the signing helper) -----------------------------------------------------

    def push_blob(self, path: str, data: bytes) -> str:
        digest = sha256_digest(data)
        if self.exists(path, digest):
            return digest
        start = self._request("POST", f"/v2/{path}/blobs/uploads/")
        if start.status_code != 202 or "location" not in start.headers:
            raise self._fail(start, f"blob upload to {path}")
        location = start.headers["location"]
        sep = "&" if "?" in location else "?"
        done = self._request(
            "PUT",
            f"{location}{sep}digest={digest}",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if done.status_code != 201:
            raise self._fail(done, f"blob upload to {path}")
        return digest

    def push_manifest(self, path: str, reference: str, body: bytes, media_type: str) -> str:
        resp = self._request(
            "PUT",
            f"/v2/{path}/manifests/{reference}",
            content=body,
            headers={"Content-Type": media_type},
        )
        if resp.status_code != 201:
            raise self._fail(resp, f"manifest {path}:{reference}")
        return sha256_digest(body)

    def attach(
        self,
        path: str,
        subject: Manifest,
        artifact_type: str,
        layer_media_type: str,
        payload: bytes,
        annotations: dict[str, str] | None = None,
    ) -> str:
        """Push ``payload`` as a referrer of ``subject``; returns the referrer's digest.

        Without a referrers API the referrers tag index is updated too (read, append, write:
        the OCI 1.1 procedure; concurrent writers can lose an entry, as the spec warns).
        """
        empty = b"{}"
        self.push_blob(path, empty)
        layer = self.push_blob(path, payload)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": OCI_EMPTY, "digest": sha256_digest(empty), "size": 2},
            "layers": [{"mediaType": layer_media_type, "digest": layer, "size": len(payload)}],
            "subject": subject.descriptor(),
            "annotations": annotations or {},
        }
        body = json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()
        digest = self.push_manifest(path, sha256_digest(body), body, OCI_MANIFEST)
        entry = {
            "mediaType": OCI_MANIFEST,
            "digest": digest,
            "size": len(body),
            "artifactType": artifact_type,
            "annotations": annotations or {},
        }
        if self.referrers_api is None:
            self.referrers(path, subject.digest)  # learn whether the API exists
        if not self.referrers_api:
            add_to_fallback_index(self, path, subject.digest, entry)
        return digest


def fallback_tag(digest: str) -> str:
    """The referrers tag schema: ``sha256:abc…`` → ``sha256-abc…``."""
    algo, _, hexpart = digest.partition(":")
    return f"{algo}-{hexpart}"


def add_to_fallback_index(
    client: RegistryClient, path: str, subject_digest: str, entry: dict[str, Any]
) -> None:
    try:
        index = client.manifest(path, fallback_tag(subject_digest)).json()
    except RegistryError as exc:
        if exc.status != 404:
            raise
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    manifests = [m for m in index.get("manifests", []) if m.get("digest") != entry["digest"]]
    index["manifests"] = [*manifests, entry]
    body = json.dumps(index, separators=(",", ":"), sort_keys=True).encode()
    client.push_manifest(path, fallback_tag(subject_digest), body, OCI_INDEX)

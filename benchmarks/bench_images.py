"""Image gate benchmark against a real loopback registry (Debian's docker-registry).

    .venv/bin/python benchmarks/bench_images.py [--images 1000] [--runs 3] [--sample 50]

Pushes ``--images`` distinct small OCI images (oras), each with a signed provenance statement,
CycloneDX SBOM and Trivy scan report attached as referrers (the referrers tag schema: this
registry has no referrers API), then measures, min / median of ``--runs``:

* cold latency per image: a fresh gate (empty verdict cache) verifying ``--sample`` digests
  one after another — manifest, referrers index, 3 referrer manifests, 3 blobs, 3 signature
  checks, SBOM and report parsing;
* cached latency per image: the same digests again on the same gate (verdict cache hits);
* throughput: all ``--images`` digests verified cold, sequentially and on 8 threads.

Peer, same run and same registry: oras-py fetching exactly what the gate fetches for one image
(manifest, referrers tag index, each referrer manifest and blob) with no verification — the
registry round trips the gate cannot avoid. Numbers depend on the machine and what else runs
on it; the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "supply"))

from registry_proc import Registry  # noqa: E402
from supply_helpers import NOW, SCANNERS, sbom, trust_policy  # noqa: E402


class Keys:
    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519

        self.pipeline = ed25519.Ed25519PrivateKey.generate()
        self.scanner = ec.generate_private_key(ec.SECP256R1())


def publish(client: object, host: str, repo: str, tag: str, keys: Keys) -> str:
    """Setup (not timed): a small OCI image and its three signed attestations, over one
    keep-alive connection (the tests push with oras; this is the same content, faster)."""
    import gzip
    import json

    from riskgrid.supply import attest
    from riskgrid.supply.registry import OCI_MANIFEST, sha256_digest

    layer = gzip.compress(f"{repo}:{tag}:{NOW.isoformat()}".encode(), mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
    for blob in (layer, config):
        client.push_blob(repo, blob)  # type: ignore[attr-defined]
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha256_digest(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": sha256_digest(layer),
                "size": len(layer),
            }
        ],
    }
    body = json.dumps(manifest).encode()
    digest = client.push_manifest(repo, tag, body, OCI_MANIFEST)  # type: ignore[attr-defined]
    image = f"{host}/{repo}@{digest}"
    uri, make = SCANNERS["trivy"]
    for kind, predicate, key in (
        ("provenance", attest.provenance("bench", image), keys.pipeline),
        ("sbom", sbom(), keys.pipeline),
        ("vuln", attest.vuln_report(uri, make([]), NOW), keys.scanner),
    ):
        attest.attach_attestation(client, image, attest.PREDICATES[kind], predicate, key)  # type: ignore[arg-type]
    return digest


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def oras_fetch(client: object, host: str, repo: str, digest: str) -> int:
    """The peer: the same GETs as the gate, through oras-py, unverified. Returns bytes read."""
    import oras.container

    container = oras.container.Container(f"{host}/{repo}@{digest}")
    manifest = client.get_manifest(container)  # type: ignore[attr-defined]
    total = len(str(manifest))
    index_ref = oras.container.Container(f"{host}/{repo}:{digest.replace(':', '-')}")
    index = client.get_manifest(
        index_ref,
        allowed_media_type=[  # type: ignore[attr-defined]
            "application/vnd.oci.image.index.v1+json"
        ],
    )
    for entry in index.get("manifests", []):
        ref = oras.container.Container(f"{host}/{repo}@{entry['digest']}")
        m = client.get_manifest(ref)  # type: ignore[attr-defined]
        for layer in m.get("layers", []):
            blob = client.get_blob(ref, layer["digest"])  # type: ignore[attr-defined]
            total += len(blob.content)
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sample", type=int, default=50)
    args = ap.parse_args()
    if args.runs < 3:
        ap.error("--runs must be at least 3 (min and median of three or more runs)")

    import oras.provider

    from riskgrid.supply.gate import Gate

    print(f"cpus {os.cpu_count()}; load before: {loadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        reg = Registry(Path(tmp) / "registry")
        reg.start()
        try:
            keys = Keys()
            t0 = time.perf_counter()
            from riskgrid.supply.registry import RegistryClient

            with RegistryClient(reg.host, plain_http=True, timeout=60) as client:
                digests = [
                    publish(client, reg.host, f"riskgrid/bench-{i // 100}", f"v{i}", keys)
                    for i in range(args.images)
                ]
            setup = time.perf_counter() - t0
            print(f"pushed {args.images} images + {3 * args.images} attestations in {setup:.1f}s")
            refs = [f"{reg.host}/riskgrid/bench-{i // 100}@{d}" for i, d in enumerate(digests)]
            policy = trust_policy(reg.host, keys, cache_ttl="1h", timeout="30s")
            sample = refs[: args.sample]

            cold, cached, peer, seq, par = [], [], [], [], []
            peer_client = oras.provider.Registry(hostname=reg.host, insecure=True)
            for _ in range(args.runs):
                gate = Gate(policy)
                t = time.perf_counter()
                decisions = [gate.verify(r) for r in sample]
                cold.append((time.perf_counter() - t) / len(sample))
                assert all(d.allowed for d in decisions), decisions[0].messages()
                t = time.perf_counter()
                again = [gate.verify(r) for r in sample]
                cached.append((time.perf_counter() - t) / len(sample))
                assert all(d.cached for d in again)
                gate.close()
                t = time.perf_counter()
                for i, r in enumerate(sample):
                    oras_fetch(peer_client, reg.host, r.split("@")[0].split("/", 1)[1], digests[i])
                peer.append((time.perf_counter() - t) / len(sample))

                gate = Gate(policy)
                t = time.perf_counter()
                ok = sum(gate.verify(r).allowed for r in refs)
                seq.append(len(refs) / (time.perf_counter() - t))
                assert ok == len(refs)
                gate.close()
                gate = Gate(policy)
                t = time.perf_counter()
                with ThreadPoolExecutor(8) as pool:
                    ok = sum(d.allowed for d in pool.map(gate.verify, refs))
                par.append(len(refs) / (time.perf_counter() - t))
                assert ok == len(refs)
                gate.close()
        finally:
            reg.stop()

    def ms(xs: list[float]) -> str:
        return f"min {min(xs) * 1e3:9.3f} ms   median {statistics.median(xs) * 1e3:9.3f} ms"

    def rate(xs: list[float]) -> str:
        return f"min {min(xs):8.1f} /s    median {statistics.median(xs):8.1f} /s"

    print(f"runs: {args.runs}; sample for latency: {args.sample} digests")
    print(f"gate, cold (verdict not cached), per image   {ms(cold)}")
    print(f"gate, cached verdict, per image              {ms(cached)}")
    print(f"peer: oras-py, same fetches, no verification {ms(peer)}")
    print(f"throughput, {len(refs)} distinct digests, 1 thread  {rate(seq)}")
    print(f"throughput, {len(refs)} distinct digests, 8 threads {rate(par)}")
    print(f"load after: {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

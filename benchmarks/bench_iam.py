"""IAM guardrails: riskgrid's RG-AWS Rego rules (regorus, one query) beside parliament.

    .venv/bin/python benchmarks/bench_iam.py [--copies 2] [--runs 3]

Both tools judge the same policies, in the same process and run: the corpus of
``tests/fixtures/iam`` (good and bad policies with the verdicts each tool is expected to give,
``corpus.yaml``) repeated ``--copies`` times. Both are warmed first (regorus engine built and
parliament's IAM definitions loaded). Prints verdict agreement per corpus entry, then
min/median seconds of ``--runs`` runs and policies/s for each tool, with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "tenancy"))

from cloud_peer import CORPUS, as_ack_policy, corpus  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    from riskgrid.policy.check import check_objects

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from parliament import analyze_policy_string

    entries = corpus()
    expected = yaml.safe_load((CORPUS / "corpus.yaml").read_text())
    objects = [as_ack_policy(f"{n}-{i}", e) for i in range(args.copies) for n, e in entries.items()]
    texts = [json.dumps(e["document"]) for _ in range(args.copies) for e in entries.values()]

    def ours() -> None:
        check_objects(objects)

    def peer() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for t in texts:
                analyze_policy_string(t, include_community_auditors=True)

    ours()
    peer()  # warm both
    print(f"corpus: {len(entries)} policies x {args.copies} copies = {len(objects)}")
    print(f"{'policy':28} {'riskgrid':40} parliament")
    for n, want in expected.items():
        mark = "agree" if bool(want["ours"]) == bool(want["parliament"]) else "DIFFER"
        print(f"{n:28} {','.join(want['ours']) or '-':40} {','.join(want['parliament']) or '-'}"
              f"  [{mark}]")  # fmt: skip
    for name, fn in (("riskgrid RG-AWS (regorus)", ours), ("parliament 1.6.4", peer)):
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        print(
            f"{name:28} min {min(times):.3f}s median {statistics.median(times):.3f}s "
            f"({len(objects) / min(times):,.0f} policies/s at best)"
        )
    load = Path("/proc/loadavg").read_text().strip()
    print(f"loadavg: {load}  cpus: {os.cpu_count()}")


if __name__ == "__main__":
    main()

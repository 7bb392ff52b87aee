"""CLI start-up: wall time of short commands, lazy registration beside eager, in one run.

    .venv/bin/python benchmarks/bench_startup.py [--runs N]

Each command runs N times (default 7) as a fresh process; min and median wall times are printed
beside the same command with every area module imported up front (the CLI as it was before
lazy registration: the peer), and beside a bare ``python -c pass``. Goals (issue 14):
``riskgrid --help`` ≤ 0.3 s, ``riskgrid policy check`` of one file ≤ 0.5 s. The load average is
printed: the machine is shared, quote it with the numbers.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POD = """\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: desk-a}
spec:
  containers:
    - name: web
      image: registry.example/web:1.0
      securityContext: {privileged: true}
"""

LAZY = "import sys; from riskgrid.cli.main import main; sys.exit(main(sys.argv[1:]))"
EAGER = (
    "import sys; from riskgrid.cli.main import COMMANDS, load_area, main\n"
    "for m in sorted({m for m, _ in COMMANDS.values()}): load_area(m)\n"
    "sys.exit(main(sys.argv[1:]))"
)


def _wall(argv: list[str], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pod = Path(tmp) / "pod.yaml"
        pod.write_text(POD)
        cases = [
            ("python -c pass", [sys.executable, "-c", "pass"], None),
            ("riskgrid --help", ["--help"], 0.3),
            ("riskgrid policy check POD", ["policy", "check", str(pod)], 0.5),
            ("riskgrid schema RiskJob", ["schema", "RiskJob"], None),
        ]
        print(f"load average before: {Path('/proc/loadavg').read_text().strip()}")
        head = ("command", "lazy min", "lazy med", "eager min", "eager med")
        print(f"{head[0]:<28} {head[1]:>9} {head[2]:>9} {head[3]:>10} {head[4]:>10}")
        for label, cmd, goal in cases:
            if cmd[0] == sys.executable:
                lo, med = _wall(cmd, args.runs)
                print(f"{label:<28} {lo:9.3f} {med:9.3f}")
                continue
            lo, med = _wall([sys.executable, "-c", LAZY, *cmd], args.runs)
            elo, emed = _wall([sys.executable, "-c", EAGER, *cmd], args.runs)
            verdict = ""
            if goal is not None:
                verdict = f"  goal ≤ {goal} s: {'met' if med <= goal else 'MISSED'}"
            print(f"{label:<28} {lo:9.3f} {med:9.3f} {elo:10.3f} {emed:10.3f}{verdict}")
        print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

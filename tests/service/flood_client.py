"""A flooding client for the bulkhead test, in its own process: the test's health probes are
timed from a process whose interpreter is not busy encoding the flood's bodies.

Usage: python flood_client.py URL TOKEN BODIES_JSON OUT_FILE STOP_FILE
BODIES_JSON holds {"submit": [path, body], "check": [path, body]}; 8 threads alternate between
them until STOP_FILE exists (or 300 s pass), then the status codes (0 for a timed-out request)
are written to OUT_FILE as JSON.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import httpx


def main() -> None:
    url, token, bodies_file, out_file, stop_file = sys.argv[1:6]
    bodies = json.loads(Path(bodies_file).read_text())
    # encoded once: each request costs the client a send, not a JSON encoding
    reqs = [(path, json.dumps(body).encode()) for path, body in (bodies["submit"], bodies["check"])]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    codes: list[int] = []
    deadline = time.monotonic() + 300  # nothing hangs: the flood ends by itself

    def flood(i: int) -> None:
        path, data = reqs[i % 2]
        with httpx.Client(base_url=url, timeout=30) as c:
            while not Path(stop_file).exists() and time.monotonic() < deadline:
                try:
                    codes.append(c.post(path, content=data, headers=headers).status_code)
                except httpx.TimeoutException:
                    codes.append(0)

    threads = [threading.Thread(target=flood, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    Path(out_file).write_text(json.dumps(codes))


if __name__ == "__main__":
    main()

"""The worker process of the local engine: ``python -m riskgrid.grid.worker FD [MODULE…]``.

The worker imports the MODULEs first (so that a pool started early has NumPy and the pricers
loaded by the time work arrives), then serves messages on one socket (driver side in
:mod:`riskgrid.grid.local`), each a pickled tuple framed by
:class:`multiprocessing.connection.Connection`:

- ``("ctx", payload)``: the pickled ``(fn, context)`` of a run, sent once per worker and run;
- ``("run", seq, task)``: answered ``("ok", seq, value)`` or ``("err", seq, traceback_text)``,
  in the order received;
- the worker first says ``("ready", -1, (pid, time.time()))`` once its imports are done (the
  driver measures the spawn cost from it and its start-up
  deadline waits for it);
- ``("stop",)`` or a closed socket ends the worker. A payload that cannot be unpickled is
  answered ``("fatal", -1, traceback_text)``.

Workers run in their own process group and ignore SIGINT: on Ctrl-C the driver, not each
worker, decides how to stop (it terminates them). A worker whose driver dies sees the socket
close and exits, so none is left behind.
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import sys
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any


def serve(conn: Connection) -> None:
    job: tuple[Any, Any] | None = None
    while True:
        try:
            msg = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        if msg[0] == "ctx":
            try:
                job = pickle.loads(msg[1])
            except Exception:
                # e.g. the task function is not importable here: say so, don't die silently.
                conn.send_bytes(pickle.dumps(("fatal", -1, traceback.format_exc())))
                return
            continue
        if msg[0] != "run" or job is None:
            return
        _, seq, task = msg
        fn, context = job
        try:
            payload = pickle.dumps(("ok", seq, fn(context, task)), protocol=5)
        except Exception:
            payload = pickle.dumps(("err", seq, traceback.format_exc()))
        try:
            conn.send_bytes(payload)
        except OSError:
            return


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(int(argv[0]))
    for module in argv[1:]:
        importlib.import_module(module)
    try:
        try:
            conn.send_bytes(pickle.dumps(("ready", -1, (os.getpid(), time.time()))))
        except OSError:
            return 0  # the driver is gone already
        serve(conn)
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

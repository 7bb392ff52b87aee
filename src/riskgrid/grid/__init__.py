"""The grid: plan a job into tasks, run them on an engine, retry, aggregate, store results.

Modules, one job each:

- :mod:`~riskgrid.grid.tasks` — the task model (a block of positions × scenarios, stable key);
- :mod:`~riskgrid.grid.planner` — job size + estimated cost → tasks;
- :mod:`~riskgrid.grid.engine` — what every engine promises (retries, cancel, errors);
- :mod:`~riskgrid.grid.local` / :mod:`~riskgrid.grid.worker` — the local process-pool engine;
- :mod:`~riskgrid.grid.ray_engine` — the Ray engine;
- :mod:`~riskgrid.grid.rng` — keyed random streams;
- :mod:`~riskgrid.grid.checkpoint` — per-task checkpoints for resumable runs;
- :mod:`~riskgrid.grid.aggregate` — P&L matrix → portfolio/group vectors and measures;
- :mod:`~riskgrid.grid.results` — the results directory (``result.json`` + Parquet), atomically;
- :mod:`~riskgrid.grid.progress` — progress on a terminal or as log lines;
- :mod:`~riskgrid.grid.runner` — ``run_job``: the whole path for one job.
"""

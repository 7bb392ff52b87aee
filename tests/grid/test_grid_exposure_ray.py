"""An exposure run on Ray gives the local engine's answer, bit for bit."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from riskgrid.grid.exposure import run_exposure
from riskgrid.spec.exposure import load_exposure_job

pytestmark = pytest.mark.ray

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "exposure" / "ore-minimal.yaml"


def test_exposure_on_ray_equals_local(tmp_path: Path) -> None:
    from riskgrid.grid.ray_engine import _import_ray

    ray = _import_ray()  # Ray's `uv run` hook off, as the engine has it (CI runs `uv run`)

    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["spec"]["simulation"].update(paths=256, grid=[{"until": "21Y", "step": "1Y"}])
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(doc))
    _, setup = load_exposure_job(job)
    local = run_exposure(setup, engine="local", workers=1, paths_per_task=256)
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        on_ray = run_exposure(setup, engine="ray", paths_per_task=64)
    finally:
        if started:
            ray.shutdown()
    assert on_ray.stats["engine"] == "ray" and on_ray.stats["tasks"] == 4
    a, b = local.netting_sets[0], on_ray.netting_sets[0]
    assert (a.cva, a.dva, a.profile.eepe) == (b.cva, b.dva, b.profile.eepe)
    assert a.profile.epe.tolist() == b.profile.epe.tolist()
    assert a.profile.pfe[0.95].tolist() == b.profile.pfe[0.95].tolist()

"""Exposure runs on the grid: bit-identical across workers and task sizes; CLI outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from riskgrid.cli.main import main
from riskgrid.grid.exposure import BLOCK, ExposureContext, block_normals, run_exposure
from riskgrid.risk.xva.setup import compile_run
from riskgrid.spec.exposure import load_exposure_job

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "exposure" / "ore-minimal.yaml"


@pytest.fixture(scope="module")
def small_job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["spec"]["simulation"]["paths"] = 320
    doc["spec"]["simulation"]["grid"] = [{"until": "21Y", "step": "1Y"}]
    path = tmp_path_factory.mktemp("xva") / "job.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _numbers(run) -> list[float]:
    out = []
    for ns in run.netting_sets:
        p = ns.profile
        out += [ns.cva, ns.cva_se, ns.dva or 0.0, p.eepe, *p.epe, *p.ene, *p.pfe[0.95]]
        out += [*list(ns.cva_rate_sens.values()), ns.cva_cs01 or 0.0]
    return out


def test_paths_are_keyed_by_canonical_block_not_by_task(small_job: Path) -> None:
    _, setup = load_exposure_job(small_job)
    ctx = ExposureContext(compile_run(setup), setup.seed, setup.paths)
    whole = block_normals(ctx, 0, 3 * BLOCK)
    parts = np.concatenate(
        [block_normals(ctx, 0, 10), block_normals(ctx, 10, 130), block_normals(ctx, 130, 192)]
    )
    assert np.array_equal(whole, parts)
    assert not np.array_equal(whole[:BLOCK], whole[BLOCK : 2 * BLOCK])


def test_bit_identical_across_workers_and_task_sizes(small_job: Path) -> None:
    _, setup = load_exposure_job(small_job)
    one = run_exposure(setup, engine="local", workers=1, paths_per_task=320)
    two = run_exposure(setup, engine="local", workers=2, paths_per_task=64)
    assert one.stats["tasks"] == 1 and two.stats["tasks"] == 5
    a, b = _numbers(one), _numbers(two)
    assert a == b  # exact, not approximate
    assert one.netting_sets[0].cva > 0 and one.netting_sets[0].cva_rate_sens["EUR"] != 0


def test_cli_writes_result_json_profiles_and_chart(
    small_job: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, png = tmp_path / "out", tmp_path / "ee.png"
    rc = main(
        [
            "exposure",
            "run",
            str(small_job),
            "-o",
            str(out),
            "--workers",
            "1",
            "--json",
            "--png",
            str(png),
        ]
    )
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    on_disk = json.loads((out / "result.json").read_text())
    assert printed == on_disk
    ns = on_disk["nettingSets"][0]
    assert ns["cva"] > 0 and ns["cvaStandardError"] > 0 and ns["dva"] > 0
    table = pq.read_table(out / "profiles.parquet").to_pydict()
    assert len(table["epe"]) == on_disk["stats"]["dates"]
    assert max(table["epe"]) == pytest.approx(ns["peakEpe"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_checkpoint_resumes_with_identical_results(small_job: Path, tmp_path: Path) -> None:
    from riskgrid.spec.exposure import job_fingerprint

    job, setup = load_exposure_job(small_job)
    fp = job_fingerprint(job)
    ck = tmp_path / "ck"
    first = run_exposure(setup, workers=1, paths_per_task=64, checkpoint=ck, fingerprint=fp)
    saved = sorted((ck / "tasks").glob("*.npz"))
    assert first.stats["fromCheckpoint"] == 0 and len(saved) == 5
    # A crash after three tasks: two results are missing; the rerun computes only those two,
    # with the recorded task size even though another was asked for.
    saved[1].unlink()
    saved[3].unlink()
    again = run_exposure(setup, workers=2, paths_per_task=128, checkpoint=ck, fingerprint=fp)
    assert again.stats["fromCheckpoint"] == 3 and again.stats["tasks"] == 5
    assert _numbers(again) == _numbers(first)
    from riskgrid.grid.checkpoint import CheckpointMismatch

    with pytest.raises(CheckpointMismatch, match="belongs to other inputs"):
        run_exposure(setup, workers=1, checkpoint=ck, fingerprint="another job")

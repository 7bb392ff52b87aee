"""``riskgrid run JOB --kuberay TENANT``: the RayJob for the tenant's RayCluster and queue.

Rendered and proven offline (vendored KubeRay RayJob CRD, the policy library, the Kueue chain
RayJob → RayCluster → LocalQueue); never applied to a real cluster here (see docs/grid.md).
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from riskgrid.spec.tenant import load_tenant
from riskgrid.tenancy.rayjob import QUEUE_LABEL, check_rayjob, render_rayjob
from riskgrid.tenancy.render import render_tenant
from riskgrid.tenancy.schemas import validate_objects

REPO = Path(__file__).resolve().parents[2]
JOB = REPO / "examples" / "jobs" / "multi-desk-var.yaml"
TENANT = REPO / "examples" / "tenants" / "eq-vol.yaml"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "riskgrid.cli.main", "run", *args],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def rendered() -> dict:
    proc = _cli(str(JOB), "--kuberay", str(TENANT), "--job-timeout", "600")
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(proc.stdout)


def test_rayjob_targets_the_tenants_queued_raycluster(rendered: dict):
    tenant = load_tenant(TENANT)
    bundle = render_tenant(tenant)
    cluster = next(o for o in bundle if o["kind"] == "RayCluster")
    queue = next(o for o in bundle if o["kind"] == "LocalQueue")
    meta, spec = rendered["metadata"], rendered["spec"]
    assert rendered["kind"] == "RayJob" and meta["namespace"] == cluster["metadata"]["namespace"]
    assert spec["clusterSelector"] == {"ray.io/cluster": cluster["metadata"]["name"]}
    # Queued through the tenant's LocalQueue by way of the cluster, not the RayJob itself.
    assert cluster["metadata"]["labels"][QUEUE_LABEL] == queue["metadata"]["name"]
    assert QUEUE_LABEL not in meta["labels"]
    assert meta["labels"]["riskgrid.dev/tenant"] == tenant.name
    # The same runtime environment as the local Ray engine: nothing uploaded.
    env = yaml.safe_load(spec["runtimeEnvYAML"])
    assert env == {"env_vars": {"RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}}
    assert "--ray-address auto" in spec["entrypoint"]
    assert "--job-timeout 600" in spec["entrypoint"]
    assert spec["activeDeadlineSeconds"] > 600 + 120 and spec["backoffLimit"] == 0
    assert validate_objects([rendered]) == []
    assert check_rayjob(rendered, tenant) == []


def test_checks_catch_schema_policy_and_queue_mistakes(rendered: dict):
    tenant = load_tenant(TENANT)
    bad = copy.deepcopy(rendered)
    bad["spec"]["backoffLimit"] = "none"
    bad["metadata"]["labels"][QUEUE_LABEL] = "ray"
    bad["spec"]["submitterPodTemplate"] = {
        "spec": {"containers": [{"name": "s", "image": "x", "securityContext": {
            "privileged": True}}]}
    }  # fmt: skip
    found = {(p.check, p.message.split(":")[0]) for p in check_rayjob(bad, tenant)}
    assert ("schema", "CRD rayjobs.ray.io v1") in found
    assert ("policy", "RG-PSS-002") in found
    assert any(check == "queue" for check, _ in found)
    other = copy.deepcopy(rendered)
    other["spec"]["clusterSelector"] = {"ray.io/cluster": "someone-elses"}
    problems = check_rayjob(other, tenant)
    assert [p.check for p in problems] == ["queue"]
    assert "no RayCluster 'someone-elses'" in problems[0].message


def test_render_quotes_paths_for_the_shell():
    rj = render_rayjob(
        "j", load_tenant(TENANT), job_path="/data/my jobs/j.yaml", results_dir="/r",
        job_timeout=60, startup_timeout=30,
    )  # fmt: skip
    assert "riskgrid run '/data/my jobs/j.yaml' " in rj["spec"]["entrypoint"]


def test_bad_tenant_file_is_a_clear_error(tmp_path: Path):
    bad = tmp_path / "t.yaml"
    bad.write_text("apiVersion: riskgrid.dev/v1alpha1\nkind: Tenant\nmetadata: {name: x}\n")
    proc = _cli(str(JOB), "--kuberay", str(bad))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {bad}")
    assert proc.stdout == ""

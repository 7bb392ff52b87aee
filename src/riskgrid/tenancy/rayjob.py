"""The KubeRay ``RayJob`` that would run one RiskJob on a desk's own RayCluster.

``riskgrid run JOB.yaml --kuberay TENANT.yaml`` renders it (and runs nothing). The RayJob

- targets the tenant's existing RayCluster through ``spec.clusterSelector``
  (``ray.io/cluster: <name>``), in the tenant's namespace;
- is queued through the tenant's Kueue LocalQueue *by way of that RayCluster*: the RayCluster
  carries the ``kueue.x-k8s.io/queue-name`` label, so Kueue admits (and quota-charges) the
  cluster the job runs on. The RayJob itself carries no queue-name label on purpose: Kueue's
  RayJob webhook rejects (older releases) or stops managing (newer ones) a queue-labelled RayJob
  that uses ``clusterSelector`` — "a kueue managed job should not use an existing cluster".
  :func:`check_rayjob` proves the chain: RayJob → RayCluster of the tenant's bundle →
  queue-name label → LocalQueue of the bundle;
- runs ``riskgrid run … --ray-address auto`` on the head with the deadlines of the local run,
  ``backoffLimit: 0`` (riskgrid retries tasks itself) and ``activeDeadlineSeconds`` a little
  beyond riskgrid's own job deadline, so Kubernetes never waits forever either;
- submits over the dashboard's HTTP API (``submissionMode: HTTPMode``): no submitter pod, so no
  extra pod spec to harden;
- sets the same runtime environment as the local Ray engine: ``RAY_ENABLE_UV_RUN_RUNTIME_ENV=0``
  and no ``working_dir`` or ``py_executable`` — workers use the image's Python and riskgrid.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from typing import Any

import yaml

from riskgrid.spec.tenant import Tenant
from riskgrid.tenancy import constants as c
from riskgrid.tenancy.labels import tenant_labels

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
CLUSTER_LABEL = "ray.io/cluster"
#: Seconds Kubernetes allows beyond riskgrid's own deadlines (start-up + job) before it stops
#: the RayJob: riskgrid should always be the one that reports.
GRACE_SECONDS = 300


@dataclass(frozen=True)
class RayJobProblem:
    """One reason a rendered RayJob would not run as intended."""

    check: str  # schema | policy | queue
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.check}: {self.path}: {self.message}"


def render_rayjob(
    job_name: str,
    tenant: Tenant,
    *,
    job_path: str,
    results_dir: str,
    job_timeout: float,
    startup_timeout: float,
    max_retries: int = 2,
) -> dict[str, Any]:
    """The RayJob for RiskJob ``job_name`` whose YAML lies at ``job_path`` in the head's image
    or volume; results go to ``results_dir/<job name>``."""
    entrypoint = " ".join(
        [
            "riskgrid run", shlex.quote(job_path), "--ray-address auto --json --quiet",
            "-o", shlex.quote(f"{results_dir.rstrip('/')}/{job_name}"),
            f"--max-retries {max_retries}",
            f"--startup-timeout {startup_timeout:g}", f"--job-timeout {job_timeout:g}",
        ]
    )  # fmt: skip
    runtime_env = {"env_vars": {"RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}}
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {
            "name": f"riskjob-{job_name}"[:63].rstrip("-"),
            "namespace": tenant.namespace,
            "labels": {
                **tenant_labels(tenant),
                "app.kubernetes.io/component": "riskjob",
                "riskgrid.dev/job": job_name[:63],
            },
        },
        "spec": {
            "entrypoint": entrypoint,
            "clusterSelector": {CLUSTER_LABEL: c.RAY_CLUSTER_NAME},
            "submissionMode": "HTTPMode",
            "runtimeEnvYAML": yaml.safe_dump(runtime_env, sort_keys=True),
            "backoffLimit": 0,
            "activeDeadlineSeconds": math.ceil(startup_timeout + job_timeout) + GRACE_SECONDS,
            "shutdownAfterJobFinishes": False,  # the desk's cluster outlives the job
        },
    }


def check_rayjob(rayjob: dict[str, Any], tenant: Tenant) -> list[RayJobProblem]:
    """Schema (vendored KubeRay CRD), policy library, and the Kueue queueing chain."""
    from riskgrid.policy.check import check_objects
    from riskgrid.tenancy.render import render_tenant
    from riskgrid.tenancy.schemas import validate_objects
    from riskgrid.tenancy.verify import policy_config_for

    problems = [
        RayJobProblem("schema", p.path or "(object)", f"{p.schema}: {p.message}")
        for p in validate_objects([rayjob])
    ]
    report = check_objects([rayjob], config=policy_config_for(tenant))
    problems += [
        RayJobProblem("policy", v.path or "(object)", f"{v.policy_id}: {v.message}")
        for v in report.violations
    ]
    spec, meta = rayjob.get("spec", {}), rayjob.get("metadata", {})
    if QUEUE_LABEL in (meta.get("labels") or {}) and spec.get("clusterSelector"):
        problems.append(
            RayJobProblem(
                "queue",
                f"metadata.labels.{QUEUE_LABEL}",
                "Kueue does not manage a RayJob that uses an existing cluster (clusterSelector); "
                "queue the RayCluster instead",
            )
        )
    bundle = render_tenant(tenant)
    wanted = (spec.get("clusterSelector") or {}).get(CLUSTER_LABEL)
    clusters = [
        o
        for o in bundle
        if o.get("kind") == "RayCluster"
        and o["metadata"]["name"] == wanted
        and o["metadata"].get("namespace") == meta.get("namespace")
    ]
    if not clusters:
        problems.append(
            RayJobProblem(
                "queue",
                "spec.clusterSelector",
                f"no RayCluster {wanted!r} in namespace {meta.get('namespace')!r} of tenant "
                f"{tenant.name}'s bundle",
            )
        )
        return problems
    queue = clusters[0]["metadata"].get("labels", {}).get(QUEUE_LABEL)
    queues = {
        o["metadata"]["name"]
        for o in bundle
        if o.get("kind") == "LocalQueue" and o["metadata"].get("namespace") == meta.get("namespace")
    }
    if queue not in queues:
        problems.append(
            RayJobProblem(
                "queue",
                "spec.clusterSelector",
                f"RayCluster {wanted!r} is not queued through a LocalQueue of the tenant "
                f"(label {QUEUE_LABEL}={queue!r}; LocalQueues: {sorted(queues)})",
            )
        )
    return problems

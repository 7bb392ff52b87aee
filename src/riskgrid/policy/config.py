"""``PolicyConfig``: which policies run, with which parameters, where tenant rules apply.

```yaml
apiVersion: riskgrid.dev/v1alpha1
kind: PolicyConfig
metadata: {name: bank}
spec:
  disabled: [RG-GOV-003]
  platformNamespaces: [kube-system, gatekeeper-system, riskgrid-system]
  parameters:
    RG-IMG-001: {repositories: [registry.bank.example/risk]}
```
Parameters are validated against each policy's JSON Schema; unknown policy ids are errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from riskgrid.policy.library import Library, load_library
from riskgrid.spec.base import Resource, Strict
from riskgrid.spec.errors import Problem, SpecError
from riskgrid.spec.loading import load_resource

DEFAULT_PLATFORM_NAMESPACES = (
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "gatekeeper-system",
    "calico-system",
    "tigera-operator",
    "kuberay-system",
    "kueue-system",
    "riskgrid-system",
)


class PolicyConfigSpec(Strict):
    disabled: list[str] = Field(default_factory=list, description="Policy ids not evaluated.")
    platformNamespaces: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PLATFORM_NAMESPACES),
        description="Namespaces that are not tenant namespaces (tenant-scoped rules skip them).",
    )
    tenantLabel: str = Field(
        "riskgrid.dev/tenant",
        description="Namespace label that marks tenant namespaces in exported Constraints.",
    )
    parameters: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-policy parameters, validated by its schema."
    )


class PolicyConfig(Resource):
    kind: Literal["PolicyConfig"] = "PolicyConfig"
    spec: PolicyConfigSpec = Field(default_factory=PolicyConfigSpec)


def default_config() -> PolicyConfig:
    return PolicyConfig.model_validate(
        {
            "apiVersion": "riskgrid.dev/v1alpha1",
            "kind": "PolicyConfig",
            "metadata": {"name": "default"},
        }
    )


def validate_config(config: PolicyConfig, library: Library, source: str = "config") -> None:
    """Unknown policy ids and parameters that break a policy's schema are SpecErrors."""
    problems: list[Problem] = []
    known = set(library.ids)
    for i, pid in enumerate(config.spec.disabled):
        if pid not in known:
            problems.append(Problem(source, ("spec", "disabled", i), f"unknown policy {pid!r}"))
    for pid, params in config.spec.parameters.items():
        if pid not in known:
            problems.append(Problem(source, ("spec", "parameters", pid), "unknown policy id"))
            continue
        policy = library.get(pid)
        for msg in policy.validate_params(policy.params(params)):
            problems.append(Problem(source, ("spec", "parameters", pid), msg))
    if problems:
        raise SpecError(problems)


def load_config(path: str | Path) -> PolicyConfig:
    config = load_resource(path, PolicyConfig)
    validate_config(config, load_library(), str(path))
    return config


def resolved_params(config: PolicyConfig, library: Library) -> dict[str, dict[str, Any]]:
    """Every enabled policy's parameters: its defaults with the config's values on top."""
    return {
        p.id: p.params(config.spec.parameters.get(p.id))
        for p in library
        if p.id not in config.spec.disabled
    }

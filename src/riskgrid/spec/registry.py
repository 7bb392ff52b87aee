"""Every documented resource and output format, by the name ``riskgrid schema NAME`` takes.

Entries are import paths so that asking for one schema does not import every area.
Each area adds its own line when its model lands.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel

from riskgrid.spec.errors import RiskgridError

MODELS: dict[str, str] = {
    "RiskJob": "riskgrid.spec.job:RiskJob",
    "ExposureJob": "riskgrid.spec.exposure:ExposureJob",
    "ExposureResult": "riskgrid.spec.exposure_result:ExposureResult",
    "MarketData": "riskgrid.spec.market_files:MarketFile",
    "Result": "riskgrid.spec.result:Result",
    "PolicyException": "riskgrid.spec.exceptions:PolicyException",
    "PolicyConfig": "riskgrid.policy.config:PolicyConfig",
    "Tenant": "riskgrid.spec.tenant:Tenant",
    "CapacityPlan": "riskgrid.spec.capacity:CapacityPlan",
    "CapacityDay": "riskgrid.spec.capacity_day:CapacityDay",
    "TrustPolicy": "riskgrid.spec.trust:TrustPolicy",
    "ThreatModelFile": "riskgrid.threats.model:Part",
    "EksCluster": "riskgrid.spec.eks:EksCluster",
    "ServiceAccess": "riskgrid.spec.service_access:ServiceAccess",
}


def model_for(name: str) -> type[BaseModel]:
    try:
        target = MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise RiskgridError(f"unknown schema {name!r}; known: {known}") from None
    module, _, attr = target.partition(":")
    model = getattr(importlib.import_module(module), attr)
    assert isinstance(model, type) and issubclass(model, BaseModel), target
    return model


def json_schema(name: str) -> dict[str, Any]:
    """JSON Schema of a model, in validation mode (what a file must look like)."""
    return model_for(name).model_json_schema(by_alias=True)

"""Strict pydantic base classes for riskgrid's Kubernetes-style resources."""

from __future__ import annotations

import math
import re
from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

API_VERSION: Final = "riskgrid.dev/v1alpha1"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class Strict(BaseModel):
    """Unknown fields, wrong types and NaN/inf are rejected; instances are immutable."""

    model_config = ConfigDict(
        extra="forbid",
        strict=False,  # YAML gives ints for floats and strings for dates; coercion stays lax...
        allow_inf_nan=False,  # ...but never to a non-finite number
        frozen=True,
        populate_by_name=True,
    )


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError("must be a finite number")
    return v


def _dns_label(v: str) -> str:
    if len(v) > 63 or not _DNS_LABEL.match(v):
        raise ValueError(
            "must be a DNS label: at most 63 characters of a-z, 0-9 and '-', "
            "starting and ending with a letter or digit"
        )
    return v


Finite = Annotated[float, AfterValidator(_finite)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]


class ObjectMeta(Strict):
    name: DnsLabel = Field(description="Resource name, a DNS label.")
    labels: dict[str, str] = Field(default_factory=dict, description="Free-form labels.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Free-form notes.")


class Resource(Strict):
    """``apiVersion``/``kind``/``metadata``/``spec`` envelope shared by every resource.

    Subclasses narrow ``kind`` with a ``Literal`` and add ``spec``; the loader checks
    ``apiVersion`` and ``kind`` before validating, so their errors come first and alone.
    """

    api_version: str = Field(alias="apiVersion", description=f"Always `{API_VERSION}`.")
    kind: str
    metadata: ObjectMeta

"""``result.json`` of an exposure run (``riskgrid schema ExposureResult``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class NettingSetMeasures(_Out):
    name: str
    counterparty: str
    cva: float = Field(description="Unilateral CVA, base currency.")
    cva_standard_error: float = Field(alias="cvaStandardError")
    dva: float | None = Field(None, description="DVA from the bank's credit (if given).")
    eepe: float = Field(description="Basel effective EPE (first year, time-weighted).")
    peak_epe: float = Field(alias="peakEpe", description="Largest discounted EPE on the grid.")
    peak_pfe: dict[str, float] = Field(alias="peakPfe", description="Largest PFE by quantile.")
    cva_rate_sensitivity: dict[str, float] = Field(
        alias="cvaRateSensitivity",
        description="ΔCVA for a parallel bump of each currency's curves (rateBumpBp), full "
        "re-simulation with common random numbers.",
    )
    cva_cs01: float | None = Field(None, alias="cvaCs01", description="ΔCVA per creditBumpBp.")


class ExposureResult(_Out):
    api_version: str = Field("riskgrid.dev/v1alpha1", alias="apiVersion")
    kind: str = "ExposureResult"
    job: str
    valuation_date: str = Field(alias="valuationDate")
    base_currency: str = Field(alias="baseCurrency")
    netting_sets: list[NettingSetMeasures] = Field(alias="nettingSets")
    profiles_file: str = Field("profiles.parquet", alias="profilesFile")
    stats: dict[str, object]

"""Request and response bodies of the HTTP API (the OpenAPI document is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

MAX_FILES = 64
MAX_OBJECTS = 500
SHA256_PATTERN = r"^[0-9a-f]{64}$"
FILE_PATH_PATTERN = r"^(?!/)(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9._/-]{1,200}$"


class RequestModel(BaseModel):
    """Unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ErrorBody(BaseModel):
    detail: str
    request_id: str | None = None


class ValidationProblem(BaseModel):
    loc: list[str | int]
    msg: str


class ProblemsBody(ErrorBody):
    problems: list[ValidationProblem | str] = Field(default_factory=list)


class PolicyViolation(BaseModel):
    policy_id: str
    severity: str | None = None
    message: str
    hint: str | None = None
    path: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    container: str | None = None


class PolicyRejection(ErrorBody):
    violations: list[PolicyViolation]


class Me(BaseModel):
    subject: str
    groups: list[str]
    platform_admin: bool
    tenants: dict[str, str] = Field(description="Tenant name → your role in it.")


class TenantSummary(BaseModel):
    name: str
    namespace: str
    generation: int
    role: str
    created_at: datetime
    updated_at: datetime


class Verification(BaseModel):
    ok: bool
    report: dict[str, Any]


class TenantView(TenantSummary):
    tenant: dict[str, Any] = Field(description="The stored Tenant resource.")
    bundle: list[dict[str, Any]] = Field(description="The rendered Kubernetes objects.")
    verification: Verification


class TenantList(BaseModel):
    items: list[TenantSummary]


class JobSubmission(RequestModel):
    job: dict[str, Any] = Field(description="The RiskJob resource (as parsed from its YAML).")
    files: dict[str, str] = Field(
        default_factory=dict,
        max_length=MAX_FILES,
        description="Files the job references, by path relative to the job file, base64-encoded.",
    )
    refs: dict[str, Annotated[str, Field(pattern=SHA256_PATTERN)]] = Field(
        default_factory=dict,
        max_length=MAX_FILES,
        description="Files already uploaded by this tenant, by path → SHA-256 of their bytes "
        "(ask `POST /v1/tenants/{tenant}/blobs/missing` which ones the server lacks).",
    )


class BlobQuery(RequestModel):
    sha256: list[Annotated[str, Field(pattern=SHA256_PATTERN)]] = Field(max_length=MAX_FILES)


class BlobAnswer(BaseModel):
    missing: list[str] = Field(description="The hashes this tenant has not uploaded: send them.")


class TaskProgress(BaseModel):
    total: int
    done: int
    failed: int
    retried: int
    resumed: int = Field(description="Tasks restored from the checkpoint after a restart.")


class JobView(BaseModel):
    id: str
    tenant: str
    name: str
    state: str
    submitted_by: str
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancel_requested: bool
    attempts: int
    tasks: TaskProgress
    error: str | None
    result_files: list[str]


class JobPage(BaseModel):
    items: list[JobView]
    next_offset: int | None


class PolicyCheckRequest(RequestModel):
    objects: list[dict[str, Any]] = Field(max_length=MAX_OBJECTS)


class PolicyCheckResponse(BaseModel):
    ok: bool
    violations: list[PolicyViolation] = Field(description="At most policy_report_max of them.")
    errors: list[str]
    total_violations: int = 0
    total_errors: int = 0
    truncated: bool = Field(False, description="Whether violations or errors were cut short.")
    by_policy: dict[str, int] = Field(default_factory=dict, description="Violations per policy.")


class Health(BaseModel):
    status: str

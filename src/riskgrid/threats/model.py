"""The threat model's schema: assets, actors, boundaries, flows, threats, controls, attack trees.

A model is a directory of YAML files (see :mod:`riskgrid.threats.loader`); each file holds some
of the sections below and the loader merges them into one :class:`ThreatModel`. Everything here
is structure only: cross-references (a threat naming a control, a control naming a policy) are
resolved by :mod:`riskgrid.threats.validate`, and whether a control works is never stored here —
it is computed from test evidence (:mod:`riskgrid.threats.evidence`).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from riskgrid.spec.base import Strict

_ID = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")


def _model_id(v: str) -> str:
    if not _ID.match(v):
        raise ValueError("must be an upper-case id like TM-001 or C-NET-01")
    return v


ModelId = Annotated[str, AfterValidator(_model_id)]
Score = Annotated[int, Field(ge=1, le=5)]


class Stride(StrEnum):
    S = "S"
    T = "T"
    R = "R"
    I = "I"  # noqa: E741 - STRIDE's letter
    D = "D"
    E = "E"


class AssetKind(StrEnum):
    data = "data"
    technical = "technical"
    credential = "credential"


class BoundaryType(StrEnum):
    internet = "internet"
    supplier = "supplier"
    aws_account = "aws-account"
    vpc = "vpc"
    managed_control_plane = "managed-control-plane"
    cluster = "cluster"
    node_pool = "node-pool"
    tenant_namespace = "tenant-namespace"
    platform_namespace = "platform-namespace"
    pod = "pod"


class ActorCategory(StrEnum):
    external = "external"
    tenant_workload = "tenant-workload"
    tenant_user = "tenant-user"
    platform_operator = "platform-operator"
    supplier = "supplier"


class ControlType(StrEnum):
    preventive = "preventive"
    detective = "detective"
    corrective = "corrective"


class Layer(StrEnum):
    admission = "admission"
    network = "network"
    identity = "identity"
    workload = "workload"
    data = "data"
    monitoring = "monitoring"
    supply_chain = "supply-chain"
    resource = "resource"
    application = "application"


class ControlStatus(StrEnum):
    implemented = "implemented"
    planned = "planned"


class Effectiveness(StrEnum):
    """Graded effect of one working control on one threat (CTID-style rubric)."""

    minimal = "minimal"
    partial = "partial"
    significant = "significant"


class Asset(Strict):
    id: ModelId
    name: str
    kind: AssetKind
    boundary: ModelId = Field(description="Trust boundary the asset lives in.")
    description: str = ""
    tenant_scoped: bool = Field(False, description="The asset belongs to one tenant (desk).")


class Actor(Strict):
    id: ModelId
    name: str
    category: ActorCategory
    start: ModelId = Field(description="Trust boundary the actor starts inside.")
    capability: Score = Field(description="Sophistication, 1 (opportunist) to 5 (state-level).")
    motivation: str = ""


class Boundary(Strict):
    id: ModelId
    name: str
    type: BoundaryType
    parent: ModelId | None = Field(None, description="Enclosing boundary, if any.")
    description: str = ""


class DataFlow(Strict):
    id: ModelId
    name: str
    source: ModelId = Field(description="Asset the data leaves.")
    destination: ModelId = Field(description="Asset the data reaches.")
    protocol: str
    authentication: str = Field(description="How the destination knows who is calling.")
    encrypted: bool
    data: list[ModelId] = Field(default_factory=list, description="Data assets carried.")
    crosses: list[ModelId] = Field(default_factory=list, description="Boundaries crossed.")


class Mappings(Strict):
    attack: list[str] = Field(default_factory=list, description="ATT&CK technique ids.")
    ms_k8s: list[str] = Field(default_factory=list, description="Microsoft K8s matrix ids.")
    owasp_k8s: list[str] = Field(default_factory=list, description="OWASP K8s Top 10 ids.")


class ControlLink(Strict):
    control: ModelId
    effectiveness: Effectiveness = Effectiveness.partial
    rationale: str = ""


class Threat(Strict):
    id: ModelId
    title: str
    description: str = ""
    stride: list[Stride] = Field(min_length=1)
    actors: list[ModelId] = Field(min_length=1)
    targets: list[ModelId] = Field(min_length=1, description="Assets, flows or boundaries.")
    likelihood: Score
    impact: Score
    mappings: Mappings = Field(default_factory=Mappings)
    controls: list[ControlLink] = Field(default_factory=list)


class Control(Strict):
    id: ModelId
    title: str
    description: str = ""
    type: ControlType
    layer: Layer
    status: ControlStatus
    implementation: list[str] = Field(
        default_factory=list,
        description="Typed references: 'policy: RG-…', 'bundle: Kind[/name]', "
        "'api: METHOD /path', 'code: module:attr'.",
    )
    verification: list[str] = Field(
        default_factory=list,
        description="Typed references: 'test: <pytest node id>', 'policy-case: <id>/<case>', "
        "'isolation: <pytest node id>'.",
    )

    @model_validator(mode="after")
    def _implemented_has_evidence_path(self) -> Control:
        # An 'implemented' control must say where it is and how it is proven; a planned one may
        # carry neither, and then it can never count as verified.
        if self.status is ControlStatus.implemented and not (
            self.implementation and self.verification
        ):
            raise ValueError(
                "an implemented control needs at least one implementation and one verification"
            )
        return self


class TreeNode(Strict):
    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    label: str
    type: Literal["and", "or", "leaf"]
    children: list[str] = Field(default_factory=list)
    threat: ModelId | None = Field(None, description="Leaves only: the threat this step is.")

    @model_validator(mode="after")
    def _shape(self) -> TreeNode:
        if self.type == "leaf":
            if self.children:
                raise ValueError("a leaf has no children")
            if self.threat is None:
                raise ValueError("a leaf must name the threat it stands for")
        else:
            if not self.children:
                raise ValueError(f"an '{self.type}' node needs children")
            if self.threat is not None:
                raise ValueError("only leaves name a threat")
        return self


class AttackTree(Strict):
    id: ModelId
    goal: str
    root: str = Field(description="Id of the top node (the goal).")
    nodes: list[TreeNode] = Field(min_length=1)


class TaxonomyPin(Strict):
    name: str
    version: str
    file: str = Field(description="Vendored id list, relative to the model directory.")
    source: str


class ScaleLevel(Strict):
    score: Score
    label: str
    meaning: str


class Scales(Strict):
    likelihood: list[ScaleLevel] = Field(min_length=5, max_length=5)
    impact: list[ScaleLevel] = Field(min_length=5, max_length=5)
    effectiveness: dict[Effectiveness, Annotated[float, Field(gt=0, lt=1)]]
    detective_weight: float = Field(
        0.5, gt=0, le=1, description="Share of a detective/corrective control's effect on impact."
    )

    @model_validator(mode="after")
    def _complete(self) -> Scales:
        for name in ("likelihood", "impact"):
            scores = sorted(level.score for level in getattr(self, name))
            if scores != [1, 2, 3, 4, 5]:
                raise ValueError(f"{name} must define each score 1..5 exactly once")
        missing = set(Effectiveness) - set(self.effectiveness)
        if missing:
            raise ValueError(f"effectiveness misses {sorted(missing)}")
        return self


class Metadata(Strict):
    name: str
    version: str
    description: str = ""
    taxonomies: dict[Literal["attack", "ms_k8s", "owasp_k8s"], TaxonomyPin]
    exceptions_dirs: list[str] = Field(
        default_factory=list,
        description="Folders (relative to the repository root) holding PolicyException files.",
    )


class ThreatModel(Strict):
    """The merged model (where each item came from is kept by the loader, not here)."""

    metadata: Metadata
    scales: Scales
    assets: list[Asset] = Field(default_factory=list)
    actors: list[Actor] = Field(default_factory=list)
    boundaries: list[Boundary] = Field(default_factory=list)
    flows: list[DataFlow] = Field(default_factory=list)
    threats: list[Threat] = Field(default_factory=list)
    controls: list[Control] = Field(default_factory=list)
    attack_trees: list[AttackTree] = Field(default_factory=list)


class Part(Strict):
    """One file of a model directory: any subset of the sections."""

    metadata: Metadata | None = None
    scales: Scales | None = None
    assets: list[Asset] = Field(default_factory=list)
    actors: list[Actor] = Field(default_factory=list)
    boundaries: list[Boundary] = Field(default_factory=list)
    flows: list[DataFlow] = Field(default_factory=list)
    threats: list[Threat] = Field(default_factory=list)
    controls: list[Control] = Field(default_factory=list)
    attack_trees: list[AttackTree] = Field(default_factory=list)


SECTIONS: tuple[str, ...] = (
    "assets",
    "actors",
    "boundaries",
    "flows",
    "threats",
    "controls",
    "attack_trees",
)


class Floor(Strict):
    min: float | None = None
    max: float | None = None


class Floors(Strict):
    """Gate thresholds: metric name → bound(s). Set at what was achieved; never lowered to pass."""

    floors: dict[str, Floor]

"""The ``Tenant`` resource: one risk desk on the shared cluster.

A platform engineer writes one ``Tenant`` per desk; :mod:`riskgrid.tenancy` renders the desk's
hardened Kubernetes bundle from it. Everything that could open a hole between tenants is
checked here, before anything is rendered: quantities parse strictly and are positive, egress
CIDRs parse and never cover the whole internet or the instance metadata service, and images are
pinned by digest to an allowed registry.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from riskgrid.spec.base import API_VERSION, DnsLabel, Resource, Strict
from riskgrid.spec.errors import Problem, SpecError
from riskgrid.spec.loading import load_resource

__all__ = [
    "API_VERSION",
    "FORBIDDEN_EGRESS",
    "RESERVED_NAMESPACES",
    "CloudIdentity",
    "EgressRule",
    "Tenant",
    "check_tenant_set",
    "load_tenant",
    "load_tenants",
    "parse_quantity",
]

# ---------------------------------------------------------------------------------------------
# Kubernetes quantities
# ---------------------------------------------------------------------------------------------

# The grammar of k8s.io/apimachinery's resource.Quantity: a signed decimal number followed by
# a binary-SI suffix, a decimal-SI suffix or a decimal exponent. Anything else is rejected
# rather than guessed at ("1.5 GB", "2g", "0x10").
_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}


_MAX_QUANTITY = Decimal(2**63)
_MAX_EXPONENT = 30


def parse_quantity(text: str | int | float) -> Decimal:
    """Parse a Kubernetes quantity (``500m``, ``4``, ``16Gi``, ``1e3``) to an exact Decimal.

    Raises ``ValueError`` with a message that says what the grammar is.
    """
    if isinstance(text, bool):
        raise ValueError("must be a Kubernetes quantity such as '2', '500m' or '16Gi'")
    raw = str(text).strip() if isinstance(text, int | float) else text
    m = _QUANTITY.match(raw) if isinstance(raw, str) else None
    if m is None:
        raise ValueError(
            f"{text!r} is not a Kubernetes quantity (a number with an optional suffix such as "
            "'500m', '2', '16Gi' or '1e3')"
        )
    try:
        number = Decimal(m.group("num"))
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from None
    suffix = m.group("suffix") or ""
    if suffix in _BINARY:
        value = number * _BINARY[suffix]
    elif suffix in _DECIMAL:
        value = number * _DECIMAL[suffix]
    else:
        exponent = int(suffix[1:])
        if exponent > _MAX_EXPONENT:
            raise ValueError(f"{text!r} is too large for a Kubernetes quantity")
        value = number * (Decimal(10) ** exponent)
    # The API server stores quantities as 64-bit integers of their base unit (or milli-unit).
    if abs(value) >= _MAX_QUANTITY:
        raise ValueError(f"{text!r} is too large for a Kubernetes quantity (at most 2^63-1)")
    return value


def _positive_quantity(v: str | int | float) -> str:
    value = parse_quantity(v)
    if value <= 0:
        raise ValueError(f"must be greater than zero, got {v!r}")
    return str(v)


def _non_negative_quantity(v: str | int | float) -> str:
    value = parse_quantity(v)
    if value < 0:
        raise ValueError(f"must not be negative, got {v!r}")
    return str(v)


def _whole_quantity(v: str) -> str:
    if parse_quantity(v) % 1 != 0:
        raise ValueError(f"must be a whole number of devices, got {v!r}")
    return v


PositiveQuantity = Annotated[str | int | float, AfterValidator(_positive_quantity)]
GpuCount = Annotated[
    str | int | float, AfterValidator(_positive_quantity), AfterValidator(_whole_quantity)
]
GpuBurst = Annotated[
    str | int | float, AfterValidator(_non_negative_quantity), AfterValidator(_whole_quantity)
]
NonNegativeQuantity = Annotated[str | int | float, AfterValidator(_non_negative_quantity)]

# ---------------------------------------------------------------------------------------------
# Egress
# ---------------------------------------------------------------------------------------------

#: Addresses no tenant may be allowed to reach directly: the AWS instance metadata service
#: (IPv4 and the Nitro IPv6 endpoint). Credentials come from IRSA/Pod Identity instead.
METADATA_NETS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (
    ipaddress.ip_network("169.254.169.254/32"),
    ipaddress.ip_network("fd00:ec2::254/128"),
    # The IPv4 address written as an IPv4-mapped IPv6 address reaches the same service.
    ipaddress.ip_network("::ffff:169.254.169.254/128"),
)
FORBIDDEN_EGRESS = tuple(str(n) for n in METADATA_NETS)


def _cidr(v: str) -> str:
    try:
        net = ipaddress.ip_network(v, strict=True)
    except ValueError as exc:
        raise ValueError(f"{v!r} is not a CIDR (such as '10.20.0.0/16'): {exc}") from None
    if net.prefixlen == 0:
        raise ValueError(
            f"{v!r} allows egress to every address; list the networks the desk needs instead"
        )
    for meta in METADATA_NETS:
        if net.version == meta.version and meta.subnet_of(net):  # type: ignore[arg-type]
            raise ValueError(
                f"{v!r} covers the instance metadata service {meta}; workloads get cloud "
                "credentials from their IAM role, never from the metadata endpoint"
            )
    return str(net)


Cidr = Annotated[str, AfterValidator(_cidr)]


class EgressPort(Strict):
    """A destination port (or ``port``..``endPort`` range) and protocol."""

    port: int = Field(ge=1, le=65535)
    end_port: int | None = Field(default=None, alias="endPort", ge=1, le=65535)
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"

    @model_validator(mode="after")
    def _range(self) -> EgressPort:
        if self.end_port is not None and self.end_port < self.port:
            raise ValueError(f"endPort {self.end_port} is below port {self.port}")
        return self


class EgressRule(Strict):
    """Traffic a desk's pods may send outside the cluster."""

    description: str = ""
    cidrs: list[Cidr] = Field(min_length=1, description="Destination networks (IPv4 or IPv6).")
    ports: list[EgressPort] = Field(
        min_length=1, description="Destination ports; every rule names its ports."
    )
    fqdns: list[str] = Field(
        default_factory=list,
        description=(
            "Not supported: Calico OSS policies cannot match domain names (the `domains` "
            "field is Calico Enterprise only). Listed here so the error can say so."
        ),
    )

    @model_validator(mode="after")
    def _no_fqdns(self) -> EgressRule:
        if self.fqdns:
            raise ValueError(
                "fqdns: egress by domain name needs Calico Enterprise (`domains` rules); the "
                "Calico OSS policies riskgrid renders match only CIDRs — list the CIDRs instead"
            )
        return self


# ---------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------

_DIGEST_IMAGE = re.compile(
    r"^(?P<repo>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+)"
    r"(?::[\w][\w.-]{0,127})?@sha256:[0-9a-f]{64}$"
)
_REGISTRY_PREFIX = re.compile(
    r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)


def _digest_image(v: str) -> str:
    if "@sha256:" not in v:
        raise ValueError(
            f"image {v!r} is not pinned by digest; write it as REGISTRY/REPO@sha256:<64 hex>"
        )
    if not _DIGEST_IMAGE.match(v):
        raise ValueError(f"image {v!r} is not a valid REGISTRY/REPO[:TAG]@sha256:<64 hex>")
    return v


def _registry_prefix(v: str) -> str:
    if not _REGISTRY_PREFIX.match(v):
        raise ValueError(
            f"{v!r} is not a registry or repository prefix such as "
            "'123456789012.dkr.ecr.eu-west-2.amazonaws.com/riskgrid'"
        )
    return v


DigestImage = Annotated[str, AfterValidator(_digest_image)]
RegistryPrefix = Annotated[str, AfterValidator(_registry_prefix)]


def image_allowed(image: str, prefixes: Iterable[str]) -> bool:
    """True when ``image`` lives under one of ``prefixes`` (whole path segments only)."""
    repo = image.split("@", 1)[0]
    return any(repo == p or repo.startswith(p.rstrip("/") + "/") for p in prefixes)


# ---------------------------------------------------------------------------------------------
# The spec
# ---------------------------------------------------------------------------------------------

_GROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._@/=-]{0,254}$")
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
_ROLE_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")

#: Namespaces a tenant may never claim: the cluster's and the platform's own.
RESERVED_NAMESPACES = frozenset(
    {
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "riskgrid-system",
        "calico-system",
        "calico-apiserver",
        "tigera-operator",
        "gatekeeper-system",
        "kueue-system",
        "kuberay-system",
    }
)


#: The platform's own objects are labelled as owned by this "tenant".
RESERVED_TENANT_NAMES = frozenset({"platform"})


def _group(v: str) -> str:
    if not _GROUP.match(v):
        raise ValueError(f"{v!r} is not an OIDC group name")
    return v


def _label_value(v: str) -> str:
    if not _LABEL_VALUE.match(v):
        raise ValueError(
            f"{v!r} must be usable as a Kubernetes label value: at most 63 characters of "
            "letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
        )
    return v


OidcGroup = Annotated[str, AfterValidator(_group)]
LabelValue = Annotated[str, AfterValidator(_label_value)]


class Groups(Strict):
    """OIDC groups (the ``groups`` claim) mapped to the desk's roles."""

    owners: list[OidcGroup] = Field(min_length=1, description="Accountable for the desk.")
    admins: list[OidcGroup] = Field(default_factory=list, description="Run the desk's workloads.")
    developers: list[OidcGroup] = Field(default_factory=list, description="Submit jobs.")
    viewers: list[OidcGroup] = Field(default_factory=list, description="Read-only.")


class Quotas(Strict):
    """Hard caps on what the desk's namespace may hold (its nominal share of the cohort)."""

    cpu: PositiveQuantity
    memory: PositiveQuantity
    gpu: GpuCount | None = Field(default=None, description="Omit for no GPUs.")
    pods: int = Field(gt=0)
    max_ray_workers: int = Field(alias="maxRayWorkers", gt=0)


class Burst(Strict):
    """How much more than its quota the desk may borrow from idle quota in its cohort."""

    cpu: NonNegativeQuantity = "0"
    memory: NonNegativeQuantity = "0"
    gpu: GpuBurst = "0"


class NodeResources(Strict):
    cpu: PositiveQuantity
    memory: PositiveQuantity
    gpu: GpuCount | None = None


class RaySpec(Strict):
    """The desk's KubeRay cluster."""

    ray_version: str = Field(alias="rayVersion", pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")
    image: DigestImage = Field(description="Head and worker image, pinned by digest.")
    head: NodeResources
    worker: NodeResources
    min_workers: int = Field(default=0, alias="minWorkers", ge=0)
    max_workers: int = Field(alias="maxWorkers", gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> RaySpec:
        if self.min_workers > self.max_workers:
            raise ValueError(
                f"minWorkers ({self.min_workers}) is above maxWorkers ({self.max_workers})"
            )
        return self


class CloudIdentity(Strict):
    """The AWS IAM role the desk's Ray pods assume."""

    provider: Literal["irsa", "podIdentity"] = "irsa"
    role_arn: str = Field(alias="roleArn", pattern=_ROLE_ARN.pattern)


class Images(Strict):
    allowed: list[RegistryPrefix] = Field(
        min_length=1, description="Registries or repository prefixes images may come from."
    )


class TenantSpec(Strict):
    namespace: DnsLabel | None = Field(
        default=None, description="The desk's namespace; defaults to the tenant's name."
    )
    groups: Groups
    cost_centre: LabelValue = Field(alias="costCentre")
    data_classification: Literal["public", "internal", "confidential", "restricted"] = Field(
        alias="dataClassification"
    )
    quotas: Quotas
    burst: Burst = Field(default_factory=Burst)
    images: Images
    egress: list[EgressRule] = Field(default_factory=list)
    ray: RaySpec
    cloud_identity: CloudIdentity | None = Field(default=None, alias="cloudIdentity")


class Tenant(Resource):
    """A risk desk: who it is, what it may use, where it may talk to."""

    kind: Literal["Tenant"]
    spec: TenantSpec

    @model_validator(mode="after")
    def _coherent(self) -> Tenant:
        ns = self.namespace
        if self.name in RESERVED_TENANT_NAMES:
            raise ValueError(f"metadata.name: {self.name!r} is reserved for the platform")
        if ns in RESERVED_NAMESPACES:
            raise ValueError(f"spec.namespace: {ns!r} is reserved for the cluster or platform")
        ray = self.spec.ray
        if ray.max_workers > self.spec.quotas.max_ray_workers:
            raise ValueError(
                f"spec.ray.maxWorkers ({ray.max_workers}) exceeds spec.quotas.maxRayWorkers "
                f"({self.spec.quotas.max_ray_workers})"
            )
        if not image_allowed(ray.image, self.spec.images.allowed):
            raise ValueError(
                f"spec.ray.image {ray.image!r} is not from an allowed registry "
                f"({', '.join(self.spec.images.allowed)})"
            )
        if (ray.worker.gpu or ray.head.gpu) and self.spec.quotas.gpu is None:
            raise ValueError("spec.ray asks for GPUs but spec.quotas.gpu is not set")
        return self

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.spec.namespace or self.metadata.name


def load_tenant(path: str | Path) -> Tenant:
    """Load one ``Tenant`` from a YAML file; raises :class:`SpecError` naming file and field."""
    return load_resource(path, Tenant)


def check_tenant_set(tenants: Sequence[Tenant], sources: Sequence[str] | None = None) -> None:
    """Reject a set of tenants that would collide: same name, or the same namespace."""
    sources = list(sources) if sources is not None else [t.name for t in tenants]
    problems: list[Problem] = []
    by_name: dict[str, str] = {}
    by_ns: dict[str, str] = {}
    for tenant, source in zip(tenants, sources, strict=True):
        if tenant.name in by_name:
            problems.append(
                Problem(
                    source,
                    ("metadata", "name"),
                    f"tenant {tenant.name!r} is already defined in {by_name[tenant.name]}",
                )
            )
        else:
            by_name[tenant.name] = source
        if tenant.namespace in by_ns:
            problems.append(
                Problem(
                    source,
                    ("spec", "namespace"),
                    f"namespace {tenant.namespace!r} is already used by {by_ns[tenant.namespace]}",
                )
            )
        else:
            by_ns[tenant.namespace] = f"{source} (tenant {tenant.name!r})"
    if problems:
        raise SpecError(problems)


def load_tenants(paths: Sequence[str | Path]) -> list[Tenant]:
    """Load several tenants and check they can share a cluster; all problems are reported."""
    tenants: list[Tenant] = []
    problems: list[Problem] = []
    for p in paths:
        try:
            tenants.append(load_tenant(p))
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SpecError(problems)
    check_tenant_set(tenants, [str(p) for p in paths])
    return tenants

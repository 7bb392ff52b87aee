"""Validate rendered objects offline: Kubernetes OpenAPI schemas and vendored CRD schemas.

Built-in kinds are checked against the OpenAPI schemas that kubernetes-validate ships for
:data:`~riskgrid.tenancy.constants.KUBERNETES_VERSION`, in their *strict* form (unknown fields
rejected, as the API server's ``fieldValidation=Strict`` does). CRD-backed kinds are checked
against the CRDs vendored in ``tenancy/crds/`` (see the NOTICE there); their structural
schemas are made strict the same way. Gatekeeper Constraints are checked against the
parameters schema of their ConstraintTemplate, when that template is among the objects.

Not evaluated offline: CEL rules (``x-kubernetes-validations``), admission webhooks, and
defaulting — those only run in a real API server.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

from riskgrid.spec.yamlbounds import load_all
from riskgrid.tenancy.constants import KUBERNETES_VERSION
from riskgrid.tenancy.ordering import object_ref

_CRD_DIR = Path(__file__).with_name("crds")
#: Calico objects are written as projectcalico.org/v3 (the API users and calicoctl speak);
#: the CRDs that store them are crd.projectcalico.org/v1, with the same spec.
_GROUP_ALIASES = {"projectcalico.org/v3": "crd.projectcalico.org/v1"}
_CONSTRAINT_GROUP = "constraints.gatekeeper.sh"
_CONSTRAINT_SPEC_KEYS = {"match", "parameters", "enforcementAction", "scopedEnforcementActions"}


@dataclass(frozen=True)
class SchemaProblem:
    """One object that does not match its schema."""

    object: str  # Kind/namespace/name
    schema: str  # e.g. "kubernetes 1.33 NetworkPolicy" or "CRD rayclusters.ray.io v1"
    path: str  # JSON path inside the object, e.g. spec.egress[0].ports[0].port
    message: str

    def __str__(self) -> str:
        return f"{self.object}: {self.path or '<root>'}: {self.message} [{self.schema}]"


def _path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


# --------------------------------------------------------------------------------------------
# Built-in kinds (kubernetes-validate's schema files, loaded once)
# --------------------------------------------------------------------------------------------


def _k8s_schema_dir() -> Path:
    root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    return Path(str(root)) / f"v{KUBERNETES_VERSION}.0-local-strict"


@functools.cache
def _k8s_registry() -> Registry:
    defs = json.loads((_k8s_schema_dir() / "_definitions.json").read_text(encoding="utf-8"))
    return Resource.from_contents(defs) @ Registry()


@functools.cache
def _k8s_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
    # rbac.authorization.k8s.io/v1 → rbac-v1; v1 → v1 (kubernetes-validate's file naming)
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = _k8s_schema_dir() / f"{kind.lower()}-{group_version}.json"
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, registry=_k8s_registry())


@functools.cache
def _object_meta_validator() -> jsonschema.protocols.Validator:
    schema = {
        "$ref": "https://kubernetes.io/api/_definitions.json#/$defs/"
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    }
    return jsonschema.Draft202012Validator(schema, registry=_k8s_registry())


# --------------------------------------------------------------------------------------------
# CRDs
# --------------------------------------------------------------------------------------------


def _strict(schema: Any) -> Any:
    """A structural schema made strict: unknown fields rejected unless preserved explicitly."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-v")}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.cache
def _crd_index() -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(apiVersion, kind) → (CRD name + version, strict openAPIV3Schema) for vendored CRDs."""
    index: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for path in sorted(_CRD_DIR.glob("*.yaml")):
        # vendored files, but bounded like every YAML the platform reads
        text = path.read_text(encoding="utf-8")
        for crd in load_all(text, loader=loader, aliases=True):
            if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if not version.get("served", False):
                    continue
                schema = _strict(version["schema"]["openAPIV3Schema"])
                # ObjectMeta is validated separately against the Kubernetes definition.
                schema.get("properties", {}).pop("metadata", None)
                schema.get("properties", {})["metadata"] = {"type": "object"}
                label = f"CRD {crd['metadata']['name']} {version['name']}"
                index[(f"{group}/{version['name']}", kind)] = (label, schema)
    return index


@functools.cache
def _crd_validator(
    api_version: str, kind: str
) -> tuple[str, jsonschema.protocols.Validator] | None:
    entry = _crd_index().get((_GROUP_ALIASES.get(api_version, api_version), kind))
    if entry is None:
        return None
    label, schema = entry
    return label, jsonschema.Draft7Validator(schema)


# --------------------------------------------------------------------------------------------
# Gatekeeper constraints
# --------------------------------------------------------------------------------------------


def _template_parameter_schemas(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Constraint kind → parameters schema, from the ConstraintTemplates among ``objects``."""
    out: dict[str, dict[str, Any]] = {}
    for obj in objects:
        if obj.get("kind") != "ConstraintTemplate":
            continue
        crd = obj.get("spec", {}).get("crd", {}).get("spec", {})
        kind = crd.get("names", {}).get("kind")
        if kind:
            out[kind] = crd.get("validation", {}).get("openAPIV3Schema") or {}
    return out


def _check_constraint(
    obj: dict[str, Any], params: dict[str, dict[str, Any]]
) -> list[SchemaProblem]:
    ref = object_ref(obj)
    kind = obj.get("kind", "")
    label = f"ConstraintTemplate for {kind}"
    if kind not in params:
        return [SchemaProblem(ref, label, "kind", f"no ConstraintTemplate defines kind {kind!r}")]
    problems: list[SchemaProblem] = []
    spec = obj.get("spec", {})
    if not isinstance(spec, dict):
        return [SchemaProblem(ref, label, "spec", "must be a mapping")]
    for key in sorted(set(spec) - _CONSTRAINT_SPEC_KEYS):
        problems.append(SchemaProblem(ref, label, f"spec.{key}", "unknown field"))
    validator = jsonschema.Draft7Validator(params[kind])
    for err in sorted(
        validator.iter_errors(spec.get("parameters", {})), key=lambda e: list(e.path)
    ):
        problems.append(
            SchemaProblem(ref, label, _path(["spec", "parameters", *err.path]), err.message)
        )
    return problems


# --------------------------------------------------------------------------------------------
# API-server rules OpenAPI does not express: names and labels
# --------------------------------------------------------------------------------------------

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"label key {key!r}: prefix must be a DNS subdomain"
    if len(name) > 63 or not _LABEL_NAME.match(name):
        return f"label key {key!r}: name must be 1-63 alphanumerics, '-', '_' or '.'"
    return None


def _meta_problems(obj: dict[str, Any], label: str) -> list[SchemaProblem]:
    ref = object_ref(obj)
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return [SchemaProblem(ref, label, "metadata", "must be a mapping")]
    out: list[SchemaProblem] = []
    name = meta.get("name")
    # Namespaces are DNS labels; everything riskgrid renders fits a DNS subdomain.
    pattern = _DNS_LABEL if obj.get("kind") == "Namespace" else _DNS_SUBDOMAIN
    limit = 63 if obj.get("kind") == "Namespace" else 253
    if not isinstance(name, str) or len(name) > limit or not pattern.match(name):
        out.append(SchemaProblem(ref, label, "metadata.name", f"{name!r} is not a valid name"))
    ns = meta.get("namespace")
    if ns is not None and (not isinstance(ns, str) or not _DNS_LABEL.match(ns)):
        out.append(SchemaProblem(ref, label, "metadata.namespace", f"{ns!r} is not a DNS label"))
    for key, value in (meta.get("labels") or {}).items():
        problem = _label_key_problem(str(key))
        if problem:
            out.append(SchemaProblem(ref, label, f"metadata.labels.{key}", problem))
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            out.append(
                SchemaProblem(
                    ref, label, f"metadata.labels.{key}", f"{value!r} is not a label value"
                )
            )
    return out


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _schema_for(api_version: str, kind: str) -> tuple[str, jsonschema.protocols.Validator] | None:
    k8s = _k8s_validator(api_version, kind)
    if k8s is not None:
        return f"kubernetes {KUBERNETES_VERSION} {kind}", k8s
    return _crd_validator(api_version, kind)


def _body_errors(
    validator: jsonschema.protocols.Validator, body: dict[str, Any]
) -> list[tuple[str, str]]:
    errors = sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.path])
    return [(_path(e.path), e.message) for e in errors]


def validate_object(
    obj: dict[str, Any],
    *,
    constraint_params: dict[str, dict[str, Any]] | None = None,
    cache: dict[str, list[tuple[str, str]]] | None = None,
) -> list[SchemaProblem]:
    """Problems of one object against its schema; empty when it validates.

    The object is validated in two parts: everything but ``metadata`` against the kind's
    schema, and ``metadata`` against ObjectMeta plus the API server's name/label rules. The
    first part depends only on the body, so ``cache`` (body → errors) lets bundles that repeat
    the same Role or NetworkPolicy in many namespaces validate it once.
    """
    ref = object_ref(obj)
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    if api_version.startswith(_CONSTRAINT_GROUP + "/"):
        return _check_constraint(obj, constraint_params or {})
    found = _schema_for(api_version, kind)
    if found is None:
        return [
            SchemaProblem(
                ref,
                "none",
                "apiVersion",
                f"no schema known for {api_version} {kind} (Kubernetes {KUBERNETES_VERSION} "
                "or the vendored CRDs)",
            )
        ]
    label, validator = found
    # metadata stays present (some CRDs require it) but empty; it is validated on its own below
    body = {**obj, "metadata": {}} if "metadata" in obj else dict(obj)
    if cache is None:
        body_errors = _body_errors(validator, body)
    else:
        key = json.dumps(body, sort_keys=True, default=repr)
        if key not in cache:
            cache[key] = _body_errors(validator, body)
        body_errors = cache[key]
    problems = [SchemaProblem(ref, label, path, msg) for path, msg in body_errors]
    if "metadata" in obj:
        for err in _object_meta_validator().iter_errors(obj["metadata"]):
            problems.append(SchemaProblem(ref, label, _path(["metadata", *err.path]), err.message))
    problems.extend(_meta_problems(obj, label))
    return problems


def validate_objects(objects: list[dict[str, Any]]) -> list[SchemaProblem]:
    """Problems of every object; Constraints are checked against templates among ``objects``."""
    params = _template_parameter_schemas(objects)
    cache: dict[str, list[tuple[str, str]]] = {}
    out: list[SchemaProblem] = []
    for obj in objects:
        out.extend(validate_object(obj, constraint_params=params, cache=cache))
    return out

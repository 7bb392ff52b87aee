"""Resolving typed references against what really exists in this repository.

Each ``check_*`` method returns ``None`` when the reference resolves and otherwise the reason it
does not. Lookups are lazy and cached per :class:`RepoResolver`, so a model with a hundred
references imports the policy library, renders the example tenants and collects the tests once.
Test collection (``pytest --collect-only -q`` on just the referenced files) is also cached on
disk, keyed by the content of those files and every ``conftest.py``, which keeps
``riskgrid threats validate`` cheap enough to run from the test suite.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib
import inspect
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from riskgrid.threats import refs

CACHE_DIR = Path(".pytest_cache") / "riskgrid-threats"
CACHE_ENV = "RISKGRID_THREATS_CACHE"
COLLECT_TIMEOUT_S = 600  # overrides the collection cache folder
POLICY_TESTS = "tests/policy"
TENANT_EXAMPLES = "examples/tenants"
APP_FACTORY = "riskgrid.service.app:create_app"
SETTINGS_CLASS = "riskgrid.service.settings:Settings"


_COLLECT_ERROR = re.compile(r"_ ERROR collecting (\S+) _")


def _node_file(node_id: str) -> str:
    return node_id.split("::", 1)[0]


def _attr_path(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _field(item: Any, *names: str) -> Any:
    """Read the first present of ``names`` from an object or a mapping (contracts may vary)."""
    for name in names:
        if isinstance(item, dict) and name in item:
            return item[name]
        if hasattr(item, name):
            return getattr(item, name)
    return None


def bundle_has(objects: Iterable[dict], target: str) -> bool:
    """Whether some object matches ``Kind[/name-glob][{label=value}]``."""
    kind, name, label = refs.bundle_parts(target)
    for obj in objects:
        meta = obj.get("metadata") or {}
        if obj.get("kind") != kind:
            continue
        if name and not fnmatch.fnmatchcase(str(meta.get("name", "")), name):
            continue
        if label and (meta.get("labels") or {}).get(label[0]) != label[1]:
            continue
        return True
    return False


def routes_have(routes: set[tuple[str, str]], target: str) -> bool:
    return refs.api_parts(target) in routes


def _build_app(state_dir: Path) -> Any:
    """The service's FastAPI app, built with throw-away development settings.

    Only its OpenAPI document is read; state goes to a temporary folder and the job runner is
    off where the settings allow it, so building it has no effect outside that folder.
    """
    import dataclasses
    import inspect

    module, attr = refs.code_parts(APP_FACTORY)
    factory = getattr(importlib.import_module(module), attr)
    if not inspect.signature(factory).parameters:
        return factory()
    smod, sattr = refs.code_parts(SETTINGS_CLASS)
    settings_cls = getattr(importlib.import_module(smod), sattr)
    names = {f.name for f in dataclasses.fields(settings_cls)}
    wanted = {"state_dir": state_dir, "dev_mode": True, "runner_enabled": False}
    return factory(settings_cls(**{k: v for k, v in wanted.items() if k in names}))


def group_by_folder(paths: Iterable[str], root: Path) -> dict[str, list[str]]:
    """Test files, folders or node ids grouped by the folder pytest would enter for them."""
    groups: dict[str, list[str]] = {}
    for p in paths:
        f = _node_file(p)
        folder = f if (root / f).is_dir() else str(Path(f).parent)
        groups.setdefault(folder, []).append(p)
    return groups


class RepoResolver:
    def __init__(
        self,
        repo_root: Path,
        *,
        use_cache: bool = True,
        collected: Mapping[str, set[str]] | None = None,
    ) -> None:
        """``collected``: node ids already known per test file or folder (e.g. from a running
        pytest session that collected them in full); those paths are not collected again."""
        self.root = repo_root
        self.use_cache = use_cache
        self._collected: dict[str, set[str]] = dict(collected or {})
        self._broken: dict[str, str] = {}  # file pytest could not import → first error line

    # ---- pytest node ids -------------------------------------------------------------------

    def collect(self, files: Iterable[str]) -> set[str]:
        """Node ids pytest collects from ``files`` (repo-relative); missing files add nothing.

        One pytest run per test folder, as a full run meets them: each folder's tests see
        their own ``conftest.py`` (giving pytest several folders at once loads every folder's
        conftest up front, which breaks tests that import from ``conftest``).
        """
        wanted = sorted({f for f in files if (self.root / f).exists()})
        todo = [f for f in wanted if f not in self._collected]
        for group in group_by_folder(todo, self.root).values():
            found = self._collect_cached(group)
            for f in group:
                prefix = f.rstrip("/") + ("/" if (self.root / f).is_dir() else "")
                self._collected[f] = {
                    n for n in found if _node_file(n) == f or _node_file(n).startswith(prefix)
                }
        out: set[str] = set()
        for f in wanted:
            out |= self._collected[f]
        return out

    def _cache_key(self, files: list[str]) -> str:
        h = hashlib.sha256()
        paths: set[Path] = set()
        for f in files:
            p = self.root / f
            paths |= set(p.rglob("*.py")) if p.is_dir() else {p}
        paths |= set((self.root / "tests").rglob("conftest.py"))
        paths.add(self.root / "pyproject.toml")
        for p in sorted(paths):
            if p.is_file():
                h.update(str(p.relative_to(self.root)).encode())
                h.update(p.read_bytes())
        return h.hexdigest()

    def _collect_cached(self, files: list[str]) -> set[str]:
        key = self._cache_key(files)
        folder = Path(os.environ.get(CACHE_ENV) or self.root / CACHE_DIR)
        cache = folder / f"collect-{key[:24]}.json"
        if self.use_cache and cache.is_file():
            try:
                return set(json.loads(cache.read_text())["ids"])
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache is just a miss
        ids, broken = self._run_collect(files)
        self._broken.update(broken)
        # A collection error may be another area's half-written module: never cache it.
        if self.use_cache and not broken:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp")
            tmp.write_text(json.dumps({"files": files, "ids": sorted(ids)}))
            os.replace(tmp, cache)
        return ids

    def _run_collect(self, files: list[str]) -> tuple[set[str], dict[str, str]]:
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                 "--continue-on-collection-errors", "-o", "addopts=", *files],
                cwd=self.root,
                capture_output=True,
                text=True,
                timeout=COLLECT_TIMEOUT_S,
                check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return set(), dict.fromkeys(files, f"collection took over {COLLECT_TIMEOUT_S} s")
        lines = proc.stdout.splitlines()
        ids = {line.strip() for line in lines if "::" in line and not line.startswith("ERROR")}
        broken: dict[str, str] = {}
        current = None
        for line in lines:
            m = _COLLECT_ERROR.search(line)
            if m:
                current = m.group(1)
                broken[current] = "collection error"
            elif current and line.startswith("E   ") and broken[current] == "collection error":
                broken[current] = line[4:].strip()
        if any(line.startswith("ERROR") for line in lines) and not broken:
            broken = dict.fromkeys(files, "collection error")  # unattributed: trust nothing
        return ids, broken

    def test_nodes(self, node_id: str) -> tuple[list[str], str | None]:
        """Collected node ids for ``node_id``: itself, or every parametrisation of it when it
        names a parametrised test without its ``[…]`` part (all of them must then pass)."""
        path = _node_file(node_id)
        if not (self.root / path).is_file():
            return [], f"test file {path} not found"
        collected = self.collect([path])
        if path in self._broken:
            return [], (
                f"pytest cannot collect {path} together with the other referenced test files "
                f"(as in a full run): {self._broken[path]}"
            )
        if node_id in collected:
            return [node_id], None
        params = sorted(n for n in collected if n.startswith(node_id + "["))
        if not params:
            return [], f"pytest does not collect {node_id!r}"
        return params, None

    # ---- policy library --------------------------------------------------------------------

    @cached_property
    def _policies(self) -> dict[str, Any] | str:
        try:
            library = importlib.import_module("riskgrid.policy.library")
            policies = library.load_library()
        except Exception as exc:  # any failure means "cannot resolve", reported per reference
            return f"policy library unavailable ({type(exc).__name__}: {exc})"
        if isinstance(policies, dict):
            items = list(policies.values())
        else:
            items = list(_field(policies, "policies") or policies)
        return {str(_field(p, "id", "policy_id")): p for p in items}

    def policy_control_claims(self) -> list[tuple[str, str, str]]:
        """(policy metadata source, policy id, control id) for every control a policy claims."""
        if isinstance(self._policies, str):
            return []
        metadata_dir = getattr(
            importlib.import_module("riskgrid.policy.library"), "METADATA_DIR", None
        )
        out: list[tuple[str, str, str]] = []
        for pid, policy in self._policies.items():
            slug = _field(policy, "slug")
            source = (
                str(Path(metadata_dir) / f"{slug}.yaml")
                if metadata_dir is not None and slug
                else f"policy {pid}"
            )
            out.extend((source, pid, str(c)) for c in (_field(policy, "controls") or ()))
        return out

    def check_policy(self, policy_id: str) -> str | None:
        if isinstance(self._policies, str):
            return self._policies
        return None if policy_id in self._policies else f"no policy {policy_id!r} in the library"

    def policy_case_nodes(self, target: str) -> tuple[list[str], str | None]:
        """``RG-X/case`` → (pytest node ids running that case, reason it does not resolve).

        The policy suite parametrises its case tests with ids ``<policy id>:<case name>``;
        every test under ``tests/policy`` with exactly that id runs the case (one per engine,
        for instance), and all of them must pass.
        """
        policy_id, case = refs.policy_case_parts(target)
        if reason := self.check_policy(policy_id):
            return [], reason
        assert isinstance(self._policies, dict)
        cases = _field(self._policies[policy_id], "cases", "test_cases", "tests") or []
        names = {str(_field(c, "name", "id")) for c in cases}
        if case not in names:
            return [], f"policy {policy_id} has no test case {case!r}"
        param = f"[{policy_id}:{case}]"
        nodes = sorted(n for n in self.collect([POLICY_TESTS]) if n.endswith(param))
        if not nodes:
            return [], f"no test in {POLICY_TESTS} is parametrised with {param[1:-1]!r}"
        return nodes, None

    # ---- tenant bundle ---------------------------------------------------------------------

    @cached_property
    def _bundle(self) -> list[dict] | str:
        try:
            from riskgrid.spec.loading import load_resource
            from riskgrid.spec.tenant import Tenant
            from riskgrid.tenancy.render import render_tenant
        except Exception as exc:
            return f"tenancy unavailable ({type(exc).__name__}: {exc})"
        files = sorted((self.root / TENANT_EXAMPLES).glob("*.yaml"))
        if not files:
            return f"no example tenants in {TENANT_EXAMPLES}"
        objects: list[dict] = []
        try:
            for f in files:
                objects.extend(render_tenant(load_resource(f, Tenant)))
        except Exception as exc:
            return f"rendering the example tenants failed ({type(exc).__name__}: {exc})"
        return objects

    def check_bundle(self, target: str) -> str | None:
        if isinstance(self._bundle, str):
            return self._bundle
        if bundle_has(self._bundle, target):
            return None
        return f"the rendered example tenant bundles hold no {target}"

    # ---- service API -----------------------------------------------------------------------

    @cached_property
    def _routes(self) -> set[tuple[str, str]] | str:
        """(METHOD, path) of every operation in the service's OpenAPI document."""
        import tempfile

        try:
            with tempfile.TemporaryDirectory(
                prefix="riskgrid-threats-", ignore_cleanup_errors=True
            ) as tmp:
                paths = _build_app(Path(tmp)).openapi()["paths"]
        except Exception as exc:
            return f"service app unavailable ({type(exc).__name__}: {exc})"
        return {(m.upper(), path) for path, ops in paths.items() for m in ops}

    def check_api(self, target: str) -> str | None:
        if isinstance(self._routes, str):
            return self._routes
        return None if routes_have(self._routes, target) else f"the service has no route {target}"

    # ---- code ------------------------------------------------------------------------------

    def check_code(self, target: str) -> str | None:
        """A code reference must name the function, class or method that implements the
        control: ``module:__name__``, a constant or a module resolve for anything and prove
        nothing, so they are refused."""
        module, attr = refs.code_parts(target)
        if any(part.startswith("__") and part.endswith("__") for part in attr.split(".")):
            return f"{target} names a module-level attribute, not the code that implements it"
        try:
            obj = _attr_path(importlib.import_module(module), attr)
        except Exception as exc:
            return f"cannot import {target} ({type(exc).__name__}: {exc})"
        if inspect.ismodule(obj) or not callable(obj):
            return (
                f"{target} is a {type(obj).__name__}, not a function, class or method; "
                "name the code that implements the control"
            )
        return None

    def check_implementation(self, ref: refs.Ref) -> str | None:
        return {
            "policy": self.check_policy,
            "bundle": self.check_bundle,
            "api": self.check_api,
            "code": self.check_code,
        }[ref.kind](ref.target)

    def verification_nodes(self, ref: refs.Ref) -> tuple[list[str], str | None]:
        """The pytest node ids that prove ``ref``, or the reason there are none."""
        if ref.kind == "policy-case":
            return self.policy_case_nodes(ref.target)
        return self.test_nodes(ref.target)

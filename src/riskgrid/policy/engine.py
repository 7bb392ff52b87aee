"""Rego engine adapters: regorus (default, fast) and regopy (rego-cpp, the portability check).

Both load the same modules — the shared workload library, every policy module and a generated
*driver* module that evaluates every policy over every object of ``input.objects`` in one query.
An engine is built once per (engine, policy set) and reused; evaluation only swaps the input.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

REGO_DIR = Path(__file__).parent / "rego"
LIB_PACKAGE = "lib.riskgrid"
DRIVER_PACKAGE = "riskgrid.batch"
ENGINES = ("regorus", "regopy")

# (index of the object in the batch, policy id, violation as the policy returned it)
RawViolation = tuple[int, str, dict[str, Any]]
# (policy id, module slug[, metadata kinds]); no kinds or "*": every object.
PolicyKey = tuple[str, str] | tuple[str, str, Sequence[str]]


def policy_kinds(entry: PolicyKey) -> list[str]:
    """The kinds a driver entry applies to (``["*"]``: every object)."""
    return list(entry[2]) if len(entry) > 2 else ["*"]


#: The driver rule that normalises every object once (the benchmark swaps it for
#: ``norms := input.norms`` to time each policy on its own).
NORMS_RULE = "norms := [w | some o in input.objects; w := workload.normalise(o)]"


def rego_modules(rego_dir: Path = REGO_DIR) -> dict[str, str]:
    """Every Rego module of ``rego_dir`` (default: the shipped library), by path relative to
    it (lib first)."""
    out: dict[str, str] = {}
    for sub in ("lib", "policies"):
        for path in sorted((rego_dir / sub).glob("*.rego")):
            out[f"{sub}/{path.name}"] = path.read_text(encoding="utf-8")
    return out


def driver_module(
    policies: Sequence[PolicyKey],
    params_ref: str = "input.params",
    *,
    indexed: bool = True,
) -> str:
    """The batch driver: one rule per policy, every object normalised exactly once.

    ``policies`` is ``(policy id, module slug[, kinds])``; the module is
    ``data.lib.riskgrid.policies.<slug>`` and must define ``violations(w, params)``. When
    ``kinds`` is given (and is not ``["*"]``) the policy is only called for objects of those
    kinds — the same pre-filter a Gatekeeper Constraint's ``match.kinds`` applies, and most
    of the batch's speed. ``params_ref`` is where per-policy parameters live (the OPA bundle
    reads them from data).

    ``indexed``: the caller also passes ``input.by_policy`` (policy id → indices of the
    objects it applies to, :class:`Dispatch`), so each policy visits only its objects, and a
    policy with none costs one lookup — instead of testing the kind of every object against
    every policy (52 × the batch), which also made a one-object query cost ~1 ms. The OPA
    bundle's driver is not indexed: its callers send ``input.objects`` only.
    """
    lines = [
        f"package {DRIVER_PACKAGE}",
        "",
        "import data.lib.riskgrid.workload",
        "",
        NORMS_RULE,
        "",
    ]
    for n, entry in enumerate(policies):
        policy_id, slug = entry[0], entry[1]
        kinds = policy_kinds(entry)
        # Parameters as a rule: looked up once per query, not once per object.
        lines += [f'params_{n} := object.get({params_ref}, "{policy_id}", {{}})', ""]
        call = f"some v in data.{LIB_PACKAGE}.policies.{slug}.violations(w, params_{n})"
        body = ["\tsome i", "\tw := norms[i]"]
        if indexed:
            # The rules bound to locals before the loop: a rule reference inside it is looked
            # up again on every iteration (~0.4 µs per object and policy in regorus). A policy
            # without objects has no key in `by_policy`, so its body stops at the first line
            # (a one-object query touches few of the ~50 policies).
            call = f"some v in data.{LIB_PACKAGE}.policies.{slug}.violations(w, ps)"
            body = [
                f'\tindices := input.by_policy["{policy_id}"]',
                "\tns := norms",
                f"\tps := params_{n}",
                "\tsome i in indices",
                "\tw := ns[i]",
            ]
        elif "*" not in kinds:
            lines += [f"kinds_{n} := {{{', '.join(json.dumps(k) for k in kinds)}}}", ""]
            body.append(f"\tkinds_{n}[w.kind]")
        lines += [
            f'results contains [i, "{policy_id}", v] if {{',
            *body,
            f"\t{call}",
            "}",
            "",
        ]
    return "\n".join(lines)


class RegoEngine(Protocol):
    name: str

    def evaluate(self, objects: list[dict[str, Any]], params: dict[str, Any]) -> list[RawViolation]:
        """Violations of every loaded policy for every object, in a stable order."""
        ...


def index_by_kind(objects: Sequence[Any]) -> dict[str, list[int]]:
    """Kind → indices of the objects of that kind."""
    out: dict[str, list[int]] = {}
    for i, obj in enumerate(objects):
        kind = obj.get("kind") if isinstance(obj, dict) else None
        if isinstance(kind, str):
            out.setdefault(kind, []).append(i)
    return out


class Dispatch:
    """Which objects each policy applies to (its metadata ``kinds``; ``*`` or no kinds: every
    object): the indexed driver's ``input.by_policy``, built in Python in one pass."""

    def __init__(self, policies: Sequence[PolicyKey]):
        self._everywhere: list[str] = []
        self._by_kind: dict[str, list[str]] = {}
        for entry in policies:
            kinds = policy_kinds(entry)
            if "*" in kinds:
                self._everywhere.append(str(entry[0]))
            else:
                for kind in kinds:
                    self._by_kind.setdefault(str(kind), []).append(str(entry[0]))

    def by_policy(self, objects: Sequence[Any]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for kind, indices in index_by_kind(objects).items():
            for policy_id in self._by_kind.get(kind, ()):
                out.setdefault(policy_id, []).extend(indices)
        if objects:
            every = list(range(len(objects)))
            for policy_id in self._everywhere:
                out[policy_id] = every
        return out


def _decode(rows: Any) -> list[RawViolation]:
    out = [(int(i), str(pid), v) for i, pid, v in rows]
    out.sort(key=lambda r: (r[0], r[1], json.dumps(r[2], sort_keys=True)))
    return out


class RegorusEngine:
    """Microsoft's Rust interpreter; the default engine."""

    name = "regorus"
    #: Most objects per query (see :meth:`evaluate`).
    CHUNK = 1000

    def __init__(self, modules: dict[str, str], driver: str, dispatch: Dispatch):
        import regorus

        self._dispatch = dispatch
        self._engine = regorus.Engine()
        for path, source in modules.items():
            self._engine.add_policy(path, source)
        self._engine.add_policy("driver.rego", driver)
        # One engine object is not safe to drive from two threads at once (the service may).
        self._lock = threading.Lock()

    def evaluate(self, objects: list[dict[str, Any]], params: dict[str, Any]) -> list[RawViolation]:
        rows: list[Any] = []
        # Queries of at most CHUNK objects: a whole 10,000-object batch in one query is ~5%
        # slower per object (measured, benchmarks/bench_policy.py) than chunks of 1,000.
        for start in range(0, len(objects), self.CHUNK):
            chunk = objects[start : start + self.CHUNK]
            found = self._query(chunk, params)
            rows += found if not start else [[i + start, pid, v] for i, pid, v in found]
        return _decode(rows)

    def _query(self, objects: list[dict[str, Any]], params: dict[str, Any]) -> list[Any]:
        payload = {
            "objects": objects,
            "params": params,
            "by_policy": self._dispatch.by_policy(objects),
        }
        with self._lock:
            try:
                self._engine.set_input(payload)
            except TypeError:
                # Non-JSON scalars from Python callers (datetime, Decimal...) become text,
                # as they would in YAML/JSON on disk.
                self._engine.set_input_json(json.dumps(payload, default=str))
            out = self._engine.eval_rule_as_json(f"data.{DRIVER_PACKAGE}.results")
        return list(json.loads(out) or [])


class RegopyEngine:
    """Microsoft's rego-cpp through its Python binding; slow, used as the portability check."""

    name = "regopy"

    def __init__(self, modules: dict[str, str], driver: str, dispatch: Dispatch):
        import regopy

        self._dispatch = dispatch
        self._regopy = regopy
        self._interp = regopy.Interpreter()
        for path, source in modules.items():
            self._interp.add_module(path, source)
        self._interp.add_module("driver.rego", driver)
        self._lock = threading.Lock()

    def evaluate(self, objects: list[dict[str, Any]], params: dict[str, Any]) -> list[RawViolation]:
        payload = json.loads(
            json.dumps(
                {
                    "objects": objects,
                    "params": params,
                    "by_policy": self._dispatch.by_policy(objects),
                },
                default=str,
            )
        )
        with self._lock:
            self._interp.set_input(self._regopy.Input(payload))
            out = self._interp.query(f"x = data.{DRIVER_PACKAGE}.results")
            if not out.ok():
                raise RuntimeError(f"regopy evaluation failed: {out}")
            rows = json.loads(out.binding("x").json())
        return _decode(rows)


def make_engine(name: str, policies: Sequence[PolicyKey]) -> RegoEngine:
    """A fresh engine named ``name`` with every shipped module and a driver for ``policies``."""
    modules = rego_modules()
    driver = driver_module(policies)
    if name == "regorus":
        return RegorusEngine(modules, driver, Dispatch(policies))
    if name == "regopy":
        return RegopyEngine(modules, driver, Dispatch(policies))
    raise ValueError(f"unknown Rego engine {name!r}; known: {', '.join(ENGINES)}")


_per_thread = threading.local()


def shared_engine(name: str, policies: tuple[PolicyKey, ...]) -> RegoEngine:
    """This thread's engine for ``policies``: parsed once per thread, reused by every check.

    Per thread, not per process: a regorus ``Engine`` is a pyo3 *unsendable* object that may
    only be used — and dropped — on the thread that created it.
    """
    engines: dict[tuple[str, tuple[PolicyKey, ...]], RegoEngine]
    engines = getattr(_per_thread, "engines", None) or {}
    _per_thread.engines = engines
    key = (name, policies)
    if key not in engines:
        engines[key] = make_engine(name, policies)
    return engines[key]

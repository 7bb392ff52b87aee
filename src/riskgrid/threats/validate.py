"""``riskgrid threats validate``: schema, internal cross-references and repository references.

Three kinds of check, all reported together with the file and field path of each dangling
reference:

1. internal — every id a section names exists (a threat's actors and controls, a flow's assets,
   a tree's children and leaf threats …), trees are acyclic, every control serves a threat;
2. taxonomies — every ATT&CK / Microsoft / OWASP id is in the pinned, vendored list;
3. repository — every implementation and verification reference resolves
   (:mod:`riskgrid.threats.resolve`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from riskgrid.spec.errors import Problem, SpecError
from riskgrid.threats import refs
from riskgrid.threats.loader import LoadedModel, load_model
from riskgrid.threats.model import ThreatModel
from riskgrid.threats.resolve import RepoResolver, _node_file
from riskgrid.threats.taxonomies import Taxonomy, load_taxonomy


@dataclass(frozen=True)
class Verification:
    """One verification of one control and a pytest node id that proves it (a reference may
    resolve to several nodes, e.g. a policy case run by two engines: one entry per node)."""

    control: str
    ref: str
    kind: str
    node_id: str


@dataclass
class Validated:
    loaded: LoadedModel
    taxonomies: dict[str, Taxonomy]
    verifications: list[Verification] = field(default_factory=list)

    @property
    def model(self) -> ThreatModel:
        return self.loaded.model


def load_taxonomies(loaded: LoadedModel) -> dict[str, Taxonomy]:
    out: dict[str, Taxonomy] = {}
    problems: list[Problem] = []
    for key, pin in loaded.model.metadata.taxonomies.items():
        try:
            tax = load_taxonomy(loaded.root / pin.file)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        if tax.version != pin.version:
            problems.append(
                Problem(
                    str(loaded.root / pin.file),
                    ("version",),
                    f"is {tax.version!r} but the model pins {key} to {pin.version!r}",
                )
            )
        out[key] = tax
    for key in ("attack", "ms_k8s", "owasp_k8s"):
        if key not in loaded.model.metadata.taxonomies:
            problems.append(Problem("metadata", ("taxonomies", key), "must be pinned"))
    if problems:
        raise SpecError(problems)
    return out


def _internal(loaded: LoadedModel) -> list[Problem]:
    m = loaded.model
    boundaries = {b.id for b in m.boundaries}
    assets = {a.id: a for a in m.assets}
    actors = {a.id for a in m.actors}
    flows = {f.id for f in m.flows}
    controls = {c.id for c in m.controls}
    threats = {t.id for t in m.threats}
    out: list[Problem] = []

    def need(ok: bool, section: str, item_id: str, loc: tuple, message: str) -> None:
        if not ok:
            source, where = loaded.where(section, item_id, *loc)
            out.append(Problem(source, where, message))

    for b in m.boundaries:
        need(b.parent in boundaries | {None}, "boundaries", b.id, ("parent",), "unknown boundary")
    for a in m.assets:
        need(a.boundary in boundaries, "assets", a.id, ("boundary",), "unknown boundary")
    for ac in m.actors:
        need(ac.start in boundaries, "actors", ac.id, ("start",), "unknown boundary")
    for f in m.flows:
        need(f.source in assets, "flows", f.id, ("source",), "unknown asset")
        need(f.destination in assets, "flows", f.id, ("destination",), "unknown asset")
        for i, d in enumerate(f.data):
            ok = d in assets and assets[d].kind.value in ("data", "credential")
            need(ok, "flows", f.id, ("data", i), "unknown data or credential asset")
        for i, crossed in enumerate(f.crosses):
            need(crossed in boundaries, "flows", f.id, ("crosses", i), "unknown boundary")
    used: set[str] = set()
    for t in m.threats:
        for i, actor in enumerate(t.actors):
            need(actor in actors, "threats", t.id, ("actors", i), "unknown actor")
        for i, target in enumerate(t.targets):
            ok = target in assets or target in flows or target in boundaries
            need(ok, "threats", t.id, ("targets", i), "unknown asset, flow or boundary")
        seen: set[str] = set()
        for i, link in enumerate(t.controls):
            need(link.control in controls, "threats", t.id, ("controls", i, "control"), "unknown")
            need(link.control not in seen, "threats", t.id, ("controls", i), "listed twice")
            seen.add(link.control)
            used.add(link.control)
    for c in m.controls:
        need(c.id in used, "controls", c.id, (), "not linked from any threat")
    for tree in m.attack_trees:
        nodes = {n.id: n for n in tree.nodes}
        need(len(nodes) == len(tree.nodes), "attack_trees", tree.id, ("nodes",), "duplicate id")
        need(tree.root in nodes, "attack_trees", tree.id, ("root",), "unknown node")
        for i, n in enumerate(tree.nodes):
            for j, child in enumerate(n.children):
                need(
                    child in nodes, "attack_trees", tree.id, ("nodes", i, "children", j), "unknown"
                )
            if n.threat is not None:
                need(
                    n.threat in threats, "attack_trees", tree.id, ("nodes", i, "threat"), "unknown"
                )
        if tree.root in nodes and all(c in nodes for n in tree.nodes for c in n.children):
            need(_acyclic(tree.root, nodes), "attack_trees", tree.id, ("nodes",), "has a cycle")
    return out


def _acyclic(root: str, nodes: dict) -> bool:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(n: str) -> bool:
        if state.get(n) == 1:
            return False
        if state.get(n) == 2:
            return True
        state[n] = 1
        ok = all(visit(c) for c in nodes[n].children)
        state[n] = 2
        return ok

    return visit(root)


def _taxonomy_ids(loaded: LoadedModel, taxonomies: dict[str, Taxonomy]) -> list[Problem]:
    out: list[Problem] = []
    for t in loaded.model.threats:
        for key in ("attack", "ms_k8s", "owasp_k8s"):
            tax = taxonomies[key]
            for i, item in enumerate(getattr(t.mappings, key)):
                if item not in tax:
                    source, where = loaded.where("threats", t.id, "mappings", key, i)
                    msg = f"{item!r} is not in {tax.name} {tax.version}"
                    out.append(Problem(source, where, msg))
    return out


def _repository(loaded: LoadedModel, resolver: RepoResolver) -> tuple[list, list[Problem]]:
    problems: list[Problem] = []
    parsed: list[tuple[str, str, int, refs.Ref]] = []
    for c in loaded.model.controls:
        for field_name, kinds in (
            ("implementation", refs.IMPLEMENTATION_KINDS),
            ("verification", refs.VERIFICATION_KINDS),
        ):
            for i, text in enumerate(getattr(c, field_name)):
                try:
                    parsed.append((c.id, field_name, i, refs.parse_ref(text, kinds)))
                except ValueError as exc:
                    source, where = loaded.where("controls", c.id, field_name, i)
                    problems.append(Problem(source, where, str(exc)))
    # One collection run for every referenced test file.
    files = {_node_file(r.target) for *_, r in parsed if r.kind in ("test", "isolation")}
    if any(r.kind == "policy-case" for *_, r in parsed):
        files.add("tests/policy")
    resolver.collect(files)

    verifications: list[Verification] = []
    for control_id, field_name, i, ref in parsed:
        nodes: list[str] = []
        if field_name == "implementation":
            reason = resolver.check_implementation(ref)
        else:
            nodes, reason = resolver.verification_nodes(ref)
        if reason:
            source, where = loaded.where("controls", control_id, field_name, i)
            problems.append(Problem(source, where, f"{ref}: {reason}"))
        verifications.extend(Verification(control_id, str(ref), ref.kind, n) for n in nodes)
    # The other direction: once the model uses the policy library, a policy that claims to
    # implement a control must name one the model defines.
    controls = {c.id for c in loaded.model.controls}
    uses_library = any(r.kind == "policy" for *_, r in parsed)
    claims = resolver.policy_control_claims() if uses_library else []
    for source, policy_id, control_id in claims:
        if control_id not in controls:
            problems.append(
                Problem(source, ("controls",), f"{policy_id} names control {control_id!r}, "
                        "which the threat model does not define")
            )  # fmt: skip
    return verifications, problems


def validate(
    model_dir: str | Path,
    *,
    repo_root: str | Path,
    use_cache: bool = True,
    collected: Mapping[str, set[str]] | None = None,
) -> Validated:
    """Load the model and resolve everything; raises :class:`SpecError` listing each problem.

    ``collected`` may give node ids already collected per test file or folder (see
    :class:`RepoResolver`).
    """
    loaded = load_model(model_dir)
    taxonomies = load_taxonomies(loaded)
    problems = _internal(loaded) + _taxonomy_ids(loaded, taxonomies)
    resolver = RepoResolver(Path(repo_root), use_cache=use_cache, collected=collected)
    verifications, repo_problems = _repository(loaded, resolver)
    problems += repo_problems
    if problems:
        raise SpecError(problems)
    return Validated(loaded, taxonomies, verifications)

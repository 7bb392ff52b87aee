"""Is a catalogue cloud service *assured*: every control of its threat-model entry implemented
and verified by passing tests?

A catalogue service (:data:`riskgrid.spec.cloud_catalogue.CATALOGUE`) names one threat of the
model; its required controls are every control that threat links to. A control counts only when
it is ``implemented`` and every node id its verification references resolve to *passed* in the
test evidence — the rule :func:`riskgrid.threats.evidence.build_evidence` applies for the gate.

Evidence at render time, in order (docs/cloud-services.md, D-#17.4):

1. ``junit``: a JUnit XML of a test run (CI's full run, ``pytest --junitxml``);
2. otherwise the evidence file of ``riskgrid threats verify`` (``results/threats/evidence.json``)
   when it exists and its binding still holds for this tree (the gate's own check: same commit
   and tree, same test files, JUnit files unchanged and newer than the tested code); its JUnit
   files are re-read, the outcomes it records are not trusted;
3. otherwise there is no evidence and no service is assured (a refusal says how to get some).

Only the controls of the services asked for are resolved, seeded with the node ids of the
evidence's own run, so deciding costs no ``pytest --collect-only`` when the evidence is a full run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from riskgrid.spec.cloud_catalogue import CATALOGUE
from riskgrid.threats import evidence as ev
from riskgrid.threats.loader import load_model
from riskgrid.threats.model import ControlStatus, ThreatModel
from riskgrid.threats.refs import parse_ref

DEFAULT_EVIDENCE = Path("results/threats/evidence.json")
VERIFICATION_KINDS = ("test", "isolation", "policy-case")


@dataclass(frozen=True)
class EvidenceRun:
    """The test outcomes assurance is decided on, and where they came from."""

    run: ev.JUnitRun | None
    source: str
    problems: tuple[str, ...] = ()


def required_controls(model: ThreatModel, service: str) -> tuple[str | None, list[str]]:
    """``(problem, control ids)`` of a catalogue service's threat-model entry."""
    threat_id = CATALOGUE[service].threat
    threat = next((t for t in model.threats if t.id == threat_id), None)
    if threat is None:
        return f"no threat-model entry {threat_id} for {service}", []
    return None, [link.control for link in threat.controls]


def load_run(
    repo_root: Path, *, junit: Path | None, evidence: Path | None, test_files: Iterable[str] = ()
) -> EvidenceRun:
    """The JUnit outcomes to decide on (see the module docstring for the order)."""
    if junit is not None:
        return EvidenceRun(ev.parse_junit(junit), f"junit:{junit}")
    path = evidence if evidence is not None else repo_root / DEFAULT_EVIDENCE
    if not path.is_file():
        return EvidenceRun(None, "none", (f"no test evidence ({path} not found)",))
    from riskgrid.threats.binding import tree_state

    recorded = ev.load_evidence(path)
    files = ev.file_hashes(set(test_files), repo_root)
    run, problems = ev.check_binding(
        recorded, tree_state(repo_root), files, repo_root, allow_dirty=False
    )
    if problems or run is None:
        return EvidenceRun(None, f"evidence:{path}", tuple(problems) or ("no JUnit run",))
    return EvidenceRun(run, f"evidence:{path}")


def _node_ids(resolver: object, refs: list[str]) -> tuple[list[str], list[str]]:
    """Node ids of verification references, and the reasons a reference resolves to none."""
    nodes: list[str] = []
    broken: list[str] = []
    for text in refs:
        ref = parse_ref(text, VERIFICATION_KINDS)
        found, why = resolver.verification_nodes(ref)  # type: ignore[attr-defined]
        if why or not found:
            broken.append(f"{text}: {why or 'no test'}")
        nodes.extend(found)
    return nodes, broken


def assess_services(
    services: Iterable[str],
    *,
    model_dir: Path,
    repo_root: Path,
    junit: Path | None = None,
    evidence: Path | None = None,
) -> dict[str, list[str]]:
    """For each service, why it is not assured (an empty list: assured)."""
    from riskgrid.threats.resolve import RepoResolver

    model = load_model(model_dir).model
    controls = {c.id: c for c in model.controls}
    wanted = sorted(set(services))
    required: dict[str, tuple[str | None, list[str]]] = {
        s: required_controls(model, s) for s in wanted
    }
    refs = {cid: list(controls[cid].verification) for _, ids in required.values() for cid in ids
            if cid in controls}  # fmt: skip
    # The test files these controls run: the evidence must have been made with them as they are.
    files = {r.split(":", 1)[1].strip().split("::", 1)[0] for rs in refs.values() for r in rs
             if not r.startswith("policy-case:")}  # fmt: skip
    got = load_run(repo_root, junit=junit, evidence=evidence, test_files=files)
    seeds = ev.collected_from_junit(got.run, repo_root) if got.run is not None else {}
    resolver = RepoResolver(repo_root, collected=seeds)
    out: dict[str, list[str]] = {}
    for s in wanted:
        problem, ids = required[s]
        reasons = [problem] if problem else []
        for cid in ids:
            c = controls.get(cid)
            if c is None:
                reasons.append(f"{cid} (not in the model)")
                continue
            if c.status is not ControlStatus.implemented:
                reasons.append(f"{cid} ({c.status.value}: not implemented)")
                continue
            if got.run is None:
                reasons.append(f"{cid} (not verified)")
                continue
            nodes, broken = _node_ids(resolver, refs[cid])
            failing = [
                f"{n} {got.run.cases[ev.junit_key(n)].outcome}"
                if ev.junit_key(n) in got.run.cases
                else f"{n} not-run"
                for n in nodes
                if (case := got.run.cases.get(ev.junit_key(n))) is None or case.outcome != "passed"
            ]
            if broken or failing:
                reasons.append(f"{cid} (not verified: {', '.join([*broken, *failing][:3])})")
        if reasons and got.run is None:
            reasons.append(
                f"no test evidence: {'; '.join(got.problems)} — run 'riskgrid threats verify' "
                "or pass --junit with a test run's JUnit XML"
            )
        out[s] = reasons
    return out

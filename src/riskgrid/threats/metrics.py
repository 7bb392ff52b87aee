"""The threat model's numbers, computed from the model and the set of verified controls.

Pure functions: no I/O, no clock (``today`` is an argument). Definitions (also in
``docs/threat-model.md``):

- inherent risk of a threat = likelihood × impact (each 1–5, so 1–25); severity band of the
  inherent score: low ≤ 4, medium 5–9, high 10–16, critical ≥ 17;
- residual risk of a threat given a set W of working controls = L' × I' where
  L' = L · Π(1 − e) over W's preventive links and I' = I · Π(1 − w·e) over W's detective and
  corrective links; e is the link's effectiveness (scales.effectiveness), w the model's
  ``detective_weight``. *Verified* residual uses W = verified controls, *design* residual uses
  W = every mapped control; the assurance gap is Σ verified residual − Σ design residual;
- preventive coverage = share of threats with ≥ 1 verified preventive control;
- defence in depth = share of high/critical threats whose verified controls span ≥ 2 layers;
- taxonomy coverage = share of the pinned techniques mapped by some threat that has ≥ 1
  verified control; a parent technique counts when any of its sub-techniques does;
- tenant isolation pass rate = passed / all isolation verifications (not-run counts as failed);
- exceptions in force = not expired on ``today``; expiring = in force and expiring within 30 days;
- attack-tree goals: a leaf is cut when its threat has a verified preventive control, an OR node
  when all children are cut, an AND node when any child is; a goal not cut is reachable.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from riskgrid.threats.model import AttackTree, ControlType, ThreatModel
from riskgrid.threats.taxonomies import Taxonomy

EXPIRY_WINDOW_DAYS = 30


def severity(score: float) -> str:
    if score >= 17:
        return "critical"
    if score >= 10:
        return "high"
    if score >= 5:
        return "medium"
    return "low"


@dataclass(frozen=True)
class ExceptionRecord:
    """A policy exception as the metrics see it: who, what and until when."""

    name: str
    policies: tuple[str, ...]
    expires: date
    source: str


@dataclass(frozen=True)
class ThreatScore:
    threat: str
    inherent: int
    severity: str
    residual_design: float
    residual_verified: float
    verified_controls: tuple[str, ...]
    verified_layers: tuple[str, ...]
    has_verified_preventive: bool


@dataclass(frozen=True)
class TaxonomyCoverage:
    total: int
    referenced: int
    covered: int
    uncovered: tuple[str, ...]

    @property
    def share(self) -> float:
        return self.covered / self.total if self.total else 0.0


@dataclass(frozen=True)
class Metrics:
    threats: tuple[ThreatScore, ...]
    preventive_coverage: float
    defence_in_depth: float
    high_critical: int
    inherent_total: float
    residual_design_total: float
    residual_verified_total: float
    attack: TaxonomyCoverage
    ms_k8s: TaxonomyCoverage
    isolation_passed: int
    isolation_total: int
    exceptions_in_force: int
    exceptions_expiring: int
    controls_total: int
    controls_implemented: int
    controls_verified: int
    goals_reachable: dict[str, bool] = field(default_factory=dict)

    @property
    def assurance_gap(self) -> float:
        return self.residual_verified_total - self.residual_design_total

    @property
    def isolation_pass_rate(self) -> float:
        return self.isolation_passed / self.isolation_total if self.isolation_total else 0.0

    def headline(self) -> dict[str, float]:
        """The gateable numbers, by the names ``floors.yaml`` uses."""
        return {
            "preventive_coverage": round(self.preventive_coverage, 4),
            "defence_in_depth": round(self.defence_in_depth, 4),
            "inherent_risk": round(self.inherent_total, 2),
            "residual_risk_design": round(self.residual_design_total, 2),
            "residual_risk_verified": round(self.residual_verified_total, 2),
            "assurance_gap": round(self.assurance_gap, 2),
            "attack_coverage": round(self.attack.share, 4),
            "ms_k8s_coverage": round(self.ms_k8s.share, 4),
            "tenant_isolation_pass_rate": round(self.isolation_pass_rate, 4),
            "exceptions_in_force": self.exceptions_in_force,
            "exceptions_expiring_30d": self.exceptions_expiring,
            "controls_verified": self.controls_verified,
            "controls_total": self.controls_total,
            "attack_goals_reachable": sum(self.goals_reachable.values()),
        }


def score_threats(model: ThreatModel, verified: set[str]) -> list[ThreatScore]:
    controls = {c.id: c for c in model.controls}
    eff = model.scales.effectiveness
    w = model.scales.detective_weight
    out = []
    for t in model.threats:

        def residual(working: set[str], t=t) -> float:
            like, imp = float(t.likelihood), float(t.impact)
            for link in t.controls:
                if link.control not in working:
                    continue
                e = eff[link.effectiveness]
                if controls[link.control].type is ControlType.preventive:
                    like *= 1 - e
                else:
                    imp *= 1 - w * e
            return like * imp

        mine = [link.control for link in t.controls]
        ok = [c for c in mine if c in verified]
        inherent = t.likelihood * t.impact
        out.append(
            ThreatScore(
                threat=t.id,
                inherent=inherent,
                severity=severity(inherent),
                residual_design=residual(set(mine)),
                residual_verified=residual(set(ok)),
                verified_controls=tuple(ok),
                verified_layers=tuple(sorted({controls[c].layer.value for c in ok})),
                has_verified_preventive=any(controls[c].type is ControlType.preventive for c in ok),
            )
        )
    return out


def taxonomy_coverage(
    taxonomy: Taxonomy, referenced: Iterable[str], covered: Iterable[str]
) -> TaxonomyCoverage:
    def roll_up(ids: Iterable[str]) -> set[str]:
        out = set(ids)
        out |= {p for i in out if (p := Taxonomy.parent(i)) is not None}
        return out & set(taxonomy.names)

    ref, cov = roll_up(referenced), roll_up(covered)
    uncovered = tuple(i for i in taxonomy.names if i not in cov)
    return TaxonomyCoverage(len(taxonomy.names), len(ref), len(cov), uncovered)


def goal_reachable(tree: AttackTree, cut_threats: set[str]) -> bool:
    nodes = {n.id: n for n in tree.nodes}

    def cut(node_id: str) -> bool:
        n = nodes[node_id]
        if n.type == "leaf":
            return n.threat in cut_threats
        kids = [cut(c) for c in n.children]
        return all(kids) if n.type == "or" else any(kids)

    return not cut(tree.root)


def compute(
    model: ThreatModel,
    verified: set[str],
    taxonomies: Mapping[str, Taxonomy],
    *,
    isolation_outcomes: Iterable[str] = (),
    exceptions: Iterable[ExceptionRecord] = (),
    today: date,
) -> Metrics:
    """Every metric of the model, given which controls are verified on this commit."""
    scores = score_threats(model, verified)
    n = len(scores)
    hc = [s for s in scores if s.severity in ("high", "critical")]
    covered_threats = {s.threat for s in scores if s.verified_controls}
    refs_attack = [i for t in model.threats for i in t.mappings.attack]
    refs_ms = [i for t in model.threats for i in t.mappings.ms_k8s]
    cov_attack = [i for t in model.threats if t.id in covered_threats for i in t.mappings.attack]
    cov_ms = [i for t in model.threats if t.id in covered_threats for i in t.mappings.ms_k8s]
    outcomes = list(isolation_outcomes)
    horizon = today + timedelta(days=EXPIRY_WINDOW_DAYS)
    in_force = [e for e in exceptions if e.expires >= today]
    cut_threats = {s.threat for s in scores if s.has_verified_preventive}
    return Metrics(
        threats=tuple(scores),
        preventive_coverage=sum(s.has_verified_preventive for s in scores) / n if n else 0.0,
        # With no high/critical threats there is nothing to defend in depth: vacuously 1.
        defence_in_depth=(sum(len(s.verified_layers) >= 2 for s in hc) / len(hc) if hc else 1.0),
        high_critical=len(hc),
        inherent_total=float(sum(s.inherent for s in scores)),
        residual_design_total=math.fsum(s.residual_design for s in scores),
        residual_verified_total=math.fsum(s.residual_verified for s in scores),
        attack=taxonomy_coverage(taxonomies["attack"], refs_attack, cov_attack),
        ms_k8s=taxonomy_coverage(taxonomies["ms_k8s"], refs_ms, cov_ms),
        isolation_passed=sum(o == "passed" for o in outcomes),
        isolation_total=len(outcomes),
        exceptions_in_force=len(in_force),
        exceptions_expiring=sum(e.expires <= horizon for e in in_force),
        controls_total=len(model.controls),
        controls_implemented=sum(c.status.value == "implemented" for c in model.controls),
        controls_verified=sum(c.id in verified for c in model.controls),
        goals_reachable={t.id: goal_reachable(t, cut_threats) for t in model.attack_trees},
    )

"""Tiered policy evaluation over boolean masks: the whole matrix at once, or one cell traced.

Both directions use the same layout ``state[local, peer, port]``: ``local`` is the pod class the
policy applies to (the destination of ingress, the source of egress), ``peer`` is any endpoint
(pod classes first, then external address atoms), ``port`` a port atom. Calico's algorithm:

* tiers in order; a tier is skipped for an endpoint when none of its policies (of the
  direction) selects it;
* inside a tier, policies by (order, name), rules in order; the first rule that matches decides:
  ``Allow``/``Deny`` end evaluation, ``Pass`` jumps to the next tier, ``Log`` continues;
* a tier that selects the endpoint but whose rules all miss applies its ``defaultAction``
  (``Deny`` unless the Tier says ``Pass``) — the "end of tier" drop;
* when no tier decides, the profile applies: Kubernetes namespaces' profiles allow.

The vectorised :func:`evaluate` and the scalar :func:`trace` read the same compiled masks, and
the tests check that they agree cell by cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from riskgrid.netpol.model import Policy, Rule, Tier

UNDECIDED, ALLOW, DENY, PASS = 0, 1, 2, 3
#: Array aliases: cells that match or are in doubt, and verdicts (ALLOW/DENY/PASS/UNDECIDED).
BoolArray = npt.NDArray[np.bool_]
Int8Array = npt.NDArray[np.int8]

_CODE = {"Allow": ALLOW, "Deny": DENY, "Pass": PASS}


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    peer: BoolArray  # bool[E]
    #: bool[P] (same for every cell), bool[C, P] (named ports, by local) or bool[E, P] (by peer)
    ports: BoolArray
    ports_axis: str  # "none" | "local" | "peer"
    local: BoolArray | None  # bool[C] or None
    #: bool[E]: peers whose match depends on an unknown pod address (None: no such peer)
    peer_doubt: BoolArray | None = None
    #: bool[C]: local classes whose match of ``local`` depends on an unknown address
    local_doubt: BoolArray | None = None


@dataclass(frozen=True)
class CompiledPolicy:
    policy: Policy
    selects: BoolArray  # bool[C]
    ingress: tuple[CompiledRule, ...] | None
    egress: tuple[CompiledRule, ...] | None

    def rules(self, direction: str) -> tuple[CompiledRule, ...] | None:
        return self.ingress if direction == "ingress" else self.egress


@dataclass(frozen=True)
class CompiledTier:
    tier: Tier
    policies: tuple[CompiledPolicy, ...]  # sorted by (order, name)


@dataclass(frozen=True)
class Program:
    tiers: tuple[CompiledTier, ...]  # sorted by (order, name)
    n_classes: int
    n_endpoints: int
    n_ports: int


def _rule_hits(cr: CompiledRule, idx: npt.NDArray[np.intp]) -> BoolArray:
    """bool[len(idx), E, P]: where the rule matches, for local classes ``idx``."""
    hit = cr.peer[None, :, None]
    if cr.ports_axis == "none":
        hit = hit & cr.ports[None, None, :]
    elif cr.ports_axis == "local":
        hit = hit & cr.ports[idx][:, None, :]
    else:
        hit = hit & cr.ports[None, :, :]
    if cr.local is not None:
        hit = hit & cr.local[idx][:, None, None]
    return hit


def evaluate(program: Program, direction: str) -> Int8Array:
    """int8[C, E, P] of ALLOW/DENY for every (local class, peer endpoint, port atom)."""
    shape = (program.n_classes, program.n_endpoints, program.n_ports)
    final = np.zeros(shape, dtype=np.int8)
    for ct in program.tiers:
        pols = [cp for cp in ct.policies if cp.rules(direction) is not None and cp.selects.any()]
        if not pols:
            continue
        applied = np.zeros(program.n_classes, dtype=bool)
        for cp in pols:
            applied |= cp.selects
        rows = np.flatnonzero(applied)
        # Only cells not decided by an earlier tier take part in this one.
        open_rows = final[rows] == UNDECIDED
        tier_state = np.zeros(open_rows.shape, dtype=np.int8)
        tier_state[~open_rows] = -1  # decided by an earlier tier: rules must not touch it
        pos = np.full(program.n_classes, -1)
        pos[rows] = np.arange(rows.size)
        for cp in pols:
            idx = np.flatnonzero(cp.selects)
            sub = pos[idx]
            block = tier_state[sub]
            for cr in cp.rules(direction) or ():
                if cr.rule.action == "Log":
                    continue
                hit = _rule_hits(cr, idx) & (block == UNDECIDED)
                block[hit] = _CODE[cr.rule.action]
            tier_state[sub] = block
        tier_state[tier_state == UNDECIDED] = _CODE[ct.tier.default_action]
        tier_state[tier_state == PASS] = UNDECIDED
        merged = final[rows]
        take = open_rows & (tier_state != UNDECIDED)
        merged[take] = tier_state[take]
        final[rows] = merged
    final[final == UNDECIDED] = ALLOW  # profile: Kubernetes namespaces allow by default
    return final


def address_doubt(program: Program) -> tuple[BoolArray, BoolArray]:
    """bool[C, E] per direction (ingress, egress): cells some rule of a policy selecting the
    local class could decide differently once unknown pod addresses are known.

    Sound over-approximation: a cell no such rule touches has the verdict :func:`evaluate`
    gives whatever the addresses are; a marked cell may or may not change.
    """
    out = []
    for direction in ("ingress", "egress"):
        doubt = np.zeros((program.n_classes, program.n_endpoints), dtype=bool)
        for ct in program.tiers:
            for cp in ct.policies:
                idx = np.flatnonzero(cp.selects)
                if idx.size == 0:
                    continue
                for cr in cp.rules(direction) or ():
                    if cr.peer_doubt is not None:
                        doubt[idx] |= cr.peer_doubt[None, :]
                    if cr.local_doubt is not None:
                        rows = idx[cr.local_doubt[idx]]
                        doubt[rows] |= cr.peer[None, :]
        out.append(doubt)
    return out[0], out[1]


@dataclass(frozen=True)
class Step:
    """One step of an explanation: which tier/policy/rule did what."""

    tier: str
    action: str
    policy: str | None = None  # Policy.ref
    rule: str | None = None  # rule location and description
    note: str = ""

    def __str__(self) -> str:
        if self.policy is None:
            return f"[{self.tier}] {self.action}: {self.note}"
        return f"[{self.tier}] {self.action} by {self.policy} rule {self.rule}"


def _rule_matches(cr: CompiledRule, local: int, peer: int, port: int) -> bool:
    if not cr.peer[peer]:
        return False
    if cr.ports_axis == "none":
        ok = cr.ports[port]
    elif cr.ports_axis == "local":
        ok = cr.ports[local, port]
    else:
        ok = cr.ports[peer, port]
    if not ok:
        return False
    return cr.local is None or bool(cr.local[local])


def trace(
    program: Program, direction: str, local: int, peer: int, port: int
) -> tuple[str, list[Step]]:
    """The verdict for one cell and the steps that led to it."""
    steps: list[Step] = []
    for ct in program.tiers:
        pols = [cp for cp in ct.policies if cp.rules(direction) is not None and cp.selects[local]]
        if not pols:
            continue
        decided: str | None = None
        for cp in pols:
            for cr in cp.rules(direction) or ():
                if not _rule_matches(cr, local, peer, port):
                    continue
                step = Step(
                    ct.tier.name,
                    cr.rule.action,
                    cp.policy.ref,
                    f"{direction}[{cr.rule.index}] ({cr.rule.describe()})",
                )
                steps.append(step)
                if cr.rule.action != "Log":
                    decided = cr.rule.action
                    break
            if decided:
                break
        if decided is None:
            decided = ct.tier.default_action
            names = ", ".join(cp.policy.ref for cp in pols)
            steps.append(
                Step(ct.tier.name, decided, note=f"end of tier: no rule matched in {names}")
            )
        if decided != "Pass":
            return decided, steps
    steps.append(Step("-", "Allow", note="no tier decided: profile default allow"))
    return "Allow", steps

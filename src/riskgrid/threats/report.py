"""``riskgrid threats report``: the model, its evidence and its numbers, for people.

:func:`build` assembles one JSON-able document (headline numbers first, then threats ordered by
verified residual risk, each with its controls, their implementation and their evidence, then
the attack trees); :func:`render_markdown` and :func:`render_html` format it. The HTML page is
self-contained — no scripts, no fonts, no network — so a risk officer can open it anywhere; its
attack trees are drawn as nested boxes in plain HTML/CSS. Markdown embeds Mermaid blocks.
"""

from __future__ import annotations

import html
import json
from typing import Any

from riskgrid.threats.evidence import Evidence, VerificationRecord
from riskgrid.threats.metrics import ExceptionRecord, Metrics
from riskgrid.threats.model import AttackTree, Control, ControlLink, ThreatModel

HEADLINE_LABELS: dict[str, str] = {
    "preventive_coverage": "Threats with ≥1 verified preventive control",
    "defence_in_depth": "High/critical threats with verified controls in ≥2 layers",
    "inherent_risk": "Inherent risk (Σ likelihood × impact)",
    "residual_risk_verified": "Residual risk, verified controls only",
    "residual_risk_design": "Residual risk, if every mapped control worked",
    "assurance_gap": "Assurance gap (verified − design residual)",
    "attack_coverage": "ATT&CK Containers techniques covered",
    "ms_k8s_coverage": "Microsoft K8s matrix techniques covered",
    "tenant_isolation_pass_rate": "Tenant isolation proofs passing",
    "exceptions_in_force": "Policy exceptions in force",
    "exceptions_expiring_30d": "…of which expire within 30 days",
    "controls_verified": "Controls verified on this commit",
    "controls_total": "Controls in the model",
    "attack_goals_reachable": "Attack-tree goals still reachable",
}
_SHARES = {
    "preventive_coverage",
    "defence_in_depth",
    "attack_coverage",
    "ms_k8s_coverage",
    "tenant_isolation_pass_rate",
}


def fmt(name: str, value: float) -> str:
    if name in _SHARES:
        return f"{100 * value:.1f}%"
    if isinstance(value, int):
        return str(value)
    return f"{value:.2f}"


def _mutation_summary(rec: dict[str, Any] | None) -> dict[str, Any] | None:
    """A control's sampled mutation result (``riskgrid threats mutate``); None when unsampled."""
    if rec is None:
        return None
    survived = [r["description"] for r in rec.get("results", []) if r["outcome"] == "survived"]
    return {
        "killed": rec.get("killed"),
        "total": rec.get("total"),
        "score": rec.get("score"),
        "fresh": rec.get("fresh", False),
        "survived": survived,
    }


def _mutation_text(m: dict[str, Any] | None) -> str:
    if m is None:
        return "mutation: not sampled"
    stale = "" if m["fresh"] else " (STALE: code or tests changed since; not counted)"
    return f"mutation: killed {m['killed']}/{m['total']}{stale}"


def _control_entry(
    control: Control,
    link: ControlLink,
    verified: bool,
    evidence: list[VerificationRecord],
    mutation: dict[str, Any] | None,
) -> dict[str, Any]:
    """One control as a threat lists it: its link, whether it is verified, and its evidence."""
    return {
        "id": link.control,
        "title": control.title,
        "type": control.type.value,
        "layer": control.layer.value,
        "status": control.status.value,
        "effectiveness": link.effectiveness.value,
        "verified": verified,
        "implementation": list(control.implementation),
        "evidence": [{"ref": r.ref, "node_id": r.node_id, "outcome": r.outcome} for r in evidence],
        "mutation": _mutation_summary(mutation),
    }


def _threat_entries(
    model: ThreatModel,
    metrics: Metrics,
    evidence: Evidence | None,
    mutation: dict[str, dict[str, Any]] | None,
) -> list[dict[str, Any]]:
    """Every threat with its scores and controls, highest verified residual risk first."""
    controls = {c.id: c for c in model.controls}
    by_control: dict[str, list[VerificationRecord]] = {}
    if evidence is not None:
        for rec in evidence.verifications:
            by_control.setdefault(rec.control, []).append(rec)
    # ``evidence`` is what the gate recomputed after checking every binding (workflow.assess).
    fresh = evidence is not None
    verified = {cid for cid, rec in (evidence.controls.items() if evidence else ()) if rec.verified}
    scores = {s.threat: s for s in metrics.threats}
    threats: list[dict[str, Any]] = []
    for t in model.threats:
        s = scores[t.id]
        threats.append(
            {
                "id": t.id,
                "title": t.title,
                "stride": [x.value for x in t.stride],
                "likelihood": t.likelihood,
                "impact": t.impact,
                "inherent": s.inherent,
                "severity": s.severity,
                "residual_verified": round(s.residual_verified, 3),
                "residual_design": round(s.residual_design, 3),
                "mappings": t.mappings.model_dump(),
                "controls": [
                    _control_entry(
                        controls[link.control],
                        link,
                        fresh and link.control in verified,
                        by_control.get(link.control, []),
                        (mutation or {}).get(link.control),
                    )
                    for link in t.controls
                ],
            }
        )
    threats.sort(key=lambda t: (-t["residual_verified"], -t["inherent"], t["id"]))
    return threats


def _evidence_section(
    evidence: Evidence | None, problems: list[str] | None, head: str
) -> dict[str, Any]:
    return {
        "commit": evidence.commit if evidence else None,
        "dirty": evidence.dirty if evidence else None,
        "generated_at": evidence.generated_at if evidence else None,
        "source": evidence.source if evidence else None,
        "official": evidence.official if evidence else False,
        "tree": evidence.tree if evidence else None,
        "junit": [j.model_dump() for j in evidence.junit] if evidence else [],
        "problems": list(problems or []),
        "head": head,
        "fresh": evidence is not None,
    }


def _taxonomies(model: ThreatModel, metrics: Metrics) -> dict[str, Any]:
    return {
        key: {
            "name": pin.name,
            "version": pin.version,
            "total": cov.total,
            "referenced": cov.referenced,
            "covered": cov.covered,
            "uncovered": list(cov.uncovered),
        }
        for key, pin, cov in (
            ("attack", model.metadata.taxonomies["attack"], metrics.attack),
            ("ms_k8s", model.metadata.taxonomies["ms_k8s"], metrics.ms_k8s),
        )
    }


def build(
    model: ThreatModel,
    metrics: Metrics,
    evidence: Evidence | None,
    *,
    head: str,
    exceptions: list[ExceptionRecord],
    problems: list[str] | None = None,
    mutation: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The whole report as one document (the JSON format is exactly this)."""
    return {
        "model": {"name": model.metadata.name, "version": model.metadata.version},
        "evidence": _evidence_section(evidence, problems, head),
        "headline": metrics.headline(),
        "taxonomies": _taxonomies(model, metrics),
        "threats": _threat_entries(model, metrics, evidence, mutation),
        "attack_trees": [
            {
                "id": tree.id,
                "goal": tree.goal,
                "reachable": metrics.goals_reachable[tree.id],
                "mermaid": mermaid(tree),
            }
            for tree in model.attack_trees
        ],
        "exceptions": [
            {"name": e.name, "policies": list(e.policies), "expires": e.expires.isoformat()}
            for e in exceptions
        ],
    }


def render_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)


def mermaid(tree: AttackTree) -> str:
    lines = ["flowchart TD"]
    for n in tree.nodes:
        label = n.label.replace('"', "'")
        if n.type == "leaf":
            lines.append(f'  {n.id}["{label}<br/>{n.threat}"]')
        else:
            lines.append(f'  {n.id}{{"{n.type.upper()}: {label}"}}')
    for n in tree.nodes:
        lines.extend(f"  {n.id} --> {c}" for c in n.children)
    return "\n".join(lines)


def render_markdown(doc: dict[str, Any]) -> str:
    ev = doc["evidence"]
    out = [f"# Threat model report: {doc['model']['name']} {doc['model']['version']}", ""]
    if ev["fresh"]:
        dirty = " (working tree had local changes)" if ev["dirty"] else ""
        out.append(
            f"Evidence: commit `{ev['commit']}`{dirty}, {ev['generated_at']}; control status "
            "recomputed from the JUnit results by the gate."
        )
        if not ev["official"]:
            out.append("\n**UNOFFICIAL**: made with `--allow-dirty` (dirty tree or no checkout).")
    else:
        out.append(
            f"**No evidence for this commit (`{ev['head']}`)**: nothing counts as verified; "
            "run `riskgrid threats verify`."
        )
        out += [f"- refused: {p}" for p in ev["problems"]]
    out += ["", "## Headline", "", "| Metric | Value |", "|---|---|"]
    out += [f"| {HEADLINE_LABELS[k]} | {fmt(k, v)} |" for k, v in doc["headline"].items()]
    for tax in doc["taxonomies"].values():
        missing = ", ".join(tax["uncovered"]) or "none"
        out += ["", f"{tax['name']} {tax['version']}: {tax['covered']}/{tax['total']} covered; "
                f"not covered: {missing}."]  # fmt: skip
    out += ["", "## Threats by residual risk", ""]
    for t in doc["threats"]:
        out += [
            f"### {t['id']} {t['title']}",
            "",
            f"STRIDE {''.join(t['stride'])} · likelihood {t['likelihood']} × impact "
            f"{t['impact']} = {t['inherent']} ({t['severity']}) · residual verified "
            f"{t['residual_verified']:.2f}, design {t['residual_design']:.2f}",
            "",
        ]
        for c in t["controls"]:
            mark = "verified" if c["verified"] else "NOT verified"
            out.append(f"- **{c['id']}** {c['title']} — {c['type']}, {c['layer']}, {mark}")
            out += [f"  - implements: `{i}`" for i in c["implementation"]]
            out += [f"  - {e['outcome']}: `{e['node_id']}`" for e in c["evidence"]]
            out.append(f"  - {_mutation_text(c['mutation'])}")
        out.append("")
    out += ["## Attack trees", ""]
    for tree in doc["attack_trees"]:
        state = "REACHABLE" if tree["reachable"] else "cut by verified controls"
        out += [f"### {tree['id']}: {tree['goal']} ({state})", "", "```mermaid", tree["mermaid"],
                "```", ""]  # fmt: skip
    out += ["## Policy exceptions", ""]
    if not doc["exceptions"]:
        out.append("None in the register.")
    out += [
        f"- {e['name']} ({', '.join(e['policies']) or 'no policy named'}), expires {e['expires']}"
        for e in doc["exceptions"]
    ]
    return "\n".join(out) + "\n"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#222}
h1{font-size:1.6rem} table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.3rem .6rem}
.ok{color:#176e2c}.bad{color:#a3161b;font-weight:600}.warn{background:#fff3cd;padding:.5rem}
.threat{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;margin:.8rem 0}
.tree ul{list-style:none;margin:0;padding-left:1.6rem;border-left:2px solid #bbb}
.tree li{margin:.35rem 0}.node{display:inline-block;border:1px solid #888;border-radius:4px;
padding:.15rem .5rem}.and{background:#dce9f9}.or{background:#dff3e0}.leaf{background:#fff}
.cut{border-color:#176e2c;border-width:2px}.open{border-color:#a3161b;border-width:2px}
code{font-size:.85em}
"""


def _tree_html(tree: AttackTree, cut_threats: set[str]) -> str:
    nodes = {n.id: n for n in tree.nodes}

    def cut(node_id: str) -> bool:
        n = nodes[node_id]
        if n.type == "leaf":
            return n.threat in cut_threats
        kids = [cut(c) for c in n.children]
        return all(kids) if n.type == "or" else any(kids)

    def item(node_id: str) -> str:
        n = nodes[node_id]
        state = "cut" if cut(node_id) else "open"
        tag = (
            f"<b>{n.type.upper()}</b> "
            if n.type != "leaf"
            else f'<a href="#{html.escape(str(n.threat))}"><b>{html.escape(str(n.threat))}</b></a> '
        )
        box = (
            f'<span class="node {n.type} {state}" title="{state}">'
            f"{tag}{html.escape(n.label)} <small>({state})</small></span>"
        )
        kids = "".join(item(c) for c in n.children)
        return f"<li>{box}{f'<ul>{kids}</ul>' if kids else ''}</li>"

    return f'<div class="tree"><ul>{item(tree.root)}</ul></div>'


def render_html(doc: dict[str, Any], model: ThreatModel) -> str:
    e = html.escape
    ev = doc["evidence"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Threat model report: {e(doc['model']['name'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Threat model report: {e(doc['model']['name'])} {e(doc['model']['version'])}</h1>",
    ]
    if ev["fresh"]:
        dirty = " (working tree had local changes)" if ev["dirty"] else ""
        parts.append(
            f"<p>Evidence from commit <code>{e(ev['commit'])}</code>{dirty}, "
            f"{e(ev['generated_at'])}, source {e(str(ev['source']))}; control status "
            "recomputed from the JUnit results.</p>"
        )
        if not ev["official"]:
            parts.append("<p class='warn'>UNOFFICIAL: made with --allow-dirty.</p>")
    else:
        parts.append(
            f"<p class='warn'>No evidence for this commit (<code>{e(ev['head'])}</code>): "
            "nothing counts as verified. Run <code>riskgrid threats verify</code>.</p>"
        )
        parts += [f"<p class='warn'>refused: {e(p)}</p>" for p in ev["problems"]]
    parts.append("<h2>Headline</h2><table><tr><th>Metric</th><th>Value</th></tr>")
    parts += [
        f"<tr><td>{e(HEADLINE_LABELS[k])}</td><td>{e(fmt(k, v))}</td></tr>"
        for k, v in doc["headline"].items()
    ]
    parts.append("</table>")
    for tax in doc["taxonomies"].values():
        parts.append(
            f"<p>{e(tax['name'])} {e(tax['version'])}: {tax['covered']}/{tax['total']} covered;"
            f" not covered: {e(', '.join(tax['uncovered']) or 'none')}.</p>"
        )
    parts.append("<h2>Threats by residual risk</h2>")
    for t in doc["threats"]:
        parts.append(
            f"<div class='threat' id='{e(t['id'])}'><h3>{e(t['id'])} {e(t['title'])}</h3>"
            f"<p>STRIDE {e(''.join(t['stride']))} · likelihood {t['likelihood']} × impact "
            f"{t['impact']} = {t['inherent']} ({e(t['severity'])}) · residual verified "
            f"<b>{t['residual_verified']:.2f}</b>, design {t['residual_design']:.2f}</p>"
            f"<p>ATT&amp;CK {e(', '.join(t['mappings']['attack']) or '—')} · Microsoft "
            f"{e(', '.join(t['mappings']['ms_k8s']) or '—')} · OWASP "
            f"{e(', '.join(t['mappings']['owasp_k8s']) or '—')}</p><ul>"
        )
        for c in t["controls"]:
            mark = (
                "<span class='ok'>verified</span>"
                if c["verified"]
                else ("<span class='bad'>not verified</span>")
            )
            impl = "".join(f"<li>implements: <code>{e(i)}</code></li>" for i in c["implementation"])
            evid = "".join(
                f"<li>{e(x['outcome'])}: <code>{e(x['node_id'])}</code></li>" for x in c["evidence"]
            )
            parts.append(
                f"<li><b>{e(c['id'])}</b> {e(c['title'])} — {e(c['type'])}, {e(c['layer'])}, "
                f"{e(c['effectiveness'])}, {mark}<ul>{impl}{evid}"
                f"<li>{e(_mutation_text(c['mutation']))}</li></ul></li>"
            )
        parts.append("</ul></div>")
    parts.append(
        "<h2>Attack trees</h2><p>AND: every step below is needed; OR: any one suffices. A step "
        "is <i>cut</i> (green border) when its threat has a verified preventive control, an OR "
        "when all its children are cut, an AND when any child is; <i>open</i> steps have a red "
        "border. A goal that is not cut is reachable.</p>"
    )
    cut_threats = {
        t["id"]
        for t in doc["threats"]
        if any(c["verified"] and c["type"] == "preventive" for c in t["controls"])
    }
    for tree in model.attack_trees:
        reachable = doc_tree(doc, tree.id)["reachable"]
        state = (
            "<span class='bad'>reachable</span>"
            if reachable
            else ("<span class='ok'>cut by verified controls</span>")
        )
        parts.append(f"<h3>{e(tree.id)}: {e(tree.goal)} — {state}</h3>")
        parts.append(_tree_html(tree, cut_threats))
    parts.append("<h2>Policy exceptions</h2>")
    if doc["exceptions"]:
        parts.append("<ul>")
        parts += [
            f"<li>{e(x['name'])} ({e(', '.join(x['policies']) or 'no policy named')}), "
            f"expires {e(x['expires'])}</li>"
            for x in doc["exceptions"]
        ]
        parts.append("</ul>")
    else:
        parts.append("<p>None in the register.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def doc_tree(doc: dict[str, Any], tree_id: str) -> dict[str, Any]:
    return next(t for t in doc["attack_trees"] if t["id"] == tree_id)

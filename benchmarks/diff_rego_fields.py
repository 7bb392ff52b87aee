"""Same verdicts, field by field: two versions of the Rego library on systematically mutated
workloads, each policy alone where an error could hide a change.

    .venv/bin/python benchmarks/diff_rego_fields.py --old DIR [--new DIR] [--prefix pss_,wkl_]

A companion to ``diff_rego.py`` (random 1-4 mutations of corpus objects, whole library). This
one is exhaustive over single fields of the workload policies: for each workload kind, a
hardened object and one that sets every field the pod policies read (with a Windows pod), then
every variant that replaces one field of either with an odd value (null, "", 0, true, false,
[], {}, ...) or removes it, ~17,000 objects. Each object is evaluated alone by both libraries
(every policy). Where the whole library fails on both sides, an error of one policy would hide
a change in another (and Gatekeeper runs each policy as its own ConstraintTemplate), so each
policy whose module slug starts with ``--prefix`` is then evaluated alone as well. Exit 1
naming the first differences. Takes ~2 min of one core. (Seeded check: evaluating
``capabilities`` with object.get before ``not c.windows`` in pss_capabilities_restricted is
caught here on 130 objects, while the whole-library comparison sees the same error on both
sides, from pss_capabilities_baseline.)
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from typing import Any

from ab_rego import ab_parser, default_setup, modules_of
from riskgrid.policy import cases
from riskgrid.policy.engine import Dispatch, RegorusEngine, driver_module

ODD: list[Any] = [None, "x", "", 0, 1, True, False, [], {}, ["ALL"], [0], ["x"], {"x": 1}]
ODD += [[None], [{}]]
CONTAINER = {
    "ports": [{"containerPort": 80, "hostPort": 80}],
    "livenessProbe": {"httpGet": {"host": "h", "port": 1}},
    "readinessProbe": {"tcpSocket": {"host": "h"}},
    "lifecycle": {"postStart": {"httpGet": {"host": "h"}}, "preStop": {"tcpSocket": {"host": ""}}},
    "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s"}}}],
    "envFrom": [{"secretRef": {"name": "s"}}],
    "stdin": True,
    "tty": True,
    "resources": {"requests": {"cpu": "", "memory": None}, "limits": {}},
}
CONTAINER_SC = {
    "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
    "procMount": "Unmasked",
    "seLinuxOptions": {"type": "spc_t", "user": "u", "role": "r"},
    "windowsOptions": {"hostProcess": True},
    "runAsNonRoot": False,
    "runAsUser": 0,
    "runAsGroup": 0,
    "seccompProfile": {"type": "Unconfined"},
    "appArmorProfile": {"type": "Unconfined"},
    "privileged": True,
    "allowPrivilegeEscalation": True,
    "readOnlyRootFilesystem": False,
}
POD = {
    "hostNetwork": True,
    "hostPID": True,
    "hostIPC": False,
    "hostUsers": False,
    "hostAliases": [{"ip": "1"}],
    "serviceAccountName": "default",
    "serviceAccount": "",
    "automountServiceAccountToken": True,
    "volumes": [{"name": "v", "hostPath": {"path": "/var/run"}}, {"name": "n", "nfs": {}}],
    "os": {"name": "windows"},
}
POD_SC = {
    "sysctls": [{"name": "kernel.x"}],
    "supplementalGroups": [0],
    "fsGroup": 0,
    "seLinuxOptions": {"type": "spc_t"},
    "runAsNonRoot": False,
    "runAsUser": 0,
    "seccompProfile": {"type": "Unconfined"},
    "appArmorProfile": {"type": "x"},
    "windowsOptions": {"hostProcess": True},
}


def enrich(node: Any) -> None:
    """Set every field above in each pod spec under ``node`` (and add an init container)."""
    if isinstance(node, dict):
        if isinstance(node.get("containers"), list) and node["containers"]:
            node.update(copy.deepcopy(POD))
            node.setdefault("securityContext", {}).update(copy.deepcopy(POD_SC))
            node["initContainers"] = [copy.deepcopy(node["containers"][0])]
            for ctr in node["containers"] + node["initContainers"]:
                ctr.setdefault("securityContext", {}).update(copy.deepcopy(CONTAINER_SC))
                ctr.update(copy.deepcopy(CONTAINER))
        for value in list(node.values()):
            enrich(value)
    elif isinstance(node, list):
        for value in node:
            enrich(value)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        yield from paths(value, (*prefix, key))


def variants() -> Iterator[dict[str, Any]]:
    for kind in ("Deployment", "Pod", "RayCluster", "CronJob"):
        base = cases.build({"kind": kind}, name="b")
        full = copy.deepcopy(base)
        enrich(full)
        full["metadata"]["annotations"] = {"riskgrid.dev/api-access": "false"}
        for src in (base, full):
            yield src
            for path in paths(src):
                if not path or path[0] in ("apiVersion", "kind"):
                    continue
                for value in [*ODD, "<removed>"]:
                    obj = copy.deepcopy(src)
                    parent = obj
                    for key in path[:-1]:
                        parent = parent[key]
                    if value != "<removed>":
                        parent[path[-1]] = value
                    elif isinstance(parent, dict):
                        del parent[path[-1]]
                    else:
                        continue
                    yield obj


def outcome(engine: RegorusEngine, obj: dict[str, Any], params: dict[str, Any]) -> str:
    """The object's violations (sorted JSON) or the error line of the engine's message."""
    try:
        return json.dumps(
            sorted(json.dumps(r, sort_keys=True) for r in engine.evaluate([obj], params))
        )
    except Exception as exc:  # any engine error is an outcome to compare
        lines = [line for line in str(exc).splitlines() if "error" in line.lower()]
        return "ERROR " + (lines[0] if lines else str(exc))[:160]


def main() -> int:
    ap = ab_parser(__doc__)
    ap.add_argument("--prefix", default="pss_,wkl_", help="slugs checked alone on errors")
    args = ap.parse_args()

    library, params = default_setup()
    key = library.engine_key()
    sides = {"old": args.old, "new": args.new}
    whole = {
        s: RegorusEngine(modules_of(p), driver_module(key), Dispatch(key)) for s, p in sides.items()
    }
    alone = {
        entry[0]: {
            s: RegorusEngine(modules_of(p), driver_module((entry,)), Dispatch((entry,)))
            for s, p in sides.items()
        }
        for entry in key
        if entry[1].startswith(tuple(args.prefix.split(",")))
    }
    count, differ = 0, 0
    for obj in variants():
        count += 1
        old, new = outcome(whole["old"], obj, params), outcome(whole["new"], obj, params)
        where = "every policy"
        if old == new and old.startswith("ERROR"):
            for pid, engines in alone.items():
                old, new = (outcome(engines[s], obj, params) for s in ("old", "new"))
                if old != new:
                    where = pid
                    break
        if old != new:
            differ += 1
            if differ <= 5:
                print(f"DIFFERENT ({where}) on {json.dumps(obj)[:400]}")
                print(f"  old: {old[:300]}\n  new: {new[:300]}")
    print(f"{count} objects, {differ} with different verdicts")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())

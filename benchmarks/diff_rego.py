"""Differential check of two versions of the Rego library on mutated, often malformed objects.

    .venv/bin/python benchmarks/diff_rego.py --old DIR [--new DIR] [--mutants 3000] [--seed 1]

The benchmark corpus only holds well-formed objects, so "identical verdicts" there says
nothing about the inputs where a cheaper form could differ: a missing key (an undefined
reference where ``object.get`` gave a default), ``null`` or a value of the wrong type (a builtin
type error, which makes the object "cannot be evaluated"). This takes corpus objects, applies
1-4 random mutations each (delete a key, set a key or an element to ``null``, a wrong type, an
odd image reference, a forbidden subject, an empty peer list...; or change the kind), and
evaluates every mutant alone with both libraries (all policies, default parameters): the
violations, or the fact of an evaluation error, must be the same. Prints the count of mutants,
of errors, and the first differences; exit 1 if any.
"""

from __future__ import annotations

import copy
import json
import random
import sys
from collections.abc import Iterator
from typing import Any

from ab_rego import ab_parser, default_setup, modules_of
from bench_policy import corpus
from riskgrid.policy.engine import Dispatch, RegorusEngine, driver_module

DIGEST = "sha256:" + "a" * 64
ODD_VALUES: list[Any] = [
    None, "", 0, 5, 22, True, False, [], {}, "x", ["a"], {"a": 1}, [{}], [{"ports": []}],
    "system:anonymous", "system-node-critical", "latest", DIGEST, "k8s.gcr.io/pause", "nginx",
    "localhost/a:b", "reg:5000/x", "a@b@c", "ghcr.io/helm/tiller:v2",
    "docker.io/kubernetesui/dashboard", "reg.io/a:x/b@d",
    f"registry.riskgrid.example/riskgrid/p:1@{DIGEST}",
    "registry.riskgrid.example/riskgridx/p:1", {"from": []}, {"to": None}, [{"containerPort": 22}],
    {"ray.io/node-type": "head"}, "NodePort", "Workload", "Namespace", [{"name": None}],
    {"name": "system:unauthenticated", "kind": "Group"}, "kueue.x-k8s.io/workloadpriorityclass",
]  # fmt: skip
ODD_KEYS = [
    "ports", "priorityClassName", "labels", "from", "to", "ingress", "egress", "image", "roleRef",
    "subjects", "name", "type", "externalIPs", "rules", "securityContext", "containers",
]  # fmt: skip
KINDS = [
    "Pod", "Deployment", "RayCluster", "RayJob", "Service", "Ingress", "NetworkPolicy",
    "RoleBinding", "ClusterRoleBinding", "Role", "ClusterRole", "Namespace", "Workload",
    "NodePool", "EC2NodeClass", "StorageClass",
]  # fmt: skip


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a JSON value (the root's is ``()``)."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, (*prefix, i))


def mutate(obj: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    for _ in range(rng.randint(1, 4)):
        path = rng.choice([p for p in paths(out) if p])
        parent: Any = out
        for k in path[:-1]:
            parent = parent[k]
        odd = copy.deepcopy(rng.choice(ODD_VALUES))
        r = rng.random()
        if r < 0.15 and isinstance(parent, dict):
            del parent[path[-1]]
        elif r < 0.3 and isinstance(parent, dict):
            parent[rng.choice(ODD_KEYS)] = odd
        elif r < 0.35:
            out["kind"] = rng.choice(KINDS)
        else:
            parent[path[-1]] = odd
    return out


def verdict(engine: RegorusEngine, obj: dict[str, Any], params: dict[str, Any]) -> Any:
    try:
        return engine.evaluate([obj], params)
    except RuntimeError:  # regorus' evaluation error (a builtin type error...)
        return "cannot be evaluated"


def main() -> int:
    ap = ab_parser(__doc__)
    ap.add_argument("--mutants", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    library, params = default_setup()
    key = library.engine_key()
    old, new = (
        RegorusEngine(modules_of(path), driver_module(key), Dispatch(key))
        for path in (args.old, args.new)
    )
    rng = random.Random(args.seed)
    base = corpus(400)
    errors = differ = 0
    for _ in range(args.mutants):
        obj = mutate(rng.choice(base), rng)
        a, b = verdict(old, obj, params), verdict(new, obj, params)
        errors += a == "cannot be evaluated"
        if a != b:
            differ += 1
            if differ <= 3:
                print("DIFFERENT:", json.dumps(obj)[:800])
                print("  old:", str(a)[:400])
                print("  new:", str(b)[:400])
    print(
        f"{args.mutants} mutants (seed {args.seed}), {errors} cannot be evaluated (old), "
        f"{differ} differ"
    )
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())

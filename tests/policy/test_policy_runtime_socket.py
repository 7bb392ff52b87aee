"""RG-WKL-006 reads the runtime-socket rule from two literal tables (for speed); they must say
exactly what the rule says about its ten paths, on both Rego engines."""

from __future__ import annotations

import json

import pytest

from riskgrid.policy.engine import REGO_DIR

# The rule: a hostPath that is one of these, a directory above one, or anything inside one.
SOCKETS = [
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run/docker",
    "/var/run/containerd",
    "/run/containerd",
    "/var/run/crio",
    "/run/crio",
    "/var/run/cri-dockerd.sock",
    "/var/lib/docker",
    "/var/lib/containerd",
]
PACKAGE = "data.lib.riskgrid.policies.wkl_runtime_socket"
PROBE = f"""package probe

exposed := [p | some p in input.paths; {PACKAGE}.exposes(p)]
"""


def reference_exposes(path: str) -> bool:
    """The rule read literally, with a trailing slash of the mount ignored on the way up."""
    clean = path.removesuffix("/")
    for socket in SOCKETS:
        if clean == "" or socket == clean or socket.startswith(clean + "/"):
            return True
        if path == socket or path.startswith(socket + "/"):
            return True
    return False


def probe_paths() -> list[str]:
    """Every ancestor, near miss and descendant of the ten paths, with and without slashes."""
    out = {"", "/", "//", "/var/", "/va", "/v", "/etc", "/var/runx", "/run/crio2", "docker.sock"}
    for socket in SOCKETS:
        parts = socket.split("/")
        for k in range(1, len(parts) + 1):
            prefix = "/".join(parts[:k])
            out |= {prefix, prefix + "/", prefix + "x", prefix[:-1]}
        out |= {socket + "/x", socket + "/x/y/", socket + "x/y", socket + "//", socket + ".bak"}
    return sorted(out)


def evaluate(engine_name: str, paths: list[str]) -> list[str]:
    module = (REGO_DIR / "policies" / "wkl_runtime_socket.rego").read_text(encoding="utf-8")
    if engine_name == "regorus":
        import regorus

        engine = regorus.Engine()
        engine.add_policy("wkl_runtime_socket.rego", module)
        engine.add_policy("probe.rego", PROBE)
        engine.set_input({"paths": paths})
        return list(engine.eval_rule("data.probe.exposed"))
    import regopy

    interp = regopy.Interpreter()
    interp.add_module("wkl_runtime_socket.rego", module)
    interp.add_module("probe.rego", PROBE)
    interp.set_input(regopy.Input({"paths": paths}))
    out = interp.query("x = data.probe.exposed")
    assert out.ok(), str(out)
    return list(json.loads(out.binding("x").json()))


@pytest.mark.parametrize("engine_name", ["regorus", "regopy"])
def test_socket_tables_match_the_rule(engine_name):
    paths = probe_paths()
    expected = [p for p in paths if reference_exposes(p)]
    assert len(expected) > 40 and len(paths) - len(expected) > 40  # both sides exercised
    assert evaluate(engine_name, paths) == expected

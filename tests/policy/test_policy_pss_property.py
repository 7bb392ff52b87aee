"""Property: on generated pods, the PSS policies agree with an independent Python reading of
the Pod Security Standards (baseline and restricted), written from the PSS documentation."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskgrid.policy.engine import make_engine
from riskgrid.policy.library import load_library

LIB = load_library()
BASELINE = {p.id for p in LIB if p.pss_level == "baseline"}
RESTRICTED = {p.id for p in LIB if p.pss_level == "restricted"}
ENGINE = make_engine("regorus", tuple((p.id, p.slug) for p in LIB if p.pss_level))

BASELINE_CAPS = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def maybe(strategy):
    return st.one_of(st.none(), strategy)


def mostly(value, *others):
    """Usually ``value`` (the hardened choice), sometimes one of ``others``: keeps both
    compliant and non-compliant pods frequent."""
    return st.sampled_from([value, value, value, value, *others])


seccomp = st.fixed_dictionaries({"type": mostly("RuntimeDefault", "Localhost", "Unconfined")})
selinux = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["container_t", "spc_t", "container_kvm_t", ""]),
        "user": st.sampled_from(["", "system_u"]),
        "level": st.just("s0:c1"),
    },
)
caps = st.fixed_dictionaries(
    {"drop": mostly(["ALL"], [], ["NET_RAW"])},
    optional={
        "add": st.lists(mostly("NET_BIND_SERVICE", "CHOWN", "NET_RAW", "SYS_ADMIN"), max_size=2)
    },
)


def sc_fields(container: bool) -> dict[str, Any]:
    common = {
        "runAsNonRoot": mostly(None, True, False),
        "runAsUser": mostly(None, 0, 1000),
        "seccompProfile": mostly(None, {"type": "Unconfined"}, {"type": "Localhost"}),
        "seLinuxOptions": st.one_of(st.none(), st.none(), st.none(), selinux),
        "windowsOptions": mostly(None, {"hostProcess": True}, {"hostProcess": False}),
    }
    if container:
        common |= {
            "privileged": mostly(None, True, False),
            "allowPrivilegeEscalation": mostly(False, None, True),
            "capabilities": st.one_of(caps, caps, st.none()),
            "procMount": mostly(None, "Default", "Unmasked"),
        }
    else:
        common |= {
            "runAsNonRoot": mostly(True, None, False),
            "seccompProfile": mostly({"type": "RuntimeDefault"}, None, {"type": "Unconfined"}),
            "sysctls": st.one_of(
                st.none(),
                st.none(),
                st.lists(
                    st.fixed_dictionaries(
                        {
                            "name": st.sampled_from(["net.ipv4.tcp_syncookies", "kernel.msgmax"]),
                            "value": st.just("1"),
                        }
                    ),
                    max_size=2,
                ),
            ),
        }
    return common


def drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


container = st.builds(
    lambda name, sc, port: drop_none(
        {
            "name": name,
            "image": "registry.example/app:1",
            "securityContext": drop_none(sc),
            "ports": [{"containerPort": 80, "hostPort": port}] if port else None,
        }
    ),
    st.sampled_from(["a", "b"]),
    st.fixed_dictionaries(sc_fields(True)),
    mostly(None, 0, 8080),
)
pod_spec = st.builds(
    lambda sc, ctrs, inits, host, vol, users: drop_none(
        {
            "securityContext": drop_none(sc),
            "containers": ctrs,
            "initContainers": inits or None,
            "hostNetwork": host,
            "hostUsers": users,
            "volumes": [{"name": "v", vol: {"path": "/x"} if vol == "hostPath" else {}}]
            if vol
            else None,
        }
    ),
    st.fixed_dictionaries(sc_fields(False)),
    st.lists(container, min_size=1, max_size=2),
    st.lists(container, max_size=1),
    mostly(None, True, False),
    mostly(None, "emptyDir", "hostPath", "nfs", "secret"),
    mostly(None, True, False),
)


def all_containers(spec):
    return spec.get("containers", []) + spec.get("initContainers", [])


def baseline_ok(spec: dict[str, Any]) -> bool:
    psc = spec.get("securityContext", {})
    ctrs = all_containers(spec)
    scs = [c.get("securityContext", {}) for c in ctrs]
    if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
        return False
    if any(sc.get("privileged") for sc in scs):
        return False
    if any(
        cap not in BASELINE_CAPS for sc in scs for cap in sc.get("capabilities", {}).get("add", [])
    ):
        return False
    if any("hostPath" in v for v in spec.get("volumes", [])):
        return False
    if any(p.get("hostPort", 0) for c in ctrs for p in c.get("ports", [])):
        return False
    for sc in [psc, *scs]:
        if sc.get("seccompProfile", {}).get("type") == "Unconfined":
            return False
        opts = sc.get("seLinuxOptions")
        if opts is not None and (
            opts.get("type", "") not in SELINUX_TYPES or opts.get("user") or opts.get("role")
        ):
            return False
        if sc.get("windowsOptions", {}).get("hostProcess"):
            return False
    if spec.get("hostUsers", True) is not False and any(
        sc.get("procMount", "Default") != "Default" for sc in scs
    ):
        return False
    return all(s["name"] in SAFE_SYSCTLS for s in psc.get("sysctls", []))


def restricted_ok(spec: dict[str, Any]) -> bool:
    if not baseline_ok(spec):
        return False
    psc = spec.get("securityContext", {})
    scs = [c.get("securityContext", {}) for c in all_containers(spec)]
    for v in spec.get("volumes", []):
        if not set(v) - {"name"} <= VOLUME_TYPES:
            return False
    for sc in scs:
        if sc.get("allowPrivilegeEscalation") is not False:
            return False
        caps_ = sc.get("capabilities", {})
        if "ALL" not in caps_.get("drop", []) or set(caps_.get("add", [])) - {"NET_BIND_SERVICE"}:
            return False
        if sc.get("procMount", "Default") != "Default":
            return False
        if sc.get("runAsNonRoot") is False or not (
            sc.get("runAsNonRoot") or psc.get("runAsNonRoot")
        ):
            return False
        effective = sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
        if effective not in {"RuntimeDefault", "Localhost"}:
            return False
    if psc.get("runAsNonRoot") is False:
        return False
    if psc.get("seccompProfile", {}).get("type") not in (None, "RuntimeDefault", "Localhost"):
        return False
    return all(sc.get("runAsUser") != 0 for sc in [psc, *scs])


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_generator_produces_every_verdict():
    """The generator yields baseline+restricted, baseline-only and failing pods alike."""
    seen = set()
    for _ in range(400):
        spec = pod_spec.example()
        seen.add((baseline_ok(spec), restricted_ok(spec)))
    assert seen == {(True, True), (True, False), (False, False)}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pod_spec)
def test_pss_policies_agree_with_python_reading(spec):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}
    hits = {pid for _, pid, _ in ENGINE.evaluate([pod], {})}
    assert (not (hits & BASELINE)) == baseline_ok(spec)
    assert (not (hits & (BASELINE | RESTRICTED))) == restricted_ok(spec)

"""`check_objects`, input handling, exceptions and the `riskgrid policy` CLI."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from riskgrid.cli.main import main
from riskgrid.policy import cases
from riskgrid.policy.check import check_documents, check_objects
from riskgrid.policy.config import PolicyConfig
from riskgrid.policy.export import gatekeeper_objects
from riskgrid.spec.errors import SpecError
from riskgrid.spec.exceptions import PolicyException

TODAY = dt.date(2026, 11, 26)


def exception(exc_name, policy, expires="2026-12-31", **scope) -> PolicyException:
    return PolicyException.model_validate(
        {
            "apiVersion": "riskgrid.dev/v1alpha1",
            "kind": "PolicyException",
            "metadata": {"name": exc_name},
            "spec": {
                "policy": policy,
                "scope": scope,
                "justification": "vendor agent needs it until Q1",
                "approver": "ciso-delegate",
                "expires": expires,
            },
        }
    )


def two_privileged():
    return cases.build(
        {
            "kind": "Deployment",
            "container": {"securityContext": {"privileged": True}},
            "init": {"securityContext": {"privileged": True}},
        },
        name="pricer",
    )


def test_clean_and_dirty_objects():
    report = check_objects([cases.build({}), two_privileged()])
    assert report.objects == 2 and report.errors == []
    privileged = [v for v in report.violations if v.policy_id == "RG-PSS-002"]
    assert {(v.name, v.container, v.path) for v in privileged} == {
        ("pricer", "pricer", "spec.template.spec.containers[0].securityContext.privileged"),
        ("pricer", "init", "spec.template.spec.initContainers[0].securityContext.privileged"),
    }
    assert all(v.severity == "critical" and v.hint for v in privileged)
    assert report.exit_code("critical") == 1


def test_bad_objects_are_reported_not_skipped():
    report = check_objects([{"kind": "Pod"}, "text", {"apiVersion": "v1", "kind": "Deploymnet"}])
    msgs = [e.message for e in report.errors]
    assert any("apiVersion" in m for m in msgs) and any("mapping" in m for m in msgs)
    assert any("unknown kind 'Deploymnet'" in m for m in msgs)
    assert report.exit_code() == 2


def test_list_kind_is_expanded():
    report = check_objects([{"apiVersion": "v1", "kind": "List", "items": [two_privileged()]}])
    assert report.objects == 1 and any(v.policy_id == "RG-PSS-002" for v in report.violations)


def test_exception_scope_never_widens():
    exc = exception(
        "init-priv", "RG-PSS-002", namespace="desk-rates", name="pricer", container="init"
    )
    report = check_objects([two_privileged()], exceptions=[exc], today=TODAY)
    left = [v.container for v in report.violations if v.policy_id == "RG-PSS-002"]
    assert left == ["pricer"]  # the sibling container is still reported
    assert [v.excepted_by for v in report.waived] == ["init-priv"]


def test_expired_exception_stops_applying_and_is_reported():
    exc = exception("old", "RG-PSS-002", expires="2026-11-25", namespace="desk-rates")
    report = check_objects([two_privileged()], exceptions=[exc], today=TODAY)
    assert len([v for v in report.violations if v.policy_id == "RG-PSS-002"]) == 2
    assert report.waived == [] and report.expired_exceptions[0].startswith("old")


def test_exception_requires_scope():
    with pytest.raises(ValueError, match="scope must name"):
        exception("all", "RG-PSS-002", kind="Deployment")


def test_tenant_scoped_rules_skip_platform_namespaces():
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "lb", "namespace": "kube-system"},
        "spec": {"type": "LoadBalancer"},
    }
    tenant_svc = {**svc, "metadata": {"name": "lb", "namespace": "desk-rates"}}
    report = check_objects([svc, tenant_svc])
    assert [
        (v.namespace, v.policy_id) for v in report.violations if v.policy_id == "RG-NET-001"
    ] == [("desk-rates", "RG-NET-001")]


def test_config_parameters_are_validated_and_used():
    cfg = PolicyConfig.model_validate(
        {
            "apiVersion": "riskgrid.dev/v1alpha1",
            "kind": "PolicyConfig",
            "metadata": {"name": "c"},
            "spec": {"parameters": {"RG-IMG-001": {"repositories": ["reg.bank.example"]}}},
        }
    )
    report = check_objects([cases.build({})], config=cfg)
    assert [v.policy_id for v in report.violations] == ["RG-IMG-001"]
    bad = PolicyConfig.model_validate(
        {
            "apiVersion": "riskgrid.dev/v1alpha1",
            "kind": "PolicyConfig",
            "metadata": {"name": "c"},
            "spec": {
                "parameters": {"RG-IMG-001": {"repositories": "x"}},
                "disabled": ["RG-NOPE-001"],
            },
        }
    )
    with pytest.raises(SpecError) as err:
        check_objects([], config=bad)
    assert "RG-NOPE-001" in str(err.value) and "is not of type 'array'" in str(err.value)


def test_exceptions_reach_the_gatekeeper_export():
    exc = exception("init-priv", "RG-PSS-002", namespace="desk-rates", container="init")
    expired = exception("gone", "RG-PSS-002", expires="2020-01-01", namespace="desk-rates")
    objs = gatekeeper_objects(exceptions=[exc, expired], today=TODAY)
    constraint = next(o for o in objs if o["kind"] == "RgPss002")
    assert constraint["spec"]["parameters"]["exemptions"] == [
        {
            "name": "init-priv",
            "expires": "2026-12-31",
            "namespace": "desk-rates",
            "container": "init",
        }
    ]


@pytest.fixture
def files(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(cases.build({})))
    (tmp_path / "sub" / "bad.yaml").write_text(
        yaml.safe_dump_all([two_privileged(), {"kind": "X"}]) + "---\na: [b\n"
    )
    return tmp_path


def run_cli(args, capsys):
    code = main(args)
    return code, capsys.readouterr()


def test_cli_clean_file_exits_0(files, capsys):
    code, out = run_cli(["policy", "check", str(files / "good.yaml")], capsys)
    assert code == 0 and "0 violations" in out.out


def test_cli_bad_input_exits_2_with_file_and_index(files, capsys):
    code, out = run_cli(["policy", "check", str(files), "--format", "json"], capsys)
    data = json.loads(out.out)
    assert code == 2
    where = {(Path(e["source"]).name, e["document"]) for e in data["errors"]}
    assert ("bad.yaml", 1) in where and ("bad.yaml", 2) in where
    assert data["objects"] == 2


def test_cli_violations_exit_1_and_fail_on(tmp_path, capsys):
    f = tmp_path / "d.yaml"
    f.write_text(yaml.safe_dump(cases.build({"container": {"tty": True}})))
    assert run_cli(["policy", "check", str(f)], capsys)[0] == 1
    assert run_cli(["policy", "check", str(f), "--fail-on", "medium"], capsys)[0] == 0


@pytest.mark.parametrize("fmt", ["sarif", "junit", "text"])
def test_cli_formats(tmp_path, capsys, fmt):
    f = tmp_path / "d.yaml"
    f.write_text(yaml.safe_dump(two_privileged()))
    code, out = run_cli(["policy", "check", str(f), "--format", fmt], capsys)
    assert code == 1
    if fmt == "sarif":
        doc = json.loads(out.out)
        assert doc["version"] == "2.1.0"
        assert {r["ruleId"] for r in doc["runs"][0]["results"]} == {"RG-PSS-002"}
    elif fmt == "junit":
        assert out.out.count("<failure") == 2 and "RG-PSS-002" in out.out
    else:
        assert "container=init" in out.out and "fix:" in out.out


def test_cli_stdin_multi_doc(repo_root):
    docs = yaml.safe_dump_all([cases.build({}), two_privileged()])
    proc = subprocess.run(
        [sys.executable, "-m", "riskgrid.cli.main", "policy", "check", "-", "-f", "json"],
        input=docs,
        capture_output=True,
        text=True,
        cwd=repo_root,
        check=False,
    )
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["objects"] == 2


def test_cli_exceptions_listing(tmp_path, capsys):
    f = tmp_path / "exc.yaml"
    f.write_text(
        yaml.safe_dump_all(
            [
                exception(
                    "a", "RG-PSS-004", expires="2026-12-06", namespace="desk-rates"
                ).model_dump(mode="json", by_alias=True),
                exception(
                    "b", "RG-PSS-004", expires="2026-11-20", namespace="desk-rates"
                ).model_dump(mode="json", by_alias=True),
            ]
        )
    )
    code, out = run_cli(["policy", "exceptions", str(f), "--today", "2026-11-26"], capsys)
    assert code == 0
    assert "10 days left" in out.out and "EXPIRED 6 days ago" in out.out


def test_cli_list(capsys):
    code, out = run_cli(["policy", "list"], capsys)
    assert code == 0 and "RG-PSS-001" in out.out and "RG-RAY-001" in out.out


def test_cli_bad_exception_file_exits_2_naming_fields(tmp_path, capsys):
    f = tmp_path / "exc.yaml"
    f.write_text(
        "apiVersion: riskgrid.dev/v1alpha1\nkind: PolicyException\nmetadata: {name: x}\n"
        "spec: {policy: RG-PSS-002, scope: {kind: Deployment}, justification: short,"
        " approver: me, expires: 2026-13-01}\n"
    )
    code, out = run_cli(["policy", "exceptions", str(f)], capsys)
    assert code == 2
    assert "exc.yaml[0]: spec.expires:" in out.err and "spec.scope:" in out.err


def test_kubectl_timestamps_are_read_as_text(tmp_path, capsys):
    f = tmp_path / "live.yaml"
    obj = cases.build({"kind": "Pod"})
    obj["metadata"]["creationTimestamp"] = "TS"
    f.write_text(yaml.safe_dump(obj).replace("TS", "2026-01-01T10:00:00Z"))
    code, out = run_cli(["policy", "check", str(f)], capsys)
    assert code == 0, out.out


def test_python_callers_may_pass_non_json_scalars():
    obj = two_privileged()
    obj["metadata"]["creationTimestamp"] = dt.datetime(2026, 1, 1, 10, 0)
    report = check_objects([obj])
    assert {v.container for v in report.violations if v.policy_id == "RG-PSS-002"} == {
        "pricer",
        "init",
    }


def test_cli_engines_agree_and_export_runs(tmp_path, capsys):
    f = tmp_path / "d.yaml"
    f.write_text(yaml.safe_dump_all([two_privileged(), cases.build({"kind": "CronJob"})]))
    results = {}
    for engine in ("regorus", "regopy"):
        code, out = run_cli(["policy", "check", str(f), "-f", "json", "--engine", engine], capsys)
        assert code == 1
        data = json.loads(out.out)
        assert data["engine"] == engine
        results[engine] = data["violations"]
    assert results["regorus"] == results["regopy"]
    code, out = run_cli(
        ["policy", "export", "--target", "gatekeeper", "-o", str(tmp_path / "gk")], capsys
    )
    assert code == 0 and (tmp_path / "gk" / "constraints" / "rg-pss-002.yaml").exists()
    code, out = run_cli(["policy", "export", "--target", "nope", "-o", str(tmp_path / "x")], capsys)
    assert code == 2 and "--target" in out.err


def test_null_fields_read_as_unset():
    """`securityContext: null` / `metadata: null` are Kubernetes' "unset", not a type error that
    stops the batch (the null-safe normalisation): a privileged sibling is still reported."""
    obj = cases.build({"pod": {"securityContext": None}})
    obj["spec"]["template"]["spec"]["containers"][0]["securityContext"] = None
    priv = cases.build({"container": {"securityContext": {"privileged": True}}}, name="priv")
    report = check_objects([obj, priv])
    assert not report.errors
    assert {v.name for v in report.violations if v.policy_id == "RG-PSS-002"} == {"priv"}
    # no seccomp and no runAsNonRoot anywhere now: the restricted checks see them unset
    assert {"RG-PSS-103", "RG-PSS-105"} <= {
        v.policy_id for v in report.violations if v.name == "case"
    }


def test_object_the_engine_cannot_evaluate_is_an_input_error(tmp_path, capsys):
    """An object a policy cannot read (here `spec: null` on a Service) is reported with file,
    document and the engine's reason — exit 2 — and every other object is still judged."""
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "desk-a"}}
    exposed = {
        **svc,
        "metadata": {"name": "np", "namespace": "desk-a"},
        "spec": {"type": "NodePort"},
    }
    (tmp_path / "m.yaml").write_text(yaml.safe_dump_all([exposed, {**svc, "spec": None}, exposed]))
    code, out = run_cli(["policy", "check", str(tmp_path), "--format", "json"], capsys)
    data = json.loads(out.out)
    assert code == 2
    [err] = data["errors"]
    assert (Path(err["source"]).name, err["document"]) == ("m.yaml", 1)
    assert "cannot be evaluated" in err["message"] and "expects object" in err["message"]
    hits = [v for v in data["violations"] if v["policy_id"] == "RG-NET-001"]
    assert sorted(v["document"] for v in hits) == [0, 2]


def test_process_pool_makes_the_same_report(tmp_path):
    """`parallel.check_paths(jobs=2)`: two worker processes, the report of one process."""
    from riskgrid.policy.inputs import read_inputs
    from riskgrid.policy.parallel import check_paths, shares

    for n in range(4):
        objs = [
            cases.build(
                {"container": {"securityContext": {"privileged": n % 2 == 0}}}, name=f"w{n}"
            ),
            cases.build({"pod": {"hostNetwork": True}}, name=f"h{n}"),
            {"apiVersion": "v1", "kind": "Deploymnet", "metadata": {"name": f"typo{n}"}},
        ]
        (tmp_path / f"b{n}.yaml").write_text(yaml.safe_dump_all(objs))
    (tmp_path / "b4.yaml").write_text("a: [b\n")
    docs, errors = read_inputs([str(tmp_path)])
    serial = check_documents(docs, errors=errors)
    pooled = check_paths([str(tmp_path)], jobs=2)
    assert pooled.violations == serial.violations and len(serial.violations) >= 6
    assert sorted(map(str, pooled.errors)) == sorted(map(str, serial.errors))
    assert pooled.objects == serial.objects == 12
    assert [len(s) for s in shares(sorted(tmp_path.glob("*.yaml")), 2)] in ([2, 3], [3, 2])

"""RiskJob loading: the shipped examples load, the schema is documented, the CLI prints it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from riskgrid.cli.main import main
from riskgrid.risk import portfolio as pf
from riskgrid.spec import registry
from riskgrid.spec.job import RiskJob, load_job


def test_main_example_loads(repo_root: Path) -> None:
    inputs = load_job(repo_root / "examples" / "jobs" / "multi-desk-var.yaml")
    p = inputs.portfolio
    assert p.n >= 3000
    # every closed-form instrument type (exotics live in examples/jobs/exotics-var.yaml)
    assert set(np.unique(p.kind)) == set(range(pf.ZCB + 1))
    assert set(p.groups["desk"]) == {"eq-vol", "fx-options", "rates-delta-one"}
    assert len(set(p.groups["underlying"])) >= 28
    assert inputs.scenarios.n == 500 + 4
    assert inputs.scenarios.labels[-1] == "stress:vol-crush"
    assert inputs.measures.var == (0.99, 0.975) and inputs.measures.es == (0.975,)
    assert inputs.job.spec.grid.seed == 7
    assert inputs.market.base_currency == "USD"


def test_small_example_defaults(repo_root: Path) -> None:
    inputs = load_job(repo_root / "examples" / "jobs" / "small.yaml")
    assert inputs.portfolio.n == 8 and inputs.scenarios.n == 61
    assert inputs.measures.greeks is True
    assert inputs.job.spec.grid.target_task_seconds == 0.5
    assert list(inputs.portfolio.ids[:2]) == ["eq-call-1", "eq-put-1"]


def test_example_data_is_small_and_long_enough(repo_root: Path) -> None:
    ex = repo_root / "examples"
    size = sum(f.stat().st_size for d in ("market", "portfolios") for f in (ex / d).iterdir())
    assert size < 5 * 1024 * 1024
    rows = (ex / "market" / "history.csv").read_text().count("\n") - 1
    assert rows >= 504


def test_every_field_is_described_in_the_schema() -> None:
    schema = registry.json_schema("RiskJob")
    defs = schema["$defs"]
    missing = [
        f"{name}.{field}"
        for name, d in defs.items()
        if name.endswith(("Spec", "Position", "Shock"))
        for field, prop in d.get("properties", {}).items()
        if "description" not in prop
    ]
    assert missing == []
    assert "valuationDate" in defs["RiskJobSpec"]["properties"]
    assert RiskJob.model_json_schema(by_alias=True)["properties"]["kind"]["default"] == "RiskJob"


def test_cli_schema_prints_riskjob_and_marketdata(capsys) -> None:
    assert main(["schema", "RiskJob"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "spec" in out["properties"]
    assert main(["schema", "MarketData"]) == 0
    assert "curves" in json.loads(capsys.readouterr().out)["properties"]


def test_ten_day_example_uses_ten_day_changes(repo_root: Path) -> None:
    inputs = load_job(repo_root / "examples" / "jobs" / "multi-desk-var-10d.yaml")
    one_day = load_job(repo_root / "examples" / "jobs" / "small.yaml")
    s10, s1 = inputs.scenarios, one_day.scenarios
    assert s10.n == 250 and s10.labels[0] == s1.labels[0] == "hs:2026-11-20"
    # a 10-day multiplier is the product of ten 1-day multipliers (up to rounding)
    i = inputs.market.spot_index("ACME")
    np.testing.assert_allclose(s10.spot_mult[i, 0], np.prod(s1.spot_mult[i, :10]), rtol=1e-12)


def test_examples_validate_against_the_published_json_schema(repo_root: Path) -> None:
    import jsonschema
    import yaml

    schema = registry.json_schema("RiskJob")
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for name in ("small.yaml", "multi-desk-var.yaml", "multi-desk-var-10d.yaml"):
        doc = yaml.safe_load((repo_root / "examples" / "jobs" / name).read_text())
        doc = json.loads(json.dumps(doc, default=str))  # YAML dates → ISO strings, as in JSON
        assert list(validator.iter_errors(doc)) == [], name
    bad = {
        "apiVersion": "riskgrid.dev/v1alpha1",
        "kind": "RiskJob",
        "metadata": {"name": "x"},
        "spec": {"valuationDate": "2026-11-20", "colour": "red"},
    }
    assert list(validator.iter_errors(bad))

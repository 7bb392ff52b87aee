"""Property-based API testing with schemathesis against a live loopback server.

Every operation of the OpenAPI document gets generated requests (bounded, so this stays well
under a minute) with a valid platform-admin dev token and with a developer's token: no 5xx,
status codes and bodies as documented. A stateful run, with each token too, follows the links
schemathesis infers between operations (list tenants, then read, update, submit to one; submit
a job, then read, cancel it). Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)
from service_helpers import PLATFORM_ADMINS, _pg_database, dev_settings, start_server, tenant_doc


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def live(request, tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    url = None if request.param == "sqlite" else _pg_database(request.getfixturevalue("pg_server"))
    srv = start_server(
        dev_settings(tmp / "state", url, rate_limit_burst=100_000, runner_enabled=False)
    )
    token = srv.token("fuzzer", PLATFORM_ADMINS)
    with srv.client(token) as c:  # something to find behind the path parameters
        assert c.post("/v1/tenants", json=tenant_doc("desk-a")).status_code == 201
    tokens = {"admin": token, "developer": srv.token("dev", "desk-a-devs")}
    try:
        yield srv.url, tokens
    finally:
        srv.stop()


CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


@pytest.mark.parametrize("who", ["admin", "developer"])
def test_api_conforms_to_its_schema(live, who):
    url, tokens = live
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    headers = {"Authorization": f"Bearer {tokens[who]}"}
    checks = CHECKS
    tested = []
    # schemathesis's pytest plugin does not load under this pytest; drive Hypothesis directly
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy())
        def run(case):
            case.call_and_validate(base_url=url, headers=headers, checks=checks)

        run()
        tested.append(operation.label)
    assert len(tested) == 16, tested


@pytest.mark.parametrize("who", ["admin", "developer"])
def test_api_conforms_statefully(live, who):
    url, tokens = live
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    headers = {"Authorization": f"Bearer {tokens[who]}"}
    steps: list[tuple[str, int]] = []

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case):  # type: ignore[no-untyped-def]
            return {"headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs):  # type: ignore[no-untyped-def]
            steps.append((case.operation.label, response.status_code))
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    # the machine's transitions are the links schemathesis infers between operations (a
    # listed tenant's name into GET/PUT /v1/tenants/{name} and its jobs route, a job's id into
    # its status, result, files and cancel): make sure they are there to follow
    transitions = [name for name in vars(Machine.__mro__[1]) if "___" in name]
    assert any("POST_v1_tenants_tenant_jobs" in t for t in transitions), transitions
    assert any("GET_v1_jobs_job_id_" in t for t in transitions), transitions
    Machine.run(
        settings=settings(
            max_examples=30,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
    )
    codes = [code for _, code in steps]
    assert len(steps) >= 30 and not any(code >= 500 for code in codes), steps
    # a link was followed to a real object: an operation behind a path parameter answered 2xx
    assert any("{" in label and code < 300 for label, code in steps), steps

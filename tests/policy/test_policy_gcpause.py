"""The collector pause around a check: off inside, restored after, whatever happens."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from riskgrid.policy.check import check_objects
from riskgrid.policy.gcpause import gc_paused, without_gc
from riskgrid.policy.inputs import read_inputs


def test_paused_inside_and_restored_after_an_error() -> None:
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), gc_paused():
        assert not gc.isenabled()
        _ = 1 / 0
    assert gc.isenabled()


def test_nested_pause_leaves_the_outer_one_in_charge() -> None:
    with gc_paused():
        with gc_paused():
            pass
        assert not gc.isenabled()  # the inner block must not turn it back on early
    assert gc.isenabled()


def test_a_collector_disabled_on_purpose_stays_disabled() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_wrapped_function_runs_paused_and_keeps_its_name() -> None:
    @without_gc
    def probe(x: int) -> tuple[int, bool]:
        return x, gc.isenabled()

    assert probe(3) == (3, False)
    assert probe.__name__ == "probe"
    assert gc.isenabled()


def test_check_and_read_leave_the_collector_enabled(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
    docs, errors = read_inputs([str(tmp_path)])
    assert len(docs) == 1 and not errors
    check_objects([docs[0].obj])
    assert gc.isenabled()

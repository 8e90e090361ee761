"""The gate's rules on real models: keeps, expiry, budgets, repository-wide reruns."""

from __future__ import annotations

import datetime as dt

import pytest

from flaketui.gate import gate_items, gate_passes
from flaketui.models import Finding, GateItem, Keep, Triage
from tests._record_helpers import flaky

TODAY = dt.date(2026, 11, 24)
NET = flaky("tests/test_api.py::test_fetch", 12)
CLOCK = flaky("tests/test_jobs.py::test_expiry", 30, source="@flaky(max_runs=3)")
METHOD = flaky("tests/test_api.py::TestLive::test_stream", 40)


def keep(test, reason: str = "live API", expires: str | None = None) -> dict[tuple[str, str], Triage]:
    return {test.key: Triage(test.nodeid, keep=Keep(reason, expires))}


def statuses(items: list[GateItem]) -> dict[str, str]:
    return {i.nodeid: i.status for i in items}


def test_every_marker_fails_without_a_keep() -> None:
    items = gate_items([CLOCK, NET], [], {}, TODAY)
    assert [i.text for i in items] == [
        "tests/test_api.py:11: tests/test_api.py::test_fetch (@pytest.mark.flaky(reruns=3))",
        "tests/test_jobs.py:29: tests/test_jobs.py::test_expiry (@flaky(max_runs=3))",
    ]
    assert not gate_passes(items, budget=0)
    assert not gate_passes(items, budget=1)
    assert gate_passes(items, budget=2)


@pytest.mark.parametrize(
    ("expires", "status", "text"),
    [
        pytest.param(None, "kept", "kept: live API (no expiry)", id="no-expiry"),
        pytest.param("2026-11-24", "kept", "kept: live API (until 2026-11-24)", id="expires-today-still-holds"),
        pytest.param("2026-11-23", "expired", "keep expired 2026-11-23: live API", id="expired-yesterday"),
    ],
)
def test_keeps_and_their_expiry(expires: str | None, status: str, text: str) -> None:
    (item,) = gate_items([NET], [], keep(NET, expires=expires), TODAY)
    assert item.status == status
    assert item.text == f"tests/test_api.py:11: tests/test_api.py::test_fetch (@pytest.mark.flaky(reruns=3)) {text}"
    assert gate_passes([item], budget=0) is (status == "kept")


def test_an_expired_keep_fails_whatever_the_budget() -> None:
    items = gate_items([NET], [], keep(NET, expires="2026-01-01"), TODAY)
    assert not gate_passes(items, budget=10)


def test_a_keep_on_a_class_covers_its_tests_but_not_its_neighbours() -> None:
    decisions = {(".", "tests/test_api.py::TestLive"): Triage("tests/test_api.py::TestLive", keep=Keep("streams"))}
    assert statuses(gate_items([METHOD, NET], [], decisions, TODAY)) == {
        METHOD.nodeid: "kept",
        NET.nodeid: "failing",
    }


def test_a_decision_without_keep_does_not_keep() -> None:
    decisions = {NET.key: Triage(NET.nodeid, note="we should fix it")}
    assert statuses(gate_items([NET], [], decisions, TODAY)) == {NET.nodeid: "failing"}


def test_repository_wide_reruns_fail_and_other_findings_do_not() -> None:
    findings = [
        Finding("config-reruns", "pyproject.toml", 8, "--reruns 2 in addopts"),
        Finding("xfail-flaky", "tests/test_x.py", 3, "xfail(strict=False) hides a flaky test"),
    ]
    items = gate_items([], findings, {}, TODAY)
    assert [(i.status, i.text) for i in items] == [
        ("finding", "pyproject.toml:8: --reruns 2 in addopts (config-reruns)")
    ]
    assert not gate_passes(items, budget=0)


def test_nothing_to_report_passes() -> None:
    assert gate_items([], [], {}, TODAY) == []
    assert gate_passes([], budget=0)


def test_a_repository_wide_rerun_is_kept_by_keeping_its_file() -> None:
    finding = Finding("ci-reruns", "tox.ini", 4, "--reruns 3 in a pytest command")
    decisions = {(".", "tox.ini"): Triage("tox.ini", keep=Keep("integration job only", "2026-12-01"))}
    (item,) = gate_items([], [finding], decisions, TODAY)
    assert item.text == "tox.ini:4: --reruns 3 in a pytest command (ci-reruns) kept: integration job only (until 2026-12-01)"
    assert gate_passes([item], budget=0)
    (item,) = gate_items([], [finding], decisions, dt.date(2026, 12, 2))
    assert item.status == "expired"


def test_a_keep_whose_test_lost_its_marker_is_stale_and_does_not_fail() -> None:
    decisions = {**keep(NET), **keep(CLOCK, "wall time")}
    items = gate_items([NET], [], decisions, TODAY)
    assert [(i.status, i.text) for i in items if i.status == "stale"] == [
        ("stale", ".flaketui.toml: tests/test_jobs.py::test_expiry is kept (wall time) but carries no flaky marker any more")
    ]
    assert gate_passes(items, budget=0)


def test_a_class_keep_in_use_is_not_stale() -> None:
    decisions = {(".", "tests/test_api.py::TestLive"): Triage("tests/test_api.py::TestLive", keep=Keep("streams"))}
    assert [i.status for i in gate_items([METHOD], [], decisions, TODAY)] == ["kept"]

"""``flaketui scan --collect``: pytest's own collection merged into the static scan."""

from __future__ import annotations

import json

import pytest

from flaketui.cli import main
from flaketui.models import MarkerKind
from flaketui.service import Service
from tests._verify_helpers import PYTEST_INI
from tests.conftest import MakeRepo

HOOKED = {
    "pytest.ini": PYTEST_INI,
    "conftest.py": """
        import pytest


        def pytest_collection_modifyitems(items):
            for item in items:
                if item.name == "test_dynamic":
                    item.add_marker(pytest.mark.flaky(reruns=5))
    """,
    "helpers.py": """
        from flaky import flaky

        retrying = flaky(max_runs=4, min_passes=2)
    """,
    "test_things.py": """
        import pytest

        from helpers import retrying


        @pytest.mark.flaky(reruns=2)
        def test_static():
            pass


        def test_dynamic():
            pass


        @retrying
        def test_through_a_helper():
            pass


        def test_plain():
            pass
    """,
}


def test_collect_adds_what_only_pytest_sees_with_a_finding_each(make_repo: MakeRepo) -> None:
    root = make_repo(HOOKED)
    service = Service(root)
    static = {t.nodeid for t in service.scan().tests}
    result = service.scan(collect=True)
    by_id = {t.nodeid: t for t in result.tests}
    assert "test_things.py::test_plain" not in by_id
    assert len(result.tests) == len(by_id)  # nothing twice
    assert static <= set(by_id)
    dynamic = by_id["test_things.py::test_dynamic"]
    assert (dynamic.marker.kind, dynamic.marker.args, dynamic.marker.via) == (
        MarkerKind.RERUNFAILURES,
        (("reruns", "5"),),
        "pytest collection",
    )
    helper = by_id["test_things.py::test_through_a_helper"]
    assert helper.marker.kind is MarkerKind.FLAKY
    assert dict(helper.marker.args) == {"max_runs": "4", "min_passes": "2"}
    collected = {f.source for f in result.findings if f.kind == "collected-marker"}
    assert "pytest.mark.flaky(reruns=5)" in collected
    assert not any("test_static" in f.message for f in result.findings if f.kind == "collected-marker")


def test_collect_uses_each_rootdir_and_its_node_ids(make_repo: MakeRepo) -> None:
    root = make_repo(
        {
            "svc/pytest.ini": PYTEST_INI,
            "svc/conftest.py": HOOKED["conftest.py"],
            "svc/tests/test_x.py": "def test_dynamic():\n    pass\n",
        }
    )
    result = Service(root).scan(collect=True)
    [test] = result.tests
    assert (test.rootdir, test.nodeid, test.path) == ("svc", "tests/test_x.py::test_dynamic", "svc/tests/test_x.py")


def test_a_module_pytest_cannot_import_is_a_finding_and_the_rest_is_collected(make_repo: MakeRepo) -> None:
    root = make_repo(
        {
            **HOOKED,
            "test_broken.py": "import no_such_module_anywhere\n",
        }
    )
    result = Service(root).scan(collect=True)
    assert "test_things.py::test_dynamic" in {t.nodeid for t in result.tests}
    [error] = [f for f in result.findings if f.kind == "collect-error"]
    assert "no_such_module_anywhere" in error.source


def test_scan_collect_json_on_the_command_line(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(HOOKED)
    assert main(["-C", str(root), "scan", "--collect", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert "test_things.py::test_dynamic" in {t["nodeid"] for t in payload["tests"]}
    assert "collected-marker" in {f["kind"] for f in payload["findings"]}


def test_a_wrapper_decorator_in_another_file_is_located_where_the_test_applies_it(make_repo: MakeRepo) -> None:
    root = make_repo(
        {
            # The wrapper copies no __wrapped__: pytest locates the test at the wrapper's def.
            "wrappers.py": """
                import pytest


                def on_network(function):
                    def wrapper(*args, **kwargs):
                        return function(*args, **kwargs)
                    return pytest.mark.flaky(reruns=2)(wrapper)
            """,
            "test_wrapped.py": """
                import pytest

                from wrappers import on_network


                class TestRemote:
                    @pytest.mark.slow
                    @on_network
                    def test_fetch(self):
                        pass
            """,
            "pytest.ini": PYTEST_INI + "markers =\n    slow: slow\n",
        }
    )
    result = Service(root).scan(collect=True)
    [test] = result.tests
    assert (test.nodeid, test.path, test.line) == ("test_wrapped.py::TestRemote::test_fetch", "test_wrapped.py", 10)
    assert (test.marker.path, test.marker.line, test.marker.via) == ("test_wrapped.py", 9, "pytest collection")

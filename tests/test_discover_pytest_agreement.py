"""Node ids must be the ones real pytest prints: every fixture project here is also collected by
``pytest --collect-only -q -m flaky`` in a subprocess, and the two sets must be equal."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._discover_helpers import (
    assert_agrees_with_pytest,
    by_nodeid,
    pytest_collect,
    scan,
)
from tests.conftest import write_files
from tests.test_discover_patterns import INHERITANCE, LAMBDAS, NESTED

SPELLINGS = {
    "tests/test_spellings.py": """
        import pytest
        import pytest as pt
        from pytest import mark
        from pytest import mark as mk

        m = pytest.mark
        rerun3 = pytest.mark.flaky(reruns=3)
        named = getattr(pytest.mark, "flaky")

        @pytest.mark.flaky
        def test_bare(): pass

        @pytest.mark.flaky(reruns=2, reruns_delay=1, condition=True, only_rerun=["OSError"])
        def test_rerunfailures_args(): pass

        @pt.mark.flaky(max_runs=3, min_passes=2)
        def test_import_as(): pass

        @mark.flaky
        def test_from_pytest_import_mark(): pass

        @mk.flaky(retries=2, delay=1)
        def test_mark_as(): pass

        @m.flaky
        def test_mark_alias(): pass

        @rerun3
        def test_marker_alias(): pass

        @named
        def test_getattr(): pass

        @pytest.mark.slow
        def test_not_flaky(): pass

        def test_plain(): pass

        async def test_async_unmarked(): pass

        @pytest.mark.flaky
        async def test_async_marked(): pass
    """,
}

CLASSES = {
    "tests/test_classes.py": """
        import abc
        import pytest

        @pytest.mark.flaky(reruns=1)
        class TestDecorated:
            def test_a(self): pass

            class TestNested:
                def test_inner(self): pass

        class TestBody:
            pytestmark = [pytest.mark.flaky(reruns=2), pytest.mark.slow]

            def test_b(self): pass

        class TestChild(TestBody):
            def test_c(self): pass

        class TestGrandChild(TestChild):
            pass

        class TestUnmarked:
            def test_d(self): pass

            @pytest.mark.flaky
            def test_method_marked(self): pass

        class TestWithInit:
            def __init__(self): pass

            @pytest.mark.flaky
            def test_never_collected(self): pass

        class NotATestClass:
            @pytest.mark.flaky
            def test_never_collected(self): pass

        class TestHidden:
            __test__ = False

            @pytest.mark.flaky
            def test_hidden(self): pass

        class TestHiddenChild(TestHidden):
            @pytest.mark.flaky
            def test_still_hidden(self): pass

        class Opted:
            __test__ = True

            @pytest.mark.flaky
            def test_opted_in(self): pass

        class TestAbstract(abc.ABC):
            @abc.abstractmethod
            def run(self): ...

            @pytest.mark.flaky
            def test_abstract(self): pass

        class TestConcrete(TestAbstract):
            def run(self): pass
    """,
    "tests/test_module_list.py": """
        import pytest

        pytestmark = [pytest.mark.slow, pytest.mark.flaky(reruns=4)]

        def test_one(): pass

        class TestInModule:
            def test_two(self): pass
    """,
    "tests/test_module_augmented.py": """
        import pytest

        pytestmark = [pytest.mark.slow]
        pytestmark += [pytest.mark.flaky(max_runs=2)]

        def test_three(): pass
    """,
    "tests/test_module_single.py": """
        import pytest
        pytestmark = pytest.mark.flaky
        def test_four(): pass
    """,
    "tests/test_unittest_style.py": """
        import unittest
        import pytest
        from unittest import TestCase

        class CheckSomething(unittest.TestCase):
            @pytest.mark.flaky(reruns=2)
            def test_method(self): pass

            def test_unmarked(self): pass

        @pytest.mark.flaky
        class AnyName(TestCase):
            def test_x(self): pass
            def helper(self): pass
    """,
}

CROSS_MODULE = {
    "tests/__init__.py": "",
    "tests/conftest.py": """
        import pytest
        network_flaky = pytest.mark.flaky(reruns=3)
    """,
    "tests/helpers.py": """
        import pytest
        RETRY = pytest.mark.flaky(reruns=5)
        ALL_MARKS = [pytest.mark.flaky(reruns=1)]

        def flaky_for(n):
            return pytest.mark.flaky(reruns=n)
    """,
    "tests/base.py": """
        import pytest

        @pytest.mark.flaky(reruns=2)
        class FlakyBase:
            def test_inherited(self): pass

        class Mixin:
            @pytest.mark.flaky
            def test_from_mixin(self): pass
    """,
    "tests/middle.py": """
        from tests.base import FlakyBase

        class Middle(FlakyBase):
            pass
    """,
    "tests/test_uses_alias.py": """
        from tests.conftest import network_flaky
        from tests.helpers import RETRY, flaky_for
        from . import helpers

        @network_flaky
        def test_conftest_alias(): pass

        @RETRY
        def test_helper_alias(): pass

        @helpers.RETRY
        def test_module_attribute(): pass

        @flaky_for(4)
        def test_factory(): pass

        def test_unmarked(): pass
    """,
    "tests/test_uses_base.py": """
        from tests.middle import Middle
        from tests.base import Mixin

        class TestDeep(Middle):
            def test_own(self): pass

        class TestMixed(Mixin):
            def test_plain(self): pass
    """,
    "tests/cases.py": """
        import pytest

        CASES = [1, pytest.param(2, marks=pytest.mark.flaky(reruns=2), id="two"), "three"]
    """,
    "tests/test_uses_cases.py": """
        import pytest
        from tests.cases import CASES

        @pytest.mark.parametrize("value", CASES)
        def test_case(value): pass
    """,
    "tests/shared_tests.py": """
        import pytest

        @pytest.mark.flaky(reruns=1)
        def test_shared(): pass

        class TestShared:
            @pytest.mark.flaky
            def test_method(self): pass
    """,
    "tests/test_star.py": """
        from tests.shared_tests import *
    """,
    "tests/test_uses_list.py": """
        from tests.helpers import ALL_MARKS

        pytestmark = ALL_MARKS

        def test_listed(): pass
    """,
}

PARAMS = {
    "tests/test_params.py": """
        import enum
        import pytest

        ID = "named"

        @pytest.mark.parametrize("x", [1, pytest.param(2, marks=pytest.mark.flaky), "a b", None, 2.5, -3, True])
        def test_values(x): pass

        @pytest.mark.parametrize("x", [pytest.param(1, marks=[pytest.mark.flaky(reruns=1)], id="custom"), 2])
        def test_param_id(x): pass

        @pytest.mark.parametrize("x,y", [(1, 2), pytest.param(3, 4, marks=pytest.mark.flaky)], ids=["first", "second"])
        def test_ids_list(x, y): pass

        @pytest.mark.parametrize("x", [{"a": 1}, pytest.param([1], marks=pytest.mark.flaky)])
        def test_objects(x): pass

        @pytest.mark.parametrize("x", ["dup", pytest.param("dup", marks=pytest.mark.flaky)])
        def test_duplicates(x): pass

        @pytest.mark.parametrize("x", ["é", pytest.param("ü\\n", marks=pytest.mark.flaky)])
        def test_escaped(x): pass

        @pytest.mark.parametrize("x", [0, 1])
        @pytest.mark.parametrize("y", ["a", pytest.param("b", marks=pytest.mark.flaky)])
        def test_stacked(x, y): pass

        @pytest.mark.flaky
        @pytest.mark.parametrize("x", [1, 2])
        def test_whole_function(x): pass

        @pytest.mark.parametrize(("a", "b"), [pytest.param(1, 2, marks=pytest.mark.flaky, id=ID)])
        def test_id_from_constant(a, b): pass

        @pytest.mark.parametrize("x", [pytest.param(int, marks=pytest.mark.flaky), lambda: 1])
        def test_named_objects(x): pass

        @pytest.mark.parametrize("x", [pytest.param(5, id=None, marks=pytest.mark.flaky), pytest.param(6, id="six")])
        def test_id_none_is_automatic(x): pass

        @pytest.mark.parametrize("x", [1, 1, pytest.param(1, marks=pytest.mark.flaky)])
        def test_digit_duplicates(x): pass

        @pytest.mark.parametrize("b", ["b1", pytest.param("b2", marks=pytest.mark.flaky)])
        class ParamBase:
            pass

        @pytest.mark.parametrize("c", ["c1", "c2"])
        class TestParamChild(ParamBase):
            def test_n(self, b, c): pass

        class TestParamClass:
            @pytest.mark.parametrize("x", [pytest.param(b"\\x00bytes", marks=pytest.mark.flaky)])
            def test_bytes(self, x): pass
    """,
}


FIXTURE_PARAMS = {
    "tests/conftest.py": """
        import pytest

        @pytest.fixture(params=["a", "b"])
        def letter(request):
            return request.param

        @pytest.fixture(scope="session", params=[1, 2], ids=["one", "two"])
        def number(request):
            return request.param

        @pytest.fixture
        def client(letter):
            return letter

        @pytest.fixture(params=["local", pytest.param("remote", marks=pytest.mark.flaky(reruns=1))])
        def store(request):
            return request.param
    """,
    "tests/sub/conftest.py": """
        import pytest

        @pytest.fixture(params=["x", "y"])
        def letter(request):  # nearer than the one above: it wins below this directory
            return request.param

        @pytest.fixture
        def repo(store):
            return store
    """,
    # Never says the word: only the fixtures it asks for carry the marker.
    "tests/sub/test_users.py": """
        def test_uses_store(store): pass

        def test_uses_repo(repo): pass

        def test_uses_neither(tmp_path): pass
    """,
    "tests/sub/test_nearest.py": """
        import pytest

        @pytest.mark.flaky
        def test_overridden(letter): pass
    """,
    "tests/test_fixture_ids.py": """
        import pytest

        @pytest.fixture(params=[1, "b", None, 2.5, (1, 2), int, pytest.param(3, id="three")])
        def value(request):
            return request.param

        @pytest.fixture(params=[0, 1], autouse=False)
        def plain(request):
            return request.param

        @pytest.mark.flaky
        def test_direct(value): pass

        @pytest.mark.flaky
        @pytest.mark.parametrize("x", [10, 20])
        def test_fixture_before_parametrize(x, letter): pass

        @pytest.mark.flaky
        def test_scope_orders(letter, number): pass

        @pytest.mark.flaky
        def test_transitive(client): pass

        @pytest.mark.flaky
        @pytest.mark.parametrize("letter", ["p"])
        def test_parametrize_overrides(letter): pass

        @pytest.mark.flaky
        @pytest.mark.usefixtures("plain")
        def test_usefixtures(tmp_path, monkeypatch): pass

        @pytest.mark.flaky
        @pytest.mark.parametrize("x", [True, False])
        def test_parametrize_beside_builtin_fixtures(capsys, x): pass

        @pytest.mark.parametrize("x", [5, pytest.param(6, marks=pytest.mark.flaky)])
        def test_param_marks_with_fixture(letter, x): pass

        def helper_default(letter="unused"): pass

        @pytest.mark.flaky
        def test_default_is_no_fixture(x=3): pass

        @pytest.fixture(params=["stable", pytest.param("shaky", marks=pytest.mark.flaky(reruns=2))])
        def backend(request):
            return request.param

        def test_only_one_backend_is_flaky(backend, letter): pass

        @pytest.mark.flaky
        class TestInClass:
            @pytest.fixture(params=["m", "n"])
            def own(self, request):
                return request.param

            def test_method(self, own, letter): pass
    """,
}


CALLED_MARKS = {
    "tests/test_called.py": """
        import pytest

        def test_marked_by_a_call():
            pass

        test_marked_by_a_call = pytest.mark.flaky(reruns=2)(test_marked_by_a_call)

        def _body():
            pass

        test_under_another_name = pytest.mark.flaky(_body)

        class TestCalledOnAClass:
            def test_in_it(self): pass

        TestCalledOnAClass = pytest.mark.flaky(TestCalledOnAClass)

        def test_wrapped_but_unmarked():
            pass

        test_wrapped_but_unmarked = pytest.mark.slow(test_wrapped_but_unmarked)
    """,
}


@pytest.mark.parametrize(
    "files",
    [
        pytest.param(FIXTURE_PARAMS, id="fixture-params"),
        pytest.param(CALLED_MARKS, id="marks-applied-by-calling-them"),
        pytest.param(SPELLINGS, id="import-spellings"),
        pytest.param(CLASSES, id="classes-modules-unittest"),
        pytest.param(CROSS_MODULE, id="cross-module-aliases-and-bases"),
        pytest.param(PARAMS, id="parametrize-ids"),
        pytest.param(INHERITANCE, id="inherited-test-methods"),
        pytest.param(NESTED, id="nested-classes"),
        pytest.param(LAMBDAS, id="lambda-params-beside-parametrized-fixtures"),
    ],
)
def test_node_ids_equal_pytest_marker_selection(tmp_path: Path, files: dict[str, str]) -> None:
    write_files(tmp_path, files)
    assert_agrees_with_pytest(tmp_path)


def test_unknowable_param_ids_report_the_function_once_with_its_param_markers(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "tests/test_dynamic.py": """
                import pytest

                def make(n):
                    return n

                @pytest.mark.parametrize("x", [make(1), pytest.param(make(2), marks=pytest.mark.flaky(reruns=1))], ids=str)
                def test_dynamic(x): pass
            """
        },
    )
    tests = by_nodeid(scan(tmp_path))
    assert list(tests) == ["tests/test_dynamic.py::test_dynamic"]
    assert tests["tests/test_dynamic.py::test_dynamic"].marker.scope == "param"
    # pytest accepts the function's node id and runs every parameter: what verification needs.
    assert pytest_collect(tmp_path, "tests/test_dynamic.py::test_dynamic") == {
        "tests/test_dynamic.py::test_dynamic[1]",
        "tests/test_dynamic.py::test_dynamic[2]",
    }


def test_reported_lines_and_sources(tmp_path: Path) -> None:
    write_files(tmp_path, SPELLINGS | CROSS_MODULE)
    tests = by_nodeid(scan(tmp_path))
    alias = tests["tests/test_uses_alias.py::test_conftest_alias"]
    assert (alias.line, alias.marker.line, alias.marker.source, alias.marker.via) == (7, 6, "network_flaky", "network_flaky")
    assert alias.marker.args == (("reruns", "3"),)
    bare = tests["tests/test_spellings.py::test_rerunfailures_args"]
    assert bare.marker.args_dict == {"reruns": "2", "reruns_delay": "1", "condition": "True", "only_rerun": '["OSError"]'}
    inherited = tests["tests/test_uses_base.py::TestDeep::test_inherited"]
    assert (inherited.path, inherited.marker.path, inherited.marker.scope) == ("tests/base.py", "tests/base.py", "class")
    assert inherited.class_name == "TestDeep"


def test_fixture_params_we_cannot_read_leave_the_function_id(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "tests/conftest.py": """
                import pytest

                LETTERS = [chr(97 + n) for n in range(2)]

                @pytest.fixture(params=LETTERS)
                def letter(request):
                    return request.param
            """,
            "tests/test_fixture_params.py": """
                import pytest

                @pytest.mark.parametrize("x", [5, pytest.param(6, marks=pytest.mark.flaky)])
                def test_with_fixture(letter, x): pass

                @pytest.mark.parametrize("x", [5, pytest.param(6, marks=pytest.mark.flaky)])
                def test_without_fixture(x): pass

                @pytest.mark.flaky
                def test_through_a_fixture(client): pass

                @pytest.fixture
                def client(letter):
                    return letter
            """,
        },
    )
    found = set(by_nodeid(scan(tmp_path)))
    assert found == {
        "tests/test_fixture_params.py::test_with_fixture",
        "tests/test_fixture_params.py::test_without_fixture[6]",
        "tests/test_fixture_params.py::test_through_a_fixture",
    }
    # pytest accepts the function's id and runs every case: what verification needs.
    collected = pytest_collect(tmp_path, "tests/test_fixture_params.py::test_with_fixture")
    assert collected == {f"tests/test_fixture_params.py::test_with_fixture[{letter}-{x}]" for letter in "ab" for x in (5, 6)}

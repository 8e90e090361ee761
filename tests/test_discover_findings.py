"""Marker kinds, repository-wide findings, suspects, and files that cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest

from flaketui.models import MarkerKind
from tests._discover_helpers import by_nodeid, scan
from tests.conftest import write_files

BARE = """
    import pytest

    @pytest.mark.flaky
    def test_bare(): pass

    @pytest.mark.flaky(3)
    def test_positional(): pass
"""


KIND_OF_A_BARE_MARKER_COMES_FROM_DECLARED_DEPENDENCIES_CASES = [
    pytest.param("requirements-dev.txt", "pytest\npytest-rerunfailures==14.0  # reruns\n", "rerunfailures", id="requirements"),
    pytest.param("pyproject.toml", '[project.optional-dependencies]\ntest = ["flaky>=3.8"]\n', "flaky", id="pyproject-extra"),
    pytest.param("setup.cfg", "[options.extras_require]\ntest =\n    pytest-retry\n", "retry", id="setup-cfg"),
    pytest.param("tox.ini", "[testenv]\ndeps =\n    pytest_rerunfailures\n", "rerunfailures", id="tox-deps"),
    pytest.param("requirements/test.in", "flaky\n", "flaky", id="requirements-dir"),
    pytest.param("pixi.toml", '[feature.test.dependencies]\npytest-rerunfailures = "*"\n', "rerunfailures", id="pixi"),
    pytest.param("ci/environment-3.12.yaml", "dependencies:\n  - pytest\n  - flaky\n", "flaky", id="conda-env"),
    pytest.param("pyproject.toml", '[tool.pytest.ini_options]\nmarkers = ["flaky: reruns"]\n', "unknown", id="marker-registration-is-not-a-dependency"),
    pytest.param("requirements.txt", "pytest-rerunfailures\nflaky\n", "unknown", id="two-plugins-is-ambiguous"),
    pytest.param("requirements.txt", "# we used flaky once\nrequests\n", "unknown", id="comment-is-not-a-dependency"),
    pytest.param("requirements.txt", "flaky-helpers\n", "unknown", id="other-package-name"),
    pytest.param("pixi.toml", 'a = "*"\npytest-rerunfailures = "*"\nb = "reports of the flaky tests"\n', "rerunfailures", id="prose-is-not-a-dependency"),
    pytest.param("setup.py", 'setup(extras_require={"test": ["pytest", "flaky"]}, description="Mark flaky")\n', "flaky", id="setup-py"),
    pytest.param("tox.ini", "[testenv]\ndeps = pytest-retry pytest\n", "retry", id="tox-one-line"),
]


@pytest.mark.parametrize(
    ("dependency_file", "content", "kind"),
    KIND_OF_A_BARE_MARKER_COMES_FROM_DECLARED_DEPENDENCIES_CASES,
)
def test_kind_of_a_bare_marker_comes_from_declared_dependencies(tmp_path: Path, dependency_file: str, content: str, kind: str) -> None:
    write_files(tmp_path, {"tests/test_x.py": BARE, dependency_file: content})
    tests = by_nodeid(scan(tmp_path))
    assert tests["tests/test_x.py::test_bare"].marker.kind == kind
    positional = tests["tests/test_x.py::test_positional"].marker
    assert positional.kind == kind
    assert (positional.source, positional.positional, positional.args) == ("pytest.mark.flaky(3)", ("3",), ())


def test_arguments_decide_the_kind_before_dependencies(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "requirements.txt": "flaky\n",
            "tests/test_x.py": """
                import pytest
                from flaky import flaky

                @pytest.mark.flaky(reruns=2)
                def test_rerun(): pass

                @pytest.mark.flaky(retries=2, delay=1)
                def test_retry(): pass

                @flaky(max_runs=3, min_passes=1)
                def test_flaky_package(): pass

                @flaky
                def test_bare_package(): pass
            """,
        },
    )
    tests = by_nodeid(scan(tmp_path))
    kinds = {nodeid.split("::")[1]: t.marker.kind for nodeid, t in tests.items()}
    assert kinds == {
        "test_rerun": MarkerKind.RERUNFAILURES,
        "test_retry": MarkerKind.RETRY,
        "test_flaky_package": MarkerKind.FLAKY,
        "test_bare_package": MarkerKind.FLAKY,
    }


def test_flaky_package_decorator_is_found_where_pytest_m_flaky_misses_it(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "tests/test_pkg.py": """
                import flaky as flaky_module
                from flaky import flaky as retry_me

                @flaky_module.flaky(max_runs=2)
                def test_module_spelling(): pass

                @retry_me
                def test_renamed(): pass

                @flaky_module.flaky
                class TestWholeClass:
                    def test_inside(self): pass
            """
        },
    )
    tests = by_nodeid(scan(tmp_path))
    assert set(tests) == {
        "tests/test_pkg.py::test_module_spelling",
        "tests/test_pkg.py::test_renamed",
        "tests/test_pkg.py::TestWholeClass::test_inside",
    }
    assert tests["tests/test_pkg.py::TestWholeClass::test_inside"].marker.scope == "class"


def test_configuration_reruns_are_findings_with_file_and_line(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "x"\n\n[tool.pytest.ini_options]\naddopts = "-ra --reruns 2"\n',
            "pytest.ini": "[pytest]\nreruns = 3\n",
            "setup.cfg": "[tool:pytest]\naddopts =\n    -q\n    --force-flaky --max-runs=3\n",
            "tox.ini": "[testenv]\ncommands =\n    pytest --retries 2 {posargs}\nsetenv =\n    PYTEST_ADDOPTS=--reruns=1\n",
            ".github/workflows/ci.yml": "jobs:\n  test:\n    steps:\n      - run: python -m pytest -n 2 --reruns 3\n      - run: echo --reruns is not pytest\n",
            ".gitlab-ci.yml": "test:\n  variables:\n    PYTEST_ADDOPTS: \"--reruns 2\"\n",
            "docs/readme.txt": "pytest --reruns 5\n",
            "tests/test_x.py": "def test_x(): pass\n",
        },
    )
    findings = {(f.path, f.line, f.kind) for f in scan(tmp_path).findings}
    assert findings == {
        ("pyproject.toml", 5, "config-reruns"),
        ("pytest.ini", 2, "config-reruns"),
        ("setup.cfg", 4, "config-reruns"),
        ("tox.ini", 3, "ci-reruns"),
        ("tox.ini", 5, "ci-reruns"),
        (".github/workflows/ci.yml", 4, "ci-reruns"),
        (".gitlab-ci.yml", 3, "ci-reruns"),
    }


def test_collection_hooks_xfails_and_home_made_retries_are_suspects(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "conftest.py": """
                import pytest

                def pytest_collection_modifyitems(items):
                    for item in items:
                        if "network" in item.keywords:
                            item.add_marker(pytest.mark.flaky(reruns=2))

                def pytest_itemcollected(item):
                    item.add_marker("flaky")
            """,
            "tests/test_x.py": """
                import pytest
                from tenacity import retry

                def retry_on_failure(times):
                    def wrap(f):
                        return f
                    return wrap

                @pytest.mark.xfail(reason="flaky on CI", strict=False)
                def test_xfail_flaky(): pass

                @pytest.mark.xfail(reason="flaky on CI", strict=True)
                def test_xfail_strict(): pass

                @pytest.mark.xfail(reason="bug 123")
                def test_xfail_bug(): pass

                @retry_on_failure(3)
                def test_home_made(): pass

                @retry(stop=3)
                def test_tenacity(): pass
            """,
        },
    )
    result = scan(tmp_path)
    assert result.tests == ()
    findings = {(f.path, f.line, f.kind) for f in result.findings}
    assert findings == {
        ("conftest.py", 7, "collection-hook"),
        ("conftest.py", 10, "collection-hook"),
        ("tests/test_x.py", 10, "xfail-flaky"),
        ("tests/test_x.py", 19, "retry-decorator"),
        ("tests/test_x.py", 22, "retry-decorator"),
    }
    hook = next(f for f in result.findings if f.line == 7)
    assert "pytest_collection_modifyitems" in hook.message
    assert hook.source == "item.add_marker(pytest.mark.flaky(reruns=2))"


def test_unreadable_files_are_skipped_with_a_reason_and_the_rest_is_scanned(tmp_path: Path) -> None:
    good = "import pytest\n\n@pytest.mark.flaky\ndef test_ok(): pass\n"
    write_files(
        tmp_path,
        {
            "tests/test_good.py": good,
            "tests/test_syntax.py": "import pytest\n@pytest.mark.flaky\ndef test_broken(:\n",
            "tests/test_binary.py": b"\x00\x01flaky\x00",
            "tests/test_latin1.py": "# flaky \xe9t\xe9\n".encode("latin-1"),
            "tests/test_latin1_declared.py": "# -*- coding: latin-1 -*-\nimport pytest\n# \xe9\n@pytest.mark.flaky\ndef test_declared(): pass\n".encode("latin-1"),
        },
    )
    result = scan(tmp_path)
    assert set(by_nodeid(result)) == {"tests/test_good.py::test_ok", "tests/test_latin1_declared.py::test_declared"}
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons.keys() == {"tests/test_syntax.py", "tests/test_binary.py", "tests/test_latin1.py"}
    assert reasons["tests/test_binary.py"] == "binary file"
    assert reasons["tests/test_latin1.py"] == "not UTF-8"
    assert reasons["tests/test_syntax.py"].startswith("syntax error at line 3")


def test_newer_grammar_is_read_with_exact_lines(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "tests/test_pep695.py": """
                import pytest

                type Pair[T] = tuple[T, T]

                def first[T](pair: Pair[T]) -> T:
                    return pair[0]

                @pytest.mark.flaky(reruns=2)
                class TestGeneric[T]:
                    def test_generic(self) -> None: pass

                @pytest.mark.flaky
                def test_function[T](x: T = 1) -> None: pass
            """
        },
    )
    result = scan(tmp_path)
    assert result.skipped == ()
    tests = by_nodeid(result)
    assert tests["tests/test_pep695.py::TestGeneric::test_generic"].line == 11
    assert tests["tests/test_pep695.py::TestGeneric::test_generic"].marker.line == 9
    assert tests["tests/test_pep695.py::test_function"].line == 14


STRANGE_CODE_NEVER_STOPS_THE_SCAN_CASES = [
    pytest.param("a = b\nb = a\n@a\ndef test_cycle(): pass\n# flaky\n", id="alias-cycle"),
    pytest.param("import pytest\npytestmark = pytestmark + [pytest.mark.flaky]\ndef test_self(): pass\n", id="self-reference"),
    pytest.param("from tests.test_weird import *\nimport pytest\n@flaky\ndef test_star(): pass\n", id="star-import-of-itself"),
    pytest.param("class TestA(TestA):\n    flaky = 1\n    def test_x(self): pass\n", id="class-inherits-itself"),
    pytest.param("import pytest\n" + "x = (" * 50 + "1" + ")" * 50 + "\n@pytest.mark.flaky\ndef test_deep(): pass\n", id="deep-nesting"),
    pytest.param("import pytest\n@pytest.mark.parametrize('x', [pytest.param(*[], marks=pytest.mark.flaky)])\ndef test_empty(x): pass\n", id="empty-param"),
    pytest.param("import pytest\n@pytest.mark.parametrize()\n@pytest.mark.flaky()\ndef test_bad_parametrize(): pass\n", id="parametrize-without-arguments"),
    pytest.param("def helper():\n    return helper()\n@helper()\ndef test_recursive_helper(): pass  # flaky\n", id="recursive-helper"),
]


@pytest.mark.parametrize(
    "source",
    STRANGE_CODE_NEVER_STOPS_THE_SCAN_CASES,
)
def test_strange_code_never_stops_the_scan(tmp_path: Path, source: str) -> None:
    write_files(tmp_path, {"tests/__init__.py": "", "tests/test_weird.py": source, "tests/test_fine.py": BARE})
    result = scan(tmp_path)
    assert {"tests/test_fine.py::test_bare", "tests/test_fine.py::test_positional"} <= set(by_nodeid(result))
    assert all(s.path == "tests/test_weird.py" for s in result.skipped)


WHICH_XFAIL_REASONS_SAY_FLAKY_CASES = [
    ("flaky on CI", True),
    ("fails intermittently under load", True),
    ("race in the scheduler", True),
    ("sometimes times out", True),
    ("traceback differs on 3.12", False),
    ("Task is timeout instead of an exception", False),
    ("bug #123", False),
]


@pytest.mark.parametrize(
    ("reason", "suspect"),
    WHICH_XFAIL_REASONS_SAY_FLAKY_CASES,
)
def test_which_xfail_reasons_say_flaky(tmp_path: Path, reason: str, suspect: bool) -> None:
    write_files(
        tmp_path,
        {"tests/test_x.py": f"import pytest\n\n@pytest.mark.xfail(reason={reason!r}, strict=False)\ndef test_x(): pass\n"},
    )
    assert bool([f for f in scan(tmp_path).findings if f.kind == "xfail-flaky"]) is suspect


def test_retry_decorators_are_found_under_other_names_and_retries_words_cost_no_parse(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            # Each file names its retry decorator one way only: each must still be read.
            "tests/test_renamed.py": "from tenacity import retry as again\n\n@again\ndef test_a(): pass\n",
            "tests/test_alias.py": "import tenacity\n\npatient = tenacity.retry(stop=3)\n\n@patient\ndef test_b(): pass\n",
            "tests/test_direct.py": "import backoff\n\n@backoff.on_exception(Exception)\ndef test_c(): pass\n",
            # "retries" as a word, a called retry helper: nothing to report, nothing to parse.
            "tests/test_words.py": "from client import retry_operation\n\ndef test_d():\n    retry_operation(retries=3)\n  (\n",
        },
    )
    result = scan(tmp_path)
    found = sorted((f.path, f.line) for f in result.findings if f.kind == "retry-decorator")
    assert found == [("tests/test_alias.py", 5), ("tests/test_direct.py", 3), ("tests/test_renamed.py", 3)]
    assert "tests/test_words.py" not in {s.path for s in result.skipped}  # its syntax error was never parsed


def test_the_flaky_packages_decorator_applied_by_calling_it_is_found(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "tests/test_called.py": """
                from flaky import flaky

                def test_retried():
                    pass

                test_retried = flaky(max_runs=3)(test_retried)

                def test_plain():
                    pass

                test_plain = staticmethod(test_plain)
            """,
        },
    )
    tests = by_nodeid(scan(tmp_path))
    assert list(tests) == ["tests/test_called.py::test_retried"]
    marker = tests["tests/test_called.py::test_retried"].marker
    assert (marker.kind, marker.source, marker.line, marker.args) == (MarkerKind.FLAKY, "flaky(max_runs=3)", 7, (("max_runs", "3"),))

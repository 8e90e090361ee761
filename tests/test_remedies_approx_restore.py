"""float.approx and restore.monkeypatch say only what they checked (issue 16).

float.approx: only a value float arithmetic computed gets ``pytest.approx``, and never one the
test rounds itself (approx's default would loosen it), a count, a value read back as it was set,
or a time read from a clock. restore.monkeypatch: a test that puts back what it changed (a
``finally``, a fixture's teardown, a finalizer, a ``mock.patch``) is no polluter, and an
environment variable the code under test set, which the test removes, is its cleanup. Each case
is beside the near one that keeps its proposal.
"""

from __future__ import annotations

import textwrap

import pytest
from flaketui.models import Category, Evidence
from flaketui.remedies import Context, Target, propose


def src(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode()


def _propose(files: dict[str, bytes], name: str = "test_a", category: Category = Category.UNKNOWN,
             evidence: tuple[Evidence, ...] = ()) -> tuple[dict[str, dict[str, bytes]], dict[str, str]]:
    """remedy id -> {path: content after} of each proposal; remedy id -> reason of each refusal."""
    ctx = Context(target=Target("tests/test_x.py", name), read=files.get, category=category,
                  project_files=tuple(files), evidence=evidence)
    proposals, declined = propose(ctx)
    return {p.remedy: {e.path: e.after for e in p.edits} for p in proposals}, {d.remedy: d.reason for d in declined}


def _float_line(text: bytes) -> tuple[Evidence, ...]:
    """The diagnosis' float-literal evidence on every ``assert`` line: it is no proof of arithmetic."""
    lines = [n for n, line in enumerate(text.decode().splitlines(), start=1) if "assert" in line]
    return tuple(Evidence(Category.DATA, "data.float-equality", "tests/test_x.py", n, n, "compares floats exactly", "", 0.45)
                 for n in lines)


# -- float.approx ---------------------------------------------------------------------------------

APPROX_CASES = [
    pytest.param(src("""
        async def test_a(client, grid):
            scaled = ((grid * 3) - grid.mean(axis=0)).sum().round(3)
            pending = client.persist(scaled)
            assert await client.compute(pending) == 4002117.381
    """), False, "rounded", id="a-value-the-test-rounds-keeps-its-own-tolerance"),
    pytest.param(src("""
        async def test_a(client, grid):
            scaled = ((grid * 3) - grid.mean(axis=0)).sum()
            pending = client.persist(scaled)
            assert await client.compute(pending) == 4002117.381
    """), False, None, id="a-value-read-through-an-opaque-call-is-not-seen-summed"),
    pytest.param(src("""
        def test_a(grid):
            total = ((grid * 3) - grid.mean(axis=0)).sum()
            assert total == 4002117.381
    """), True, None, id="an-unrounded-sum-of-floats-takes-approx"),
    pytest.param(src("""
        def test_a(finder):
            limit = 7
            found = finder.results()
            assert sum(len(lines) for lines in found.values()) == limit
    """), False, None, id="a-sum-of-lengths-is-an-exact-int"),
    pytest.param(src("""
        def test_a(finder):
            found = finder.results()
            assert sum(hit.weight for hit in found.values()) == 1.7
    """), True, None, id="a-sum-compared-with-a-fraction-added-floats"),
    pytest.param(src("""
        def test_a(console):
            console.run("from math import *")
            assert console.value_of("tau") == 6.283185307179586
    """), False, None, id="a-constant-read-back-from-a-console-is-exact"),
    pytest.param(src("""
        def test_a(meter):
            before = meter.read_time()
            meter.pause()
            assert meter.read_time() == before
            assert meter.tick_period() == 0.002
    """), False, "clock", id="a-clock-read-twice-is-timing-not-rounding"),
    pytest.param(src("""
        def test_a(meter):
            start = meter.read_time()
            assert meter.read_time() - start == 0.002
    """), False, "clock", id="arithmetic-on-clock-times-is-timing-not-rounding"),
    pytest.param(src("""
        RATES = {"low": 0.15, "mid": 0.35}

        def test_a():
            assert sum(RATES[k] for k in {"low", "mid"}) == 0.5
    """), True, None, id="a-sum-of-module-float-constants-takes-approx"),
    pytest.param(src("""
        def test_a(stats):
            assert round(stats.mean() * 3, 2) == 0.93
    """), False, "rounded", id="round-then-compare-is-already-tolerant"),
    pytest.param(src("""
        def test_a(stats):
            assert stats.shares()[0] / 3 == 0.31
    """), True, None, id="a-division-is-float-arithmetic"),
]


@pytest.mark.parametrize(("test", "approx", "declined"), APPROX_CASES)
def test_approx_only_where_float_arithmetic_computed_the_value(test: bytes, approx: bool, declined: str | None) -> None:
    proposals, reasons = _propose({"tests/test_x.py": test}, category=Category.DATA, evidence=_float_line(test))
    assert ("float.approx" in proposals) is approx, proposals.get("float.approx")
    if declined is not None:
        assert declined in reasons.get("float.approx", ""), reasons
    if approx:
        after = proposals["float.approx"]["tests/test_x.py"].decode()
        assert "pytest.approx(" in after and "abs=" not in after and "rel=" not in after


def test_a_project_function_read_back_is_not_arithmetic_and_one_that_sums_is() -> None:
    """The flow follows a call into the project's function of that name: a getter stays exact."""
    test = src("""
        from gauges import Gauge

        def test_a():
            gauge = Gauge()
            assert gauge.reading() == 0.7
    """)
    getter = src("""
        class Gauge:
            def __init__(self):
                self._value = 0.7

            def reading(self):
                return self._value
    """)
    summer = src("""
        class Gauge:
            def __init__(self):
                self.parts = {0.1, 0.2, 0.4}

            def reading(self):
                return sum(part for part in self.parts)
    """)
    files = {"tests/test_x.py": test, "gauges.py": getter}
    assert "float.approx" not in _propose(files, evidence=_float_line(test))[0]
    assert "float.approx" in _propose({**files, "gauges.py": summer}, evidence=_float_line(test))[0]


# -- restore.monkeypatch ---------------------------------------------------------------------------

VICTIM = """
    def test_a():
        assert widgets.App.refresh is widgets.App.refresh_original
"""

RESTORE_CASES = [
    pytest.param("""
        def test_b():
            saved = widgets.App.refresh

            def spy():
                spy.calls += 1
                return saved()

            spy.calls = 0
            try:
                widgets.App.refresh = spy
                widgets.App().open()
                assert spy.calls == 0
            finally:
                widgets.App.refresh = saved
    """, False, id="a-try-finally-restores-what-it-patched"),
    pytest.param("""
        def test_b():
            def spy():
                spy.calls += 1

            spy.calls = 0
            widgets.App.refresh = spy
            widgets.App().open()
            assert spy.calls == 0
    """, True, id="the-same-patch-never-put-back-is-a-polluter"),
    pytest.param("""
        def test_b():
            saved = widgets.App.refresh
            widgets.App.refresh = lambda: None
            widgets.App().open()
            widgets.App.refresh = saved
    """, False, id="a-saved-value-assigned-back-at-the-end"),
    pytest.param("""
        def test_b(request):
            saved = widgets.App.refresh
            request.addfinalizer(lambda: setattr(widgets.App, "refresh", saved))
            widgets.App.refresh = lambda: None
            widgets.App().open()
    """, False, id="a-finalizer-puts-it-back"),
    pytest.param("""
        from unittest import mock

        def test_b():
            with mock.patch.object(widgets, "App"):
                widgets.App.refresh = lambda: None
                widgets.App().open()
    """, False, id="changed-inside-a-mock-patch-of-its-owner"),
]


@pytest.mark.parametrize(("polluter", "proposed"), RESTORE_CASES)
def test_a_test_that_puts_back_what_it_changed_is_no_polluter(polluter: str, proposed: bool) -> None:
    head = "import widgets\n"
    body = textwrap.dedent(polluter)
    if body.startswith("from "):
        first, _, body = body.partition("\n")
        head += first + "\n"
    files = {"tests/test_x.py": (head + textwrap.dedent(VICTIM) + body).encode(), "widgets.py": b"class App: ...\n"}
    proposals, _ = _propose(files, category=Category.ORDER)
    assert ("restore.monkeypatch" in proposals) is proposed, proposals


def test_an_environment_variable_the_code_set_is_cleaned_up_not_restored() -> None:
    """``os.environ.pop`` of what the code under test set (the test checked it was there): a
    monkeypatch would put the code's value back when the test ends, the pollution it removed."""
    files = {"tests/test_x.py": src("""
        import os

        def test_a():
            assert "APP_NEEDS_RESTART" not in os.environ

        def test_b(panel):
            panel.choose_engine("gl")
            assert os.environ.get("APP_NEEDS_RESTART") == "1"
            os.environ.pop("APP_NEEDS_RESTART")
            panel.choose_engine("soft")
            assert os.environ.get("APP_NEEDS_RESTART") is None
    """)}
    assert "restore.monkeypatch" not in _propose(files, category=Category.ORDER)[0]
    # The near case: the test sets the variable itself and leaves it set.
    sets_it = files["tests/test_x.py"].replace(b'panel.choose_engine("gl")', b'os.environ["APP_NEEDS_RESTART"] = "1"')
    sets_it = sets_it.replace(b'    os.environ.pop("APP_NEEDS_RESTART")\n', b"")
    after = _propose({"tests/test_x.py": sets_it}, category=Category.ORDER)[0]["restore.monkeypatch"]["tests/test_x.py"]
    assert b'monkeypatch.setenv("APP_NEEDS_RESTART", "1")' in after


def test_a_fixture_that_tears_down_its_environment_is_left_alone() -> None:
    files = {"tests/test_x.py": src("""
        import os

        import pytest

        @pytest.fixture
        def verbose():
            os.environ["APP_VERBOSE"] = "1"
            yield
            del os.environ["APP_VERBOSE"]

        def test_a():
            assert "APP_VERBOSE" not in os.environ

        def test_b(verbose):
            assert os.environ["APP_VERBOSE"] == "1"
    """)}
    assert "restore.monkeypatch" not in _propose(files, category=Category.ORDER)[0]
    leaks = files["tests/test_x.py"].replace(b'    yield\n    del os.environ["APP_VERBOSE"]\n', b'    yield\n')
    after = _propose({"tests/test_x.py": leaks}, category=Category.ORDER)[0]["restore.monkeypatch"]["tests/test_x.py"]
    assert b'def verbose(monkeypatch):' in after and b'monkeypatch.setenv("APP_VERBOSE", "1")' in after


def test_a_mock_patch_dict_of_the_environment_restores_it() -> None:
    files = {"tests/test_x.py": src("""
        import os
        from unittest import mock

        def test_a():
            assert "APP_TOKEN" not in os.environ

        @mock.patch.dict(os.environ, {})
        def test_b():
            os.environ["APP_TOKEN"] = "secret"
            assert os.environ["APP_TOKEN"] == "secret"
    """)}
    assert "restore.monkeypatch" not in _propose(files, category=Category.ORDER)[0]
    bare = files["tests/test_x.py"].replace(b"@mock.patch.dict(os.environ, {})\n", b"")
    assert "restore.monkeypatch" in _propose({"tests/test_x.py": bare}, category=Category.ORDER)[0]

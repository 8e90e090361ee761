"""Golden before/after for ``clock.project-fake`` (a test on the real clock runs inside the
project's own fake clock) and the shapes where it must not fire."""

from __future__ import annotations

from pathlib import Path

import pytest
from flaketui.models import Category, Evidence
from flaketui.remedies import Context, Target, propose
from flaketui.remedies.guard import weakening
from tests._codemod_helpers import pytest_in, src


CLOCKWORK = src('''
    import contextlib
    import time
    from unittest import mock


    class _Clock:
        def __init__(self):
            self.now = 1000.0

        def monotonic(self):
            return self.now

        def sleep(self, seconds):
            self.now += seconds


    @contextlib.contextmanager
    def virtual_clock(start=None):
        clock = _Clock()
        with mock.patch("time.monotonic", clock.monotonic), mock.patch("time.sleep", clock.sleep):
            yield clock
''')

OTHER = src("""
    from tests.clockwork import virtual_clock


    def test_other():
        with virtual_clock() as clock:
            clock.sleep(1)
""")

TIMED = src("""
    import time

    import pytest


    def settle():
        time.sleep(0.05)


    def test_a():
        \"\"\"The settling takes what it says.\"\"\"
        start = time.monotonic()
        settle()
        # measured on this machine
        assert time.monotonic() - start == pytest.approx(0.05, abs=1e-9)
""")

FAKED = src("""
    import time

    import pytest
    from tests.clockwork import virtual_clock


    def settle():
        time.sleep(0.05)


    def test_a():
        \"\"\"The settling takes what it says.\"\"\"
        with virtual_clock():
            start = time.monotonic()
            settle()
            # measured on this machine
            assert time.monotonic() - start == pytest.approx(0.05, abs=1e-9)
""")


#: What the diagnosis says of the timed assertion (line 13 of TIMED).
ELAPSED = Evidence(Category.TIME, "time.elapsed-assert", "tests/test_x.py", 13, 13, "asserts on elapsed wall-clock time", "", 0.8)


def _run(test: bytes, category: Category = Category.TIME, evidence: tuple[Evidence, ...] = (ELAPSED,),
         **files: bytes) -> tuple[list[bytes], list[str]]:  # fmt: skip
    tree = {"tests/clockwork.py": CLOCKWORK, "tests/test_other.py": OTHER, "tests/test_x.py": test}
    tree.update({path.replace("__", "/") + ".py": content for path, content in files.items()})
    ctx = Context(target=Target("tests/test_x.py", "test_a"), read=tree.get, project_files=tuple(tree), category=category,
                  evidence=evidence)  # fmt: skip
    found, declined = propose(ctx)
    return ([p.edits[0].after for p in found if p.remedy == "clock.project-fake"],
            [d.reason for d in declined if d.remedy == "clock.project-fake"])  # fmt: skip


def test_the_test_runs_inside_the_projects_fake_clock() -> None:
    found, _ = _run(TIMED)
    assert found == [FAKED]
    assert weakening("tests/test_x.py", TIMED, FAKED) is None
    assert _run(FAKED) == ([], [])  # it runs on the fake already


def test_a_relative_import_is_copied_for_a_test_in_the_same_folder() -> None:
    found, _ = _run(TIMED, tests__test_other=OTHER.replace(b"from tests.clockwork", b"from .clockwork"))
    assert len(found) == 1 and b"from .clockwork import virtual_clock\n" in found[0]


@pytest.mark.parametrize(("test", "category", "files"), [
    # a clock the fake does not replace: the test would mix fake and real time
    (TIMED.replace(b"time.monotonic()", b"time.perf_counter()"), Category.TIME, {}),
    # a clock of the test's own, which a fake time module leaves standing still
    (TIMED.replace(b"start = time.monotonic()", b"start = native_clock()"), Category.TIME, {}),
    # one of the project's fakes in use already, even one that patches no clock the test reads
    (TIMED.replace(b"    settle()\n", b"    with virtual_time():\n        settle()\n"), Category.TIME,
     {"tests__helpers": b"import contextlib\n\n\n@contextlib.contextmanager\ndef virtual_time():\n    yield\n"}),
    # a coroutine: a fake time.sleep does not reach asyncio.sleep
    (TIMED.replace(b"def test_a", b"async def test_a"), Category.TIME, {}),
    # the fake needs an argument a test must choose
    (TIMED, Category.TIME, {"tests__clockwork": CLOCKWORK.replace(b"(start=None)", b"(start)")}),
    # a context manager that patches no clock
    (TIMED, Category.TIME, {"tests__clockwork": CLOCKWORK.replace(b'"time.', b'"os.')}),
    # the test reads no clock at all
    (TIMED.replace(b"time.sleep(0.05)", b"pass").replace(b"time.monotonic()", b"0.0"), Category.TIME, {}),
])  # fmt: skip
def test_no_proposal(test: bytes, category: Category, files: dict[str, bytes]) -> None:
    assert _run(test, category, **files)[0] == []


@pytest.mark.parametrize("evidence", [
    (),  # nothing in the diagnosis is about time
    (Evidence(Category.TIME, "time.wall-clock", "tests/test_x.py", 12, 12, "reads the wall clock", "", 0.5),),  # not the assertions
    (Evidence(Category.TIME, "time.elapsed-assert", "src/app.py", 3, 3, "asserts on elapsed time", "", 0.8),),  # not this test's
])  # fmt: skip
def test_not_unless_the_tests_own_assertions_depend_on_measured_time(evidence: tuple[Evidence, ...]) -> None:
    assert _run(TIMED, Category.TIME, evidence)[0] == []


def test_a_fake_no_test_uses_declines() -> None:
    found, declined = _run(TIMED, tests__test_other=b"def test_other():\n    pass\n")
    assert found == [] and any("used by no test" in reason for reason in declined)


def test_a_fake_no_test_imports_declines() -> None:
    unimported = src("""
        def test_other():
            with virtual_clock():
                pass
    """)
    found, declined = _run(TIMED, tests__test_other=unimported)
    assert found == [] and any("import path is not known" in reason for reason in declined)


def test_the_faked_test_passes_where_the_real_clock_fails(tmp_path: Path) -> None:
    """The proposal runs: on the real clock the measured settle is never exactly what it asked
    for; on the project's fake clock it always is."""
    found, _ = _run(TIMED)
    assert len(found) == 1
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "__init__.py").write_text("")
    (tests / "clockwork.py").write_bytes(CLOCKWORK)
    (tests / "test_x.py").write_bytes(TIMED)


    before = pytest_in(tmp_path, "tests/test_x.py")
    assert before.returncode == 1 and "1 failed" in before.stdout, before.stdout + before.stderr
    (tests / "test_x.py").write_bytes(found[0])
    after = pytest_in(tmp_path, "tests/test_x.py")
    assert after.returncode == 0, after.stdout + after.stderr

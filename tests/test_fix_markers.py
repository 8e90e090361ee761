"""`fix --apply` on a test whose marker is a class's or a module's: the fix and the removal of
just that marker (or list item) in one commit; the other tests under it must pass too."""

from __future__ import annotations

from pathlib import Path

import pytest
from flaketui import vcs
from flaketui.cli import main

from tests._fix_helpers import counter_fixture, repo_state, sleepy
from tests.conftest import MakeRepo

TEST_FILE = "tests/test_box.py"
DECORATOR = "@pytest.mark.flaky(reruns=2)\n"


def _as_method(source: str, other_test: str) -> str:
    """The sleepy test as a method of ``TestBox``, whose class carries the marker."""
    head, _, function = source.partition(DECORATOR)
    body = "".join(f"    {line}\n" if line else "\n" for line in function.splitlines())
    body = body.replace("(run_number)", "(self, run_number)")
    return f"{head}{DECORATOR}class TestBox:\n{body}\n    def test_other(self):\n        {other_test}\n"


@pytest.fixture
def project(make_repo: MakeRepo, tmp_path: Path):
    def factory(source: str) -> Path:
        return make_repo({"tests/conftest.py": counter_fixture(tmp_path / "counter"), TEST_FILE: source})

    return factory


def _apply(root: Path, nodeid: str) -> int:
    return main(["-C", str(root), "fix", nodeid, "--apply", "--yes", "--runs-before", "10", "--min-runs", "3"])


def test_class_marker_goes_with_the_fix_once_every_test_under_it_passed(project, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(_as_method(sleepy("run_number % 2 == 1"), "assert 1"))
    assert _apply(root, f"{TEST_FILE}::TestBox::test_worker_fills_the_box") == 0
    committed = vcs.show_file(root, "HEAD", TEST_FILE) or b""
    assert b"flaky" not in committed and b"class TestBox:" in committed
    assert b"worker.join(timeout=10)" in committed and b"def test_other(self):" in committed
    assert "fixed at 95% (forked)" in vcs.commit_message(root, "HEAD")
    assert vcs.status(root) == {}


def test_class_marker_stays_when_another_test_under_it_fails(project, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(_as_method(sleepy("run_number % 2 == 1"), "assert False"))
    before = repo_state(root)
    assert _apply(root, f"{TEST_FILE}::TestBox::test_worker_fills_the_box") == 1
    assert "the marker also covers tests/test_box.py::TestBox::test_other" in capsys.readouterr().err
    assert repo_state(root) == before


def test_module_marker_list_loses_just_the_flaky_item(project, capsys: pytest.CaptureFixture[str]) -> None:
    source = sleepy("run_number % 2 == 1").replace(
        DECORATOR, "", 1
    ).replace("import pytest\n", 'import pytest\n\npytestmark = [pytest.mark.flaky(reruns=2), pytest.mark.filterwarnings("ignore")]\n')
    root = project(source)
    assert _apply(root, f"{TEST_FILE}::test_worker_fills_the_box") == 0
    committed = vcs.show_file(root, "HEAD", TEST_FILE) or b""
    assert b'pytestmark = [pytest.mark.filterwarnings("ignore")]' in committed
    assert b"worker.join(timeout=10)" in committed and b"flaky" not in committed

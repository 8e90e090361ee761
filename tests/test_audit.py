"""``flaketui audit`` end to end on a real repository with a test for every category.

Every category is confirmed in ``.flaketui.toml`` so the sections do not depend on the
diagnosis rules; the Issue column (the diagnosis' evidence) is compared on its shape only.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from flaketui.cli import main
from flaketui.decisions import FILENAME
from flaketui.models import Category, CommitRecord, DecidedBy
from flaketui.report import FIXES
from flaketui.service import Service
from tests._record_helpers import verification
from tests.conftest import MakeRepo, git
from tests.test_report import sections

MODULES = {
    "tests/test_race.py": "import pytest, threading\n\n\n@pytest.mark.flaky(reruns=2)\ndef test_counter():\n    pass\n",
    "tests/test_ws.py": "import pytest\n\n\n@pytest.mark.flaky(reruns=2)\nasync def test_reconnect():\n    pass\n",
    "tests/test_jobs.py": (
        "import pytest\nfrom flaky import flaky\n\n\n@flaky\ndef test_expiry():\n    pass\n\n\n"
        "@pytest.mark.flaky(reruns=1)\ndef test_schedule():\n    pass\n"
    ),
    "tests/test_api.py": "import pytest\n\npytestmark = pytest.mark.flaky(reruns=3)\n\n\ndef test_fetch():\n    pass\n",
    "tests/test_ids.py": "import pytest\n\n\n@pytest.mark.flaky(reruns=2)\ndef test_unique():\n    pass\n",
    "tests/test_db.py": "import pytest\n\n\n@pytest.mark.flaky(reruns=2)\ndef test_insert():\n    pass\n",
    "tests/test_cache.py": "import pytest\n\n\n@pytest.mark.flaky(reruns=2)\ndef test_hit():\n    pass\n",
    "tests/test_misc.py": "import pytest\n\n\n@pytest.mark.flaky(reruns=2)\ndef test_mystery():\n    pass\n",
}
CONFIRMED = {
    "tests/test_race.py::test_counter": Category.RACE,
    "tests/test_ws.py::test_reconnect": Category.ASYNC,
    "tests/test_jobs.py::test_expiry": Category.TIME,
    "tests/test_jobs.py::test_schedule": Category.TIME,
    "tests/test_api.py::test_fetch": Category.EXTERNAL,
    "tests/test_ids.py::test_unique": Category.DATA,
    "tests/test_db.py::test_insert": Category.FIXTURE,
    "tests/test_cache.py::test_hit": Category.ORDER,
    "tests/test_misc.py::test_mystery": Category.UNKNOWN,
}


@pytest.fixture
def repo(make_repo: MakeRepo) -> Path:
    decisions = "".join(
        f'[tests."{nodeid}"]\ncategory = "{category}"\ndecided_by = "user"\n\n' for nodeid, category in CONFIRMED.items()
    )
    root = make_repo({**MODULES, FILENAME: decisions})
    service = Service(root)
    service.record.add_verification(verification("tests/test_ws.py::test_reconnect", 7, 10, started_at="2026-11-24T10:00:00"))
    service.record.add_commit(CommitRecord("a" * 40, "tests/test_old.py::test_gone", "test: remove flaky marker from test_gone"))
    return root


def without_issue(table: str) -> str:
    """A ``Test | Path | Issue`` table with its last column dropped."""
    def cut(line: str) -> str:
        if line.startswith("|---"):
            return line.removesuffix("---|")
        return line.rsplit(" | ", 1)[0] + " |" if line.startswith("| ") else line

    return "\n".join(cut(line) for line in table.splitlines())


def test_audit_markdown_section_by_section(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(repo), "audit", "-o", str(repo / "flaky_test_audit.md")]) == 0
    assert capsys.readouterr().out == ""
    found = sections((repo / "flaky_test_audit.md").read_text())
    head = git(repo, "rev-parse", "HEAD").strip()[:12]
    assert re.fullmatch(
        rf"# Flaky Test Audit\n\n- Generated: \d{{4}}-\d\d-\d\d\n"
        rf"- Repository: {repo.name} on `main` at `{head}`\n- Total flaky tests: 9",
        found[""],
    )
    assert without_issue(found["By Root Cause"]) == (
        "### Race condition / shared state (1)\n\n| Test | Path |\n|---|---|\n"
        "| `tests/test_race.py::test_counter` | tests/test_race.py:5 |\n\n"
        "### Async coordination (1)\n\n| Test | Path |\n|---|---|\n"
        "| `tests/test_ws.py::test_reconnect` | tests/test_ws.py:5 |\n\n"
        "### Time and dates (2)\n\n| Test | Path |\n|---|---|\n"
        "| `tests/test_jobs.py::test_expiry` | tests/test_jobs.py:6 |\n"
        "| `tests/test_jobs.py::test_schedule` | tests/test_jobs.py:11 |\n\n"
        "### External dependency (1)\n\n| Test | Path |\n|---|---|\n"
        "| `tests/test_api.py::test_fetch` | tests/test_api.py:6 |\n\n"
        "### Non-deterministic data (1)\n\n| Test | Path |\n|---|---|\n"
        "| `tests/test_ids.py::test_unique` | tests/test_ids.py:5 |\n\n"
        "### Fixture / isolation (1)\n\n| Test | Path |\n|---|---|\n"
        "| `tests/test_db.py::test_insert` | tests/test_db.py:5 |\n\n"
        "### Test order dependency (1)\n\n| Test | Path |\n|---|---|\n"
        "| `tests/test_cache.py::test_hit` | tests/test_cache.py:5 |\n\n"
        "### Unknown (1)\n\n| Test | Path |\n|---|---|\n"
        "| `tests/test_misc.py::test_mystery` | tests/test_misc.py:5 |"
    )
    for row in found["By Root Cause"].splitlines():
        if row.startswith("| `"):
            issue = row.rsplit(" | ", 1)[1]
            assert issue in ("not diagnosed |", "no evidence found |") or re.search(r"\(tests/\S+:\d+\) \|$", issue)
    assert found["Tests Without a Confirmed Category"] == "Every test has a confirmed category."
    assert found["Verification Results"] == (
        "| Test | Passed | Mode | Verdict | Failure rate (95%) | Date |\n|---|---|---|---|---|---|\n"
        "| `tests/test_ws.py::test_reconnect` | 7/10 | forked | flaky | < 61% | 2026-11-24T10:00:00 |"
    )
    assert found["Markers Removed"] == (
        "| Commit | Test | Message |\n|---|---|---|\n"
        "| `aaaaaaaaaaaa` | `tests/test_old.py::test_gone` | test: remove flaky marker from test_gone |"
    )
    plan = found["Fix Plan"]
    # The one test with measured failures (3 of 10 runs) first, then the biggest cause.
    assert plan.startswith(f"### 1. Async coordination (1 test)\n\n{FIXES[Category.ASYNC]}\n\n")
    assert [line for line in plan.splitlines() if line.startswith("### ")] == [
        "### 1. Async coordination (1 test)",
        "### 2. Time and dates (2 tests)",
        "### 3. Race condition / shared state (1 test)",
        "### 4. External dependency (1 test)",
        "### 5. Non-deterministic data (1 test)",
        "### 6. Fixture / isolation (1 test)",
        "### 7. Test order dependency (1 test)",
        "### 8. Unknown (1 test)",
    ]


def test_audit_json_gives_the_same_data(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(repo), "audit", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == 9
    assert data["repository"]["head"] == git(repo, "rev-parse", "HEAD").strip()
    assert {c: len(ids) for c, ids in data["by_category"].items()} == {
        "race": 1, "async": 1, "time": 2, "external": 1, "data": 1, "fixture": 1, "order": 1, "unknown": 1
    }  # fmt: skip
    assert {t["nodeid"]: t["category"] for t in data["tests"]} == {k: str(v) for k, v in CONFIRMED.items()}
    assert all(t["source"] == "confirmed" for t in data["tests"])
    assert [v["nodeid"] for v in data["verifications"]] == ["tests/test_ws.py::test_reconnect"]
    assert [c["sha"] for c in data["markers_removed"]] == ["a" * 40]


def test_an_unconfirmed_test_takes_the_suggestion_or_says_not_diagnosed(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo({"tests/test_misc.py": MODULES["tests/test_misc.py"]})
    assert main(["-C", str(root), "audit", "--json"]) == 0
    (test,) = json.loads(capsys.readouterr().out)["tests"]
    assert test["source"] in ("suggested", "not diagnosed")
    if test["source"] == "not diagnosed":
        assert test["category"] == "unknown"
    else:
        assert test["confidence"] is not None


def test_a_confirmed_category_written_by_the_service_shows_in_the_audit(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo({"tests/test_ids.py": MODULES["tests/test_ids.py"]})
    service = Service(root)
    (test,) = service.scan().tests
    service.set_category(test, Category.DATA, DecidedBy.SUGGESTION)
    assert main(["-C", str(root), "audit"]) == 0
    out = capsys.readouterr().out
    assert "### Non-deterministic data (1)" in out
    assert "Every test has a confirmed category." in out


def test_audit_of_a_plain_directory_says_it_is_not_git(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo({"tests/test_misc.py": MODULES["tests/test_misc.py"]}, git_repo=False)
    assert main(["-C", str(root), "audit"]) == 0
    assert f"- Repository: {root.name} (not a git repository)\n" in capsys.readouterr().out


def test_an_unchanged_report_is_not_rewritten(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = repo / "flaky_test_audit.md"
    assert main(["-C", str(repo), "audit", "-o", str(target)]) == 0
    first = target.read_bytes()
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))  # any rewrite would move the mtime
    assert main(["-C", str(repo), "audit", "-o", str(target)]) == 0
    assert "is up to date" in capsys.readouterr().err
    assert target.read_bytes() == first
    assert target.stat().st_mtime_ns == 1_000_000_000

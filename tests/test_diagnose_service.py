"""Diagnosis through the service and the CLI on real git repositories: the cache in the
git directory, invalidation by content, background-style batches, explain, scan --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flaketui.cli import main
from flaketui.diagnose import Diagnoser
from flaketui.diagnose.cache import DiagnosisCache
from flaketui.models import Category
from flaketui.service import Service
from tests._diagnose_helpers import make_test, source
from tests.conftest import MakeRepo

PROJECT = {
    "tests/conftest.py": source(
        """
        import pytest
        import requests

        @pytest.fixture
        def api():
            return requests.Session()
        """
    ),
    "tests/test_shop.py": source(
        """
        import asyncio
        import pytest
        from datetime import datetime as dt

        @pytest.mark.flaky(reruns=3)
        def test_open_now():
            assert 9 <= dt.now().hour < 18

        @pytest.mark.flaky(reruns=3)
        def test_remote(api):
            assert api.get("/health").ok

        class TestFeed:
            @pytest.mark.flaky(reruns=2)
            async def test_reconnect(self):
                await asyncio.sleep(0.5)

        @pytest.mark.flaky(reruns=2)
        def test_plain():
            assert 1 + 1 == 2
        """
    ),
}


def test_diagnose_caches_in_the_git_dir_and_survives_a_new_service(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    test = make_test("tests/test_shop.py", "test_open_now")
    first = Service(root).diagnose(test)
    assert first.suggestion.category is Category.TIME
    cache_file = root / ".git" / "flaketui" / "diagnosis-cache.jsonl"
    assert cache_file.is_file()
    assert not (root / ".flaketui").exists(), "state must stay out of the work tree"
    key = Diagnoser(root, version=_version()).cache_key(test)
    assert DiagnosisCache(cache_file).get(key) == first
    assert Service(root).diagnose(test) == first


def test_an_edit_to_the_module_or_a_conftest_invalidates_the_cache(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    remote = make_test("tests/test_shop.py", "test_remote")
    assert Service(root).diagnose(remote).suggestion.category is Category.EXTERNAL
    conftest = root / "tests" / "conftest.py"
    conftest.write_text(conftest.read_text().replace("return requests.Session()", "return object()"))
    assert Service(root).diagnose(remote).suggestion.category is Category.UNKNOWN


def test_a_damaged_cache_file_is_only_a_miss(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    service = Service(root)
    (service.state_dir() / "diagnosis-cache.jsonl").write_bytes(b"\x00not json")
    test = make_test("tests/test_shop.py", "test_open_now")
    assert service.diagnose(test).suggestion.category is Category.TIME


def test_diagnose_many_reports_each_result_and_stops_when_asked(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    tests = [make_test("tests/test_shop.py", n) for n in ("test_open_now", "test_remote", "test_plain")]
    seen: list[str] = []
    results = Service(root).diagnose_many(
        tests, on_result=lambda d: seen.append(d.nodeid), should_stop=lambda: len(seen) == 2
    )
    assert seen == [tests[0].nodeid, tests[1].nodeid]
    assert [d.nodeid for d in results] == seen
    everything = Service(root).diagnose_many(tests)
    assert [d.suggestion.category for d in everything] == [Category.TIME, Category.EXTERNAL, Category.UNKNOWN]


def test_ranking_lists_every_category_best_first(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    diagnosis = Service(root).diagnose(make_test("tests/test_shop.py", "test_reconnect", "TestFeed"))
    assert diagnosis.suggestion.category is Category.ASYNC
    assert 0 < diagnosis.suggestion.confidence <= 1
    assert [s.category for s in diagnosis.ranking][0] is Category.ASYNC
    assert {s.category for s in diagnosis.ranking} == set(Category) - {Category.UNKNOWN}
    confidences = [s.confidence for s in diagnosis.ranking]
    assert confidences == sorted(confidences, reverse=True)


def test_explain_prints_source_evidence_fix_and_suggestion(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(PROJECT)
    assert main(["-C", str(root), "explain", "tests/test_shop.py::test_remote"]) == 0
    out = capsys.readouterr().out
    assert "tests/test_shop.py::test_remote" in out
    assert "return requests.Session()" in out  # the fixture's line, shown from the conftest
    assert "external.http" in out and "fixture api in tests/conftest.py:5" in out
    assert "fix: mock the transport" in out
    assert "Suggestion: external" in out


def test_explain_accepts_pytest_ids_from_a_subdirectory(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_repo(PROJECT)
    monkeypatch.chdir(root / "tests")
    assert main(["explain", "test_shop.py::TestFeed::test_reconnect", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["test"] == "tests/test_shop.py::TestFeed::test_reconnect"
    assert payload["suggestion"]["category"] == "async"
    assert [(e["rule"], e["line"]) for e in payload["evidence"] if e["source"] == "code"] == [("async.fixed-sleep", 16)]
    assert payload["suggestion"]["fix_at"] == {"path": "tests/test_shop.py", "line": 16}


def test_explain_of_an_unknown_test_says_what_to_do(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(PROJECT)
    assert main(["-C", str(root), "explain", "tests/test_shop.py::test_missing"]) == 2
    err = capsys.readouterr().err
    assert "No test matches tests/test_shop.py::test_missing" in err and "flaketui scan" in err


def test_scan_json_carries_suggestion_and_evidence(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(PROJECT)
    assert main(["-C", str(root), "scan", "--json"]) == 0
    tests = {t["nodeid"]: t for t in json.loads(capsys.readouterr().out)["tests"]}
    open_now = tests["tests/test_shop.py::test_open_now"]
    assert open_now["suggestion"]["category"] == "time" and 0 < open_now["suggestion"]["confidence"] <= 1
    assert {"category", "rule", "path", "line", "end_line", "message", "fix", "weight", "where", "fix_at", "source"} == set(
        open_now["evidence"][0]
    )
    assert ("time.wall-clock", 7) in {(e["rule"], e["line"]) for e in open_now["evidence"]}
    assert tests["tests/test_shop.py::test_plain"]["suggestion"] == {"category": "unknown", "confidence": 0.0}
    assert tests["tests/test_shop.py::test_plain"]["evidence"] == []


def _version() -> str:
    from flaketui import __version__

    return __version__


def test_cache_file_from_two_writers_keeps_both(tmp_path: Path) -> None:
    path = tmp_path / "cache.jsonl"
    project = tmp_path / "p"
    project.mkdir()
    (project / "test_a.py").write_text("import time\n\ndef test_a():\n    time.sleep(1)\n")
    (project / "test_b.py").write_text("import random\n\ndef test_b():\n    random.random()\n")
    first, second = Diagnoser(project, cache_path=path), Diagnoser(project, cache_path=path)
    a, b = make_test("test_a.py", "test_a"), make_test("test_b.py", "test_b")
    first.diagnose_many([a])
    second.diagnose_many([b])
    merged = DiagnosisCache(path)
    assert merged.get(first.cache_key(a)) is not None and merged.get(second.cache_key(b)) is not None


def test_no_room_for_state_only_costs_the_cache(make_repo: MakeRepo) -> None:
    root = make_repo(PROJECT)
    (root / ".git" / "flaketui").write_text("a file where the state directory would go\n")
    diagnosis = Service(root).diagnose(make_test("tests/test_shop.py", "test_open_now"))
    assert diagnosis.suggestion.category is Category.TIME


def test_unwritable_cache_directory_keeps_the_diagnoses(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "test_a.py").write_text("import time\n\ndef test_a():\n    time.sleep(1)\n")
    blocked = tmp_path / "blocked"
    blocked.write_text("not a directory")
    results = Diagnoser(project, cache_path=blocked / "cache.json").diagnose_many([make_test("test_a.py", "test_a")])
    assert results[0].suggestion.category is Category.ASYNC

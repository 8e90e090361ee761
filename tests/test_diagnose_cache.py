"""The diagnosis cache file: append-only, rewritten only when mostly stale, never lost to a torn line."""

from __future__ import annotations

from pathlib import Path

from flaketui.diagnose.cache import DiagnosisCache
from flaketui.models import Category, Diagnosis, Suggestion
from flaketui.service import Service
from tests._diagnose_helpers import make_test
from tests.conftest import MakeRepo


def diagnosis(name: str, category: Category = Category.TIME) -> Diagnosis:
    return Diagnosis(nodeid=f"tests/test_a.py::{name}", suggestion=Suggestion(category, 0.5))


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_each_save_appends_only_what_is_new(tmp_path: Path) -> None:
    path = tmp_path / "cache.jsonl"
    cache = DiagnosisCache(path)
    cache.put("a", diagnosis("test_a"))
    cache.save()
    before = path.read_bytes()
    cache.put("b", diagnosis("test_b"))
    cache.save()
    cache.save()  # nothing new: nothing written
    after = path.read_bytes()
    assert after.startswith(before) and len(lines(path)) == 3  # the header, a, b
    again = DiagnosisCache(path)
    assert again.get("a") == diagnosis("test_a") and again.get("b") == diagnosis("test_b")


def test_a_later_line_wins_and_a_mostly_stale_file_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "cache.jsonl"
    cache = DiagnosisCache(path)
    for round_ in range(1500):
        cache.put("a", diagnosis(f"test_{round_}"))
        cache.save()
    assert DiagnosisCache(path).get("a") == diagnosis("test_1499")
    # One live entry: the superseded lines were dropped once they outnumbered it by far.
    assert len(lines(path)) < 1100


def test_a_torn_line_costs_only_itself(tmp_path: Path) -> None:
    path = tmp_path / "cache.jsonl"
    cache = DiagnosisCache(path)
    cache.put("a", diagnosis("test_a"))
    cache.save()
    with path.open("a", encoding="utf-8") as out:
        out.write('b\t{"nodeid":')  # a writer killed mid-line
    torn = DiagnosisCache(path)
    assert torn.get("a") == diagnosis("test_a") and torn.get("b") is None
    torn.put("c", diagnosis("test_c"))
    torn.save()
    mended = DiagnosisCache(path)
    assert mended.get("a") == diagnosis("test_a") and mended.get("c") == diagnosis("test_c")


def test_a_foreign_file_is_empty_and_replaced_on_save(tmp_path: Path) -> None:
    path = tmp_path / "cache.jsonl"
    path.write_bytes(b'{"format": 2, "entries": {}}')
    cache = DiagnosisCache(path)
    assert cache.get("a") is None
    cache.put("a", diagnosis("test_a"))
    cache.save()
    assert DiagnosisCache(path).get("a") == diagnosis("test_a")


def test_the_old_whole_file_cache_is_removed(make_repo: MakeRepo) -> None:
    root = make_repo({"tests/test_a.py": "import time\n\ndef test_a():\n    assert time.time()\n"})
    service = Service(root)
    old = service.state_dir() / "diagnosis-cache.json"
    old.write_text('{"format": 2, "entries": {}}')
    service.diagnose(make_test("tests/test_a.py", "test_a"))
    assert not old.exists() and (service.state_dir() / "diagnosis-cache.jsonl").is_file()

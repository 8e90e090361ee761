"""Diagnosis benchmark: accuracy on the labelled corpus, and speed.

    .venv/bin/python benchmarks/diagnosis.py            # everything
    .venv/bin/python benchmarks/diagnosis.py --accuracy # the corpus only

Accuracy: top-1 on tests whose cause is visible in their code (target >= 80%), and on
tests whose cause is not visible, how often the answer is ``unknown`` rather than wrong.
Speed: one test cold (its module and conftests parsed; target < 100 ms), 1,000 tests of
a generated repository cold (< 20 s) and from the cache (< 1 s).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flaketui.diagnose import Diagnoser  # noqa: E402
from flaketui.models import Category, FlakyTest  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "diagnosis_corpus"


def corpus_test(root: Path, nodeid: str) -> FlakyTest:
    path, *names = nodeid.split("::")
    text = (root / path).read_text(encoding="utf-8")
    found = re.search(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(names[-1])}\b", text, re.MULTILINE)
    line = text.count("\n", 0, found.start()) + 1 if found else 1
    return FlakyTest(nodeid, ".", path, line, names[-1], (), "::".join(names[:-1]) or None)


def accuracy() -> bool:
    labels: dict[str, str] = tomllib.loads((CORPUS / "labels.toml").read_text())["labels"]
    diagnoser = Diagnoser(CORPUS)
    visible_right = visible_total = hidden_unknown = hidden_total = 0
    per_category: Counter[str] = Counter()
    per_category_right: Counter[str] = Counter()
    misses: list[str] = []
    for nodeid, label in labels.items():
        diagnosis = diagnoser.diagnose(corpus_test(CORPUS, nodeid))
        got = diagnosis.suggestion
        if label == Category.UNKNOWN:
            hidden_total += 1
            hidden_unknown += got.category is Category.UNKNOWN
            if got.category is not Category.UNKNOWN:
                misses.append(f"  {nodeid}: expected unknown, got {got.category} ({got.confidence:.2f})")
            continue
        visible_total += 1
        per_category[label] += 1
        if got.category == label:
            visible_right += 1
            per_category_right[label] += 1
        else:
            top = ", ".join(f"{e.rule}@{e.line}" for e in diagnosis.evidence[:3]) or "no evidence"
            misses.append(f"  {nodeid}: expected {label}, got {got.category} ({got.confidence:.2f}); {top}")
    print(f"corpus: {len(labels)} labelled flaky tests in {CORPUS.relative_to(ROOT)}")
    for category in per_category:
        print(f"  {category:9} {per_category_right[category]}/{per_category[category]}")
    top1 = visible_right / visible_total
    print(f"top-1 accuracy (cause visible in code): {visible_right}/{visible_total} = {top1:.0%}  (target >= 80%)")
    print(f"cause not visible: unknown {hidden_unknown}/{hidden_total}, wrong {hidden_total - hidden_unknown}")
    if misses:
        print("misses:")
        print("\n".join(misses))
    return top1 >= 0.8


MODULE_TEMPLATE = '''
import asyncio
import os
import random
import time
from datetime import datetime

import pytest
import requests

from app.core import compute, Store

STATE = []


def helper_{n}(value):
    time.sleep(0.01)
    return compute(value)


@pytest.fixture(scope="module")
def shared_{n}():
    return {{"items": []}}

'''

TEST_TEMPLATES = [
    '''
@pytest.mark.flaky(reruns=2)
def test_clock_{n}_{i}():
    assert datetime.now().year > 2000
''',
    '''
@pytest.mark.flaky(reruns=2)
def test_remote_{n}_{i}(api_session):
    response = requests.get("https://api.example-service.io/items/{i}", timeout=5)
    assert response.ok
''',
    '''
@pytest.mark.flaky(reruns=2)
async def test_wait_{n}_{i}():
    task = asyncio.ensure_future(asyncio.sleep(0))
    await asyncio.sleep(0.1)
    assert task.done()
''',
    '''
@pytest.mark.flaky(reruns=2)
def test_random_{n}_{i}():
    values = [random.randint(0, 9) for _ in range(3)]
    assert helper_{n}(values)
''',
    '''
@pytest.mark.flaky(reruns=2)
def test_shared_{n}_{i}(shared_{n}, store):
    shared_{n}["items"].append({i})
    STATE.append({i})
    assert len(STATE) == 1
''',
    '''
class TestThing{i}:
    @pytest.mark.flaky(reruns=2)
    def test_env_{n}_{i}(self, tmp_path):
        os.environ["MODE_{i}"] = "x"
        assert Store(tmp_path).mode == "x"
''',
    '''
@pytest.mark.flaky(reruns=2)
def test_plain_{n}_{i}(store):
    result = compute({i})
    assert result == {i} * 2
''',
]

CONFTEST = '''
import pytest
import redis

from app.core import Store


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path)


@pytest.fixture(scope="session")
def api_session():
    client = redis.Redis()
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _seed_nothing(monkeypatch):
    monkeypatch.setenv("APP_ENV", "test")
'''


def generate_repository(root: Path, modules: int = 50, per_module: int = 20) -> list[FlakyTest]:
    tests: list[FlakyTest] = []
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "conftest.py").write_text(CONFTEST)
    for n in range(modules):
        package = root / "tests" / f"area{n % 5}"
        package.mkdir(exist_ok=True)
        if not (package / "conftest.py").exists():
            (package / "conftest.py").write_text(CONFTEST.replace("def store", "def local_store"))
        source = MODULE_TEMPLATE.format(n=n)
        for i in range(per_module):
            source += TEST_TEMPLATES[i % len(TEST_TEMPLATES)].format(n=n, i=i)
        rel = f"tests/area{n % 5}/test_mod{n}.py"
        (root / rel).write_text(source)
        for i in range(per_module):
            template = TEST_TEMPLATES[i % len(TEST_TEMPLATES)]
            name = re.search(r"def (test_\w+?)\(", template.format(n=n, i=i)).group(1)  # type: ignore[union-attr]
            class_name = f"TestThing{i}" if "class TestThing" in template else None
            nodeid = f"{rel}::{class_name}::{name}" if class_name else f"{rel}::{name}"
            tests.append(FlakyTest(nodeid, ".", rel, 1, name, (), class_name))
    return tests


def speed() -> bool:
    one = corpus_test(CORPUS, "services/test_integrations.py::test_invoice_upload")
    Diagnoser(CORPUS).diagnose(one)  # imports libcst and warms the interpreter, not our caches
    single = []
    for _ in range(5):
        started = time.perf_counter()
        Diagnoser(CORPUS).diagnose(one)
        single.append(time.perf_counter() - started)
    single_ms = statistics.median(single) * 1000
    print(f"one test cold (module + 2 conftests parsed): {single_ms:.0f} ms median of 5  (target < 100 ms)")

    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory) / "repo"
        tests = generate_repository(root)
        cache = Path(directory) / "diagnosis-cache.json"
        started = time.perf_counter()
        cold = Diagnoser(root, cache_path=cache).diagnose_many(tests)
        cold_s = time.perf_counter() - started
        started = time.perf_counter()
        warm = Diagnoser(root, cache_path=cache).diagnose_many(tests)
        warm_s = time.perf_counter() - started
        assert [d.suggestion for d in cold] == [d.suggestion for d in warm]
        spread = Counter(str(d.suggestion.category) for d in cold)
        print(f"{len(tests)} tests in 50 modules, cold: {cold_s:.2f} s  (target < 20 s)")
        print(f"{len(tests)} tests from the cache: {warm_s:.2f} s  (target < 1 s)")
        print(f"  suggestions: {dict(sorted(spread.items()))}")
    return single_ms < 100 and cold_s < 20 and warm_s < 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accuracy", action="store_true", help="only the corpus accuracy")
    parser.add_argument("--speed", action="store_true", help="only the timings")
    args = parser.parse_args(argv)
    ok = True
    if not args.speed:
        ok &= accuracy()
    if not args.accuracy:
        ok &= speed()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Diagnosis benchmark: accuracy on the labelled corpus, and speed.

    .venv/bin/python benchmarks/diagnosis.py            # everything
    .venv/bin/python benchmarks/diagnosis.py --accuracy # the corpus only

Accuracy: precision (right / (right + wrong), ``unknown`` is neither; target >= 90%),
coverage (right / every test whose cause is known; >= 75%), the line the fix must change
(labelled in ``[lines]``), a confusion matrix and the calibration table (said 70% -> right
how often). ``--calibrate`` rewrites flaketui/diagnose/calibration_table.py from the corpus.
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
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flaketui.diagnose import Diagnoser  # noqa: E402
from flaketui.diagnose.calibration import evidence_kind  # noqa: E402
from flaketui.models import Category, FlakyTest  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "diagnosis_corpus"


def corpus_test(root: Path, nodeid: str) -> FlakyTest:
    path, *names = nodeid.split("::")
    text = (root / path).read_text(encoding="utf-8")
    found = re.search(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(names[-1])}\b", text, re.MULTILINE)
    line = text.count("\n", 0, found.start()) + 1 if found else 1
    return FlakyTest(nodeid, ".", path, line, names[-1], (), "::".join(names[:-1]) or None)


@dataclass(frozen=True)
class Row:
    nodeid: str
    label: str
    got: str
    confidence: float
    kind: str
    fix_at: tuple[str, int] | None
    named: frozenset[tuple[str, int]]
    expected_lines: frozenset[tuple[str, int]]
    top: str


def _places(value: str | list[str]) -> frozenset[tuple[str, int]]:
    places = [value] if isinstance(value, str) else value
    return frozenset((p.rsplit(":", 1)[0], int(p.rsplit(":", 1)[1])) for p in places)


def evaluate() -> list[Row]:
    """Diagnose every labelled test of the corpus (no cache)."""
    data = tomllib.loads((CORPUS / "labels.toml").read_text())
    labels: dict[str, str] = data["labels"]
    lines = {nodeid: _places(value) for nodeid, value in data.get("lines", {}).items()}
    diagnoser = Diagnoser(CORPUS)
    rows = []
    for nodeid, label in labels.items():
        diagnosis = diagnoser.diagnose(corpus_test(CORPUS, nodeid))
        got = diagnosis.suggestion
        named = {diagnosis.fix_at} if diagnosis.fix_at else set()
        named |= {(e.path, e.line) for e in diagnosis.evidence} | {e.fix_at for e in diagnosis.evidence}
        top = ", ".join(f"{e.rule}@{e.path}:{e.line}" for e in diagnosis.evidence[:3]) or "no evidence"
        rows.append(Row(nodeid, label, str(got.category), got.confidence, evidence_kind(diagnosis), diagnosis.fix_at,
                        frozenset(named), lines.get(nodeid, frozenset()), top))
    return rows


def accuracy(rows: list[Row]) -> bool:
    """Precision (right / (right + wrong); unknown is neither), coverage (right / every test
    whose cause is known), the line named, a confusion matrix and the calibration table."""
    right = [r for r in rows if r.got == r.label and r.label != "unknown"]
    wrong = [r for r in rows if r.got not in {r.label, "unknown"}]
    known = [r for r in rows if r.label != "unknown"]
    decoys = [r for r in rows if r.label == "unknown"]
    precision = len(right) / max(1, len(right) + len(wrong))
    coverage = len(right) / max(1, len(known))
    with_lines = [r for r in rows if r.expected_lines]
    fix_line = sum(1 for r in with_lines if r.fix_at in r.expected_lines)
    named = sum(1 for r in with_lines if r.named & r.expected_lines)
    print(f"corpus: {len(rows)} labelled flaky tests in {CORPUS.relative_to(ROOT)} "
          f"({len(known)} with a known cause, {len(decoys)} whose honest answer is unknown)")
    print(f"precision  {len(right)}/{len(right) + len(wrong)} = {precision:.0%}   (right / (right + wrong); target >= 90%)")
    print(f"coverage   {len(right)}/{len(known)} = {coverage:.0%}   (right / all with a known cause; target >= 75%)")
    print(f"unknown-labelled answered unknown: {sum(1 for r in decoys if r.got == 'unknown')}/{len(decoys)}")
    if with_lines:
        print(f"fix line   {fix_line}/{len(with_lines)} = {fix_line / len(with_lines):.0%}   (suggestion.fix_at is the labelled line)")
        print(f"line named {named}/{len(with_lines)} = {named / len(with_lines):.0%}   (the labelled line among fix_at and evidence)")
    _confusion(rows)
    _calibration(rows)
    misses = [r for r in rows if r.got != r.label or (r.expected_lines and r.fix_at not in r.expected_lines)]
    if misses:
        print("misses:")
        for r in misses:
            where = f", fix_at {r.fix_at}, expected {sorted(r.expected_lines)}" if r.expected_lines else ""
            print(f"  {r.nodeid}: expected {r.label}, got {r.got} ({r.confidence:.2f}){where}; {r.top}")
    return precision >= 0.9 and coverage >= 0.75


def _confusion(rows: list[Row]) -> None:
    names = [str(c) for c in Category]
    counts = Counter((r.label, r.got) for r in rows)
    print("confusion (rows: label, columns: answer)")
    print("  " + " " * 9 + "".join(f"{n[:7]:>8}" for n in names))
    for label in names:
        if any(counts[(label, got)] for got in names):
            print(f"  {label:9}" + "".join(f"{counts[(label, got)] or '.':>8}" for got in names))


def _calibration(rows: list[Row]) -> None:
    """Said p% -> right how often, over the tests that named a cause."""
    print("calibration (stated confidence -> right how often, over answers that name a cause)")
    named = [r for r in rows if r.got != "unknown"]
    for low in (0.0, 0.5, 0.6, 0.7, 0.8, 0.9):
        high = {0.0: 0.5, 0.9: 1.01}.get(low, low + 0.1)
        inside = [r for r in named if low <= r.confidence < high]
        if inside:
            hits = sum(1 for r in inside if r.got == r.label)
            print(f"  said {low:>4.0%}-{min(high, 1.0):.0%}: {hits}/{len(inside)} right = {hits / len(inside):.0%}")


def calibrate(rows: list[Row]) -> None:
    """Measure each kind of evidence's precision on the corpus and write it as the table the
    diagnosis shows as confidence (flaketui/diagnose/calibration_table.py)."""
    measured: dict[str, list[int]] = {}
    for r in rows:
        if r.got != "unknown":
            tally = measured.setdefault(r.kind, [0, 0])
            tally[0] += r.got == r.label
            tally[1] += 1
    target = ROOT / "flaketui" / "diagnose" / "calibration_table.py"
    body = "".join(f"    {kind!r}: ({hits}, {total}),\n" for kind, (hits, total) in sorted(measured.items()))
    target.write_text(
        '"""Measured by ``benchmarks/diagnosis.py --calibrate`` on the labelled corpus: for each kind of\n'
        'evidence that decided a suggestion, (right, named). Data, regenerated, never edited by hand."""\n\n'
        f"MEASURED: dict[str, tuple[int, int]] = {{\n{body}}}\n")
    print(f"wrote {target.relative_to(ROOT)} ({len(measured)} kinds)")


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
        cache = Path(directory) / "diagnosis-cache.jsonl"
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
    parser.add_argument("--calibrate", action="store_true",
                        help="measure each kind of evidence's precision and write the table the diagnosis shows")
    args = parser.parse_args(argv)
    ok = True
    if args.calibrate:
        from flaketui.diagnose import calibration

        calibration.ENABLED = False
        calibrate(evaluate())
        return 0
    if not args.speed:
        ok &= accuracy(evaluate())
    if not args.accuracy:
        ok &= speed()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""The audit, rendered for a repository with every category, compared section by section."""

from __future__ import annotations

import json

import pytest

from flaketui.models import Category, CommitRecord, DecidedBy, Finding, Keep, Triage
from flaketui.report import FIXES, build_audit, render_json, render_markdown, to_data
from tests._record_helpers import diagnosis, flaky, verification

RACE = flaky("tests/test_race.py::test_counter", 10)
ASYNC = flaky("tests/test_ws.py::test_reconnect", 20)
TIME = flaky("tests/test_jobs.py::test_expiry", 30)
TIME_2 = flaky("tests/test_jobs.py::test_schedule", 40)
TIME_3 = flaky("tests/test_jobs.py::TestCron::test_tick", 50)
EXTERNAL = flaky("tests/test_api.py::test_fetch", 60)
EXTERNAL_2 = flaky("tests/test_api.py::test_post", 70)
DATA = flaky("tests/test_ids.py::test_unique", 80)
FIXTURE = flaky("tests/test_db.py::test_insert", 90)
ORDER = flaky("tests/test_cache.py::test_hit|miss", 100)
UNDIAGNOSED = flaky("tests/test_misc.py::test_mystery", 110)
TESTS = (RACE, ASYNC, TIME, TIME_2, TIME_3, EXTERNAL, EXTERNAL_2, DATA, FIXTURE, ORDER, UNDIAGNOSED)

DIAGNOSES = {
    RACE.key: diagnosis(RACE, Category.RACE, "threads share a global list", 12),
    ASYNC.key: diagnosis(ASYNC, Category.ASYNC, "asyncio.sleep(0.1) waits for a server", 22),
    TIME.key: diagnosis(TIME, Category.TIME, "datetime.now() compared", 31),
    TIME_2.key: diagnosis(TIME_2, Category.TIME, "time.time() deadline", 41, confidence=0.55),
    TIME_3.key: diagnosis(TIME_3, Category.DATA, "random tick", 51),
    EXTERNAL.key: diagnosis(EXTERNAL, Category.EXTERNAL, "requests.get to a live URL", 61),
    EXTERNAL_2.key: diagnosis(EXTERNAL_2, Category.EXTERNAL, "httpx.post to a live URL", 71),
    DATA.key: diagnosis(DATA, Category.DATA, "random.choice without a seed", 81),
    FIXTURE.key: diagnosis(FIXTURE, Category.FIXTURE, "session-scoped db fixture mutated", 91),
    ORDER.key: diagnosis(ORDER, Category.ORDER, "module global set by another test", 101),
}
DECISIONS = {
    TIME.key: Triage(TIME.nodeid, category=Category.TIME, decided_by=DecidedBy.USER),
    # The team overrules the diagnosis: the tick comes from the clock, not the RNG.
    TIME_3.key: Triage(TIME_3.nodeid, category=Category.TIME, decided_by=DecidedBy.USER, note="cron clock"),
    EXTERNAL.key: Triage(
        EXTERNAL.nodeid, category=Category.EXTERNAL, decided_by=DecidedBy.SUGGESTION, keep=Keep("live API", "2027-01-31")
    ),
}
VERIFICATIONS = {
    ASYNC.key: verification(ASYNC.nodeid, 7, 10),
    TIME.key: verification(TIME.nodeid, 10, 10, started_at="2026-11-24T10:05:00+00:00"),
    ("." , "tests/test_old.py::test_fixed"): verification("tests/test_old.py::test_fixed", 20, 20),
    ("." , "tests/test_gone.py::test_unrelated"): verification("tests/test_gone.py::test_unrelated", 1, 1),
}
COMMITS = [
    CommitRecord("1234567890abcdef", "tests/test_old.py::test_fixed", "test: remove flaky marker from test_fixed\n\nbody"),
    CommitRecord("fedcba0987654321", "tests/test_old.py::test_fixed", "Revert it", kind="undo", undoes="1234567890abcdef"),
]
FINDINGS = [Finding("config-reruns", "pyproject.toml", 12, "--reruns 2 in addopts reruns every test")]


def make_audit():
    return build_audit(
        generated="2026-11-24 10:30 UTC",
        repository="shop",
        branch="main",
        head="a1b2c3d4e5f6a7b8c9d0",
        tests=TESTS,
        decisions=DECISIONS,
        diagnoses=DIAGNOSES,
        verifications=VERIFICATIONS,
        commits=COMMITS,
        findings=FINDINGS,
    )


def sections(markdown: str) -> dict[str, str]:
    """``## Heading`` -> its body; the text before the first one under ``""``."""
    found: dict[str, str] = {}
    title = ""
    for chunk in ("\n" + markdown).split("\n## "):
        heading, _, body = chunk.partition("\n")
        found[title if not found else heading] = body.strip("\n") if found else chunk.strip("\n")
        title = heading
    return found


EXPECTED = {
    "": """# Flaky Test Audit

- Generated: 2026-11-24 10:30 UTC
- Repository: shop on `main` at `a1b2c3d4e5f6`
- Total flaky tests: 11
- Repository-wide findings: 1""",
    "By Root Cause": """### Race condition / shared state (1)

| Test | Path | Issue |
|---|---|---|
| `tests/test_race.py::test_counter` | tests/test_race.py:10 | threads share a global list (tests/test_race.py:12) |

### Async coordination (1)

| Test | Path | Issue |
|---|---|---|
| `tests/test_ws.py::test_reconnect` | tests/test_ws.py:20 | asyncio.sleep(0.1) waits for a server (tests/test_ws.py:22) |

### Time and dates (3)

| Test | Path | Issue |
|---|---|---|
| `tests/test_jobs.py::test_expiry` | tests/test_jobs.py:30 | datetime.now() compared (tests/test_jobs.py:31) |
| `tests/test_jobs.py::test_schedule` | tests/test_jobs.py:40 | time.time() deadline (tests/test_jobs.py:41) |
| `tests/test_jobs.py::TestCron::test_tick` | tests/test_jobs.py:50 | random tick (tests/test_jobs.py:51) |

### External dependency (2)

| Test | Path | Issue |
|---|---|---|
| `tests/test_api.py::test_fetch` | tests/test_api.py:60 | requests.get to a live URL (tests/test_api.py:61) |
| `tests/test_api.py::test_post` | tests/test_api.py:70 | httpx.post to a live URL (tests/test_api.py:71) |

### Non-deterministic data (1)

| Test | Path | Issue |
|---|---|---|
| `tests/test_ids.py::test_unique` | tests/test_ids.py:80 | random.choice without a seed (tests/test_ids.py:81) |

### Fixture / isolation (1)

| Test | Path | Issue |
|---|---|---|
| `tests/test_db.py::test_insert` | tests/test_db.py:90 | session-scoped db fixture mutated (tests/test_db.py:91) |

### Test order dependency (1)

| Test | Path | Issue |
|---|---|---|
| `tests/test_cache.py::test_hit\\|miss` | tests/test_cache.py:100 | module global set by another test (tests/test_cache.py:101) |

### Unknown (1)

| Test | Path | Issue |
|---|---|---|
| `tests/test_misc.py::test_mystery` | tests/test_misc.py:110 | not diagnosed |""",
    "Tests Without a Confirmed Category": """| Test | Suggestion |
|---|---|
| `tests/test_api.py::test_post` | external (80%) |
| `tests/test_cache.py::test_hit\\|miss` | order (80%) |
| `tests/test_db.py::test_insert` | fixture (80%) |
| `tests/test_ids.py::test_unique` | data (80%) |
| `tests/test_jobs.py::test_schedule` | time (55%) |
| `tests/test_misc.py::test_mystery` | not diagnosed |
| `tests/test_race.py::test_counter` | race (80%) |
| `tests/test_ws.py::test_reconnect` | async (80%) |""",
    "Kept on Purpose": """| Test | Reason | Expires |
|---|---|---|
| `tests/test_api.py::test_fetch` | live API | 2027-01-31 |""",
    "Verification Results": """| Test | Passed | Mode | Verdict | Failure rate (95%) | Date |
|---|---|---|---|---|---|
| `tests/test_jobs.py::test_expiry` | 10/10 | forked | stable | < 26% | 2026-11-24T10:05:00+00:00 |
| `tests/test_old.py::test_fixed` | 20/20 | forked | stable | < 14% | 2026-11-24T10:00:00+00:00 |
| `tests/test_ws.py::test_reconnect` | 7/10 | forked | flaky | < 61% | 2026-11-24T10:00:00+00:00 |""",
    "Markers Removed": """| Commit | Test | Message |
|---|---|---|
| `1234567890ab` | `tests/test_old.py::test_fixed` | test: remove flaky marker from test_fixed |
| `fedcba098765` | `tests/test_old.py::test_fixed` | undo of 1234567890ab: Revert it |""",
    "Repository-wide Findings": """| Where | Finding |
|---|---|
| pyproject.toml:12 | config-reruns: --reruns 2 in addopts reruns every test |""",
    "Unmarked Flaky Tests": "None found (`flaketui import` reads CI reports, `flaketui hunt` runs the suite).",
    "Suite Stability": "Not measured yet: `flaketui hunt` runs the suite serially, shuffled and under xdist.",
    "Fix Plan": f"""### 1. Time and dates (3 tests)

{FIXES[Category.TIME]}

- `tests/test_jobs.py::test_expiry`
- `tests/test_jobs.py::test_schedule`
- `tests/test_jobs.py::TestCron::test_tick`

### 2. External dependency (2 tests)

{FIXES[Category.EXTERNAL]}

- `tests/test_api.py::test_fetch`
- `tests/test_api.py::test_post`

### 3. Race condition / shared state (1 test)

{FIXES[Category.RACE]}

- `tests/test_race.py::test_counter`

### 4. Async coordination (1 test)

{FIXES[Category.ASYNC]}

- `tests/test_ws.py::test_reconnect`

### 5. Non-deterministic data (1 test)

{FIXES[Category.DATA]}

- `tests/test_ids.py::test_unique`

### 6. Fixture / isolation (1 test)

{FIXES[Category.FIXTURE]}

- `tests/test_db.py::test_insert`

### 7. Test order dependency (1 test)

{FIXES[Category.ORDER]}

- `tests/test_cache.py::test_hit\\|miss`

### 8. Unknown (1 test)

{FIXES[Category.UNKNOWN]}

- `tests/test_misc.py::test_mystery`""",
}


def test_the_sections_come_in_order() -> None:
    assert list(sections(render_markdown(make_audit()))) == list(EXPECTED)


@pytest.mark.parametrize("title", list(EXPECTED))
def test_each_section_of_the_audit(title: str) -> None:
    assert sections(render_markdown(make_audit()))[title] == EXPECTED[title]


def test_every_fix_names_its_tools() -> None:
    for category, words in {
        Category.TIME: ("freezegun", "time-machine"),
        Category.EXTERNAL: ("responses", "respx", "pytest-socket"),
        Category.DATA: ("seed",),
        Category.RACE: ("tmp_path", "unique names"),
        Category.FIXTURE: ("monkeypatch", "function scope", "teardown"),
        Category.ASYNC: ("asyncio.wait_for", "asyncio.Event"),
        Category.ORDER: ("pytest-randomly",),
    }.items():
        assert all(word in FIXES[category] for word in words), category


def test_json_holds_the_same_data() -> None:
    audit = make_audit()
    data = json.loads(render_json(audit))
    assert data == json.loads(json.dumps(to_data(audit)))
    assert data["total"] == 11
    assert data["repository"] == {"name": "shop", "branch": "main", "head": "a1b2c3d4e5f6a7b8c9d0", "is_git": True}
    assert data["by_category"]["time"] == [TIME.nodeid, TIME_2.nodeid, TIME_3.nodeid]
    assert data["unconfirmed"] == sorted(t.nodeid for t in TESTS if t.key not in DECISIONS)
    assert [(i["category"], i["count"]) for i in data["fix_plan"]] == [
        ("time", 3), ("external", 2), ("race", 1), ("async", 1), ("data", 1), ("fixture", 1), ("order", 1), ("unknown", 1)
    ]  # fmt: skip
    fetch = next(t for t in data["tests"] if t["nodeid"] == EXTERNAL.nodeid)
    assert fetch["source"] == "confirmed"
    assert fetch["keep"] == {"reason": "live API", "expires": "2027-01-31"}
    assert fetch["issue_at"] == "tests/test_api.py:61"
    tick = next(t for t in data["tests"] if t["nodeid"] == TIME_3.nodeid)
    assert (tick["category"], tick["note"]) == ("time", "cron clock")
    assert [v["nodeid"] for v in data["verifications"]] == [TIME.nodeid, "tests/test_old.py::test_fixed", ASYNC.nodeid]
    assert [c["sha"] for c in data["markers_removed"]] == ["1234567890abcdef", "fedcba0987654321"]
    assert data["findings"][0]["kind"] == "config-reruns"


def test_an_empty_repository_says_so() -> None:
    audit = build_audit(
        generated="2026-11-24", repository="clean", branch=None, head=None, tests=(), decisions={},
        diagnoses={}, verifications={}, commits=[],
    )  # fmt: skip
    found = sections(render_markdown(audit))
    assert found[""].splitlines()[3] == "- Repository: clean at no commit yet"
    assert found["By Root Cause"] == "No flaky markers found."
    assert found["Tests Without a Confirmed Category"] == "Every test has a confirmed category."
    assert found["Markers Removed"] == "None yet."
    assert found["Fix Plan"] == "Nothing to fix."
    assert "Kept on Purpose" not in found


def test_tests_under_a_rootdir_carry_it_in_their_id() -> None:
    nested = flaky("tests/test_x.py::test_y", rootdir="backend")
    audit = build_audit(
        generated="d", repository="r", branch="b", head="h", tests=(nested,), decisions={}, diagnoses={},
        verifications={}, commits=[],
    )  # fmt: skip
    assert audit.tests[0].nodeid == "backend/tests/test_x.py::test_y"
    assert audit.tests[0].path == "backend/tests/test_x.py"


def test_evidence_reached_through_a_fixture_says_so() -> None:
    from dataclasses import replace

    base = DIAGNOSES[FIXTURE.key]
    through = replace(base, evidence=tuple(replace(e, where="fixture db in tests/conftest.py:4") for e in base.evidence))
    audit = build_audit(
        generated="d", repository="r", branch="b", head="h", tests=(FIXTURE,), decisions={},
        diagnoses={FIXTURE.key: through}, verifications={}, commits=[],
    )  # fmt: skip
    assert audit.tests[0].issue_at == "tests/test_db.py:91, fixture db in tests/conftest.py:4"

"""``.flaketui.toml``: byte-stable round trips, splices that leave the rest alone, git merges."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flaketui import decisions
from flaketui.decisions import FILENAME, PREAMBLE, decide, parse, render, toml_string, update
from flaketui.errors import FlakeTUIError
from flaketui.models import Category, DecidedBy, FlakyTest, Keep, Marker, MarkerKind, MarkerScope, Triage
from flaketui.service import Service
from tests.conftest import MakeRepo, git

ROOT = Path(__file__).resolve().parents[1]

CANONICAL = PREAMBLE + (
    "\n"
    '[tests."sub/tests/test_b.py::test_y"]\n'
    'rootdir = "sub"\n'
    'note = "owned by \\"infra\\"\\nsee ticket"\n'
    "\n"
    '[tests."tests/test_a.py::TestA::test_x[1]"]\n'
    'category = "time"\n'
    'decided_by = "user"\n'
    'keep = "calls the live clock service"\n'
    "keep_expires = 2026-12-31\n"
)
DECISIONS = {
    ("sub", "tests/test_b.py::test_y"): Triage("tests/test_b.py::test_y", "sub", note='owned by "infra"\nsee ticket'),
    (".", "tests/test_a.py::TestA::test_x[1]"): Triage(
        "tests/test_a.py::TestA::test_x[1]",
        ".",
        Category.TIME,
        DecidedBy.USER,
        keep=Keep("calls the live clock service", "2026-12-31"),
    ),
}


def flaky_test(nodeid: str, rootdir: str = ".") -> FlakyTest:
    path = nodeid.split("::")[0]
    marker = Marker(MarkerKind.FLAKY, MarkerScope.FUNCTION, path, 3, "@pytest.mark.flaky")
    return FlakyTest(nodeid, rootdir, path, 4, nodeid.rsplit("::", 1)[-1], (marker,))


def test_render_is_canonical_and_parses_back() -> None:
    assert render(DECISIONS) == CANONICAL
    assert parse(CANONICAL.encode()) == DECISIONS


def test_an_unchanged_decision_leaves_the_bytes_identical() -> None:
    for triage in DECISIONS.values():
        assert update(CANONICAL.encode(), triage) == CANONICAL.encode()


HAND_EDITED = (
    "# Our flaky tests. Ask #infra before keeping a marker.\n"
    "\n"
    '[tests."tests/a.py::test_a"]\n'
    'category = "time"  # confirmed in standup\n'
    "\n"
    "# the network ones\n"
    '[tests."tests/m.py::test_m"]\n'
    'category = "external"\n'
)


@pytest.mark.parametrize(
    ("triage", "expected"),
    [
        pytest.param(
            Triage("tests/c.py::test_c", category=Category.ORDER, decided_by=DecidedBy.SUGGESTION),
            HAND_EDITED.replace(
                "# the network ones\n",
                '[tests."tests/c.py::test_c"]\ncategory = "order"\ndecided_by = "suggestion"\n\n# the network ones\n',
            ),
            id="insert-in-order",
        ),
        pytest.param(
            Triage("tests/z.py::test_z", note="x"),
            HAND_EDITED + '\n[tests."tests/z.py::test_z"]\nnote = "x"\n',
            id="append",
        ),
        pytest.param(
            Triage("tests/m.py::test_m", category=Category.EXTERNAL, keep=Keep("live API")),
            HAND_EDITED.replace('category = "external"\n', 'category = "external"\nkeep = "live API"\n'),
            id="replace",
        ),
        pytest.param(
            Triage("tests/m.py::test_m"),
            HAND_EDITED.replace('\n# the network ones\n[tests."tests/m.py::test_m"]\ncategory = "external"\n', ""),
            id="remove-last",
        ),
    ],
)
def test_a_change_rewrites_only_its_own_table(triage: Triage, expected: str) -> None:
    assert update(HAND_EDITED.encode(), triage).decode() == expected


def test_crlf_files_stay_crlf() -> None:
    data = CANONICAL.replace("\n", "\r\n").encode()
    triage = Triage("tests/z.py::test_z", note="new")
    updated = update(data, triage)
    assert b"\r\n" in updated and b"\n" not in updated.replace(b"\r\n", b"")
    assert parse(updated)[(".", "tests/z.py::test_z")] == triage


def test_a_file_splice_cannot_handle_is_rewritten_canonically_with_the_same_decisions() -> None:
    odd = '[tests."tests/a.py::test_a"]\nnote = """two\n[lines]"""\n'
    updated = update(odd.encode(), Triage("tests/b.py::test_b", note="b"))
    assert parse(updated) == {
        (".", "tests/a.py::test_a"): Triage("tests/a.py::test_a", note="two\n[lines]"),
        (".", "tests/b.py::test_b"): Triage("tests/b.py::test_b", note="b"),
    }


@settings(deadline=None, max_examples=60)
@given(st.text(), st.text(min_size=1))
def test_any_text_survives_as_a_toml_string(note: str, nodeid: str) -> None:
    assert tomllib.loads(f"x = {toml_string(note)}")["x"] == note
    triage = Triage(nodeid, note=note or "n", keep=Keep(note))
    data = render({(".", nodeid): triage}).encode()
    assert parse(data) == {(".", nodeid): triage}
    assert update(data, triage) == data


@pytest.mark.parametrize(
    ("content", "where"),
    [
        pytest.param('[tests."a"]\ncategory = "time"\ncategory = "data"\n', f"{FILENAME}", id="duplicate-key"),
        pytest.param('\n\n[tests."a"]\ncategory = "weather"\n', f"{FILENAME}:3: unknown category", id="bad-category"),
        pytest.param('[tests."a"]\ndecided_by = "boss"\n', f"{FILENAME}:1: decided_by", id="bad-decided-by"),
        pytest.param('[tests."a"]\nkeep = "x"\nkeep_expires = "soon"\n', f"{FILENAME}:1: keep_expires", id="bad-date"),
        pytest.param('<<<<<<< HEAD\n[tests."a"]\n', "line 1", id="merge-conflict"),
        pytest.param(b'[tests."a"]\nnote = "\xff"\n', f"{FILENAME}:2: is not UTF-8", id="not-utf8"),
    ],
)
def test_an_invalid_file_is_reported_with_its_line_and_never_written(
    tmp_path: Path, content: str | bytes, where: str
) -> None:
    data = content if isinstance(content, bytes) else content.encode()
    (tmp_path / FILENAME).write_bytes(data)
    with pytest.raises(FlakeTUIError) as caught:
        decide(tmp_path, ".", "b", note="x")
    assert where in caught.value.message
    assert "flaketui will not write" in caught.value.hint
    assert (tmp_path / FILENAME).read_bytes() == data


def test_service_decisions_keep_each_others_fields(make_repo: MakeRepo) -> None:
    root = make_repo({"README": "x\n"})
    service = Service(root)
    test = flaky_test("tests/test_a.py::test_x")
    assert service.decisions() == {}
    service.set_category(test, Category.ASYNC, DecidedBy.SUGGESTION)
    service.keep_marker(test, Keep("websocket server is slow", "2027-01-31"))
    service.set_note(test, "see #42")
    expected = Triage(
        test.nodeid, ".", Category.ASYNC, DecidedBy.SUGGESTION, "see #42", Keep("websocket server is slow", "2027-01-31")
    )
    assert service.decisions() == {test.key: expected}
    assert service.keep_marker(test, None) == Triage(test.nodeid, ".", Category.ASYNC, DecidedBy.SUGGESTION, "see #42")
    assert "keep =" not in (root / FILENAME).read_text()


def test_an_invalid_expiry_is_refused_before_anything_is_written(make_repo: MakeRepo) -> None:
    root = make_repo({"README": "x\n"})
    with pytest.raises(FlakeTUIError, match="not a date"):
        Service(root).keep_marker(flaky_test("tests/test_a.py::test_x"), Keep("why", "next week"))
    assert not (root / FILENAME).exists()


def test_removing_a_decision_that_does_not_exist_creates_no_file(make_repo: MakeRepo) -> None:
    root = make_repo({"README": "x\n"})
    Service(root).keep_marker(flaky_test("tests/test_a.py::test_x"), None)
    assert not (root / FILENAME).exists()


def test_two_people_deciding_about_different_tests_merge_cleanly(make_repo: MakeRepo) -> None:
    base = {
        (".", f"tests/test_{n}.py::test_{n}"): Triage(f"tests/test_{n}.py::test_{n}", category=Category.DATA)
        for n in ("a", "m", "z")
    }
    root = make_repo({FILENAME: render(base), "README": "x\n"})
    service = Service(root)
    git(root, "checkout", "-q", "-b", "alice")
    service.set_category(flaky_test("tests/test_c.py::test_c"), Category.TIME)
    service.set_note(flaky_test("tests/test_a.py::test_a"), "alice looked")
    git(root, "commit", "-q", "-am", "alice decides")
    git(root, "checkout", "-q", "main")
    service.keep_marker(flaky_test("tests/test_q.py::test_q"), Keep("live service"))
    service.set_category(flaky_test("tests/test_z.py::test_z"), Category.ORDER)
    git(root, "commit", "-q", "-am", "bob decides")
    git(root, "merge", "-q", "--no-edit", "alice")  # raises on a conflict
    merged = service.decisions()
    assert merged[(".", "tests/test_c.py::test_c")].category is Category.TIME
    assert merged[(".", "tests/test_a.py::test_a")].note == "alice looked"
    assert merged[(".", "tests/test_q.py::test_q")].keep == Keep("live service")
    assert merged[(".", "tests/test_z.py::test_z")].category is Category.ORDER
    assert (root / FILENAME).read_text() == render(merged)


def test_same_gap_additions_merge_with_the_union_driver(make_repo: MakeRepo) -> None:
    """Two new tables in the same place conflict under git's default driver; the README
    recommends ``.flaketui.toml merge=union``, which keeps both."""
    root = make_repo({".gitattributes": f"{FILENAME} merge=union\n", "README": "x\n"})
    service = Service(root)
    git(root, "checkout", "-q", "-b", "alice")
    service.set_category(flaky_test("tests/test_b.py::test_b"), Category.TIME)
    git(root, "add", FILENAME)
    git(root, "commit", "-q", "-m", "alice decides")
    git(root, "checkout", "-q", "main")
    service.set_category(flaky_test("tests/test_c.py::test_c"), Category.RACE)
    git(root, "add", FILENAME)
    git(root, "commit", "-q", "-m", "bob decides")
    git(root, "merge", "-q", "--no-edit", "alice")
    assert {t.nodeid: t.category for t in service.decisions().values()} == {
        "tests/test_b.py::test_b": Category.TIME,
        "tests/test_c.py::test_c": Category.RACE,
    }


DECIDER = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from flaketui.service import Service
from flaketui.models import Category
from tests.test_decisions import flaky_test
service = Service(Path(sys.argv[1]))
for i in range(8):
    service.set_category(flaky_test(f"tests/test_{sys.argv[3]}.py::test_{i}"), Category.DATA)
"""


def test_two_processes_deciding_at_once_lose_nothing(make_repo: MakeRepo) -> None:
    root = make_repo({"README": "x\n"})
    procs = [
        subprocess.Popen([sys.executable, "-c", DECIDER, str(root), str(ROOT), name], stderr=subprocess.PIPE)
        for name in ("left", "right")
    ]
    errors = [p.communicate()[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert len(Service(root).decisions()) == 16
    assert decisions.load(root) == parse((root / FILENAME).read_bytes())


NODEIDS = st.sampled_from([f"tests/test_{c}.py::test_{c}" for c in "aeimqz"])
TRIAGES = st.builds(
    Triage,
    nodeid=NODEIDS,
    rootdir=st.sampled_from([".", "backend"]),
    category=st.none() | st.sampled_from(list(Category)),
    decided_by=st.none() | st.sampled_from(list(DecidedBy)),
    note=st.sampled_from(["", "flaky on CI", 'quote " and \\ backslash']),
    keep=st.none() | st.builds(Keep, reason=st.sampled_from(["live API", ""]), expires=st.sampled_from([None, "2027-03-01"])),
)


@settings(deadline=None, max_examples=50)
@given(st.lists(TRIAGES, max_size=12))
def test_any_sequence_of_decisions_stays_canonical_and_parses_to_the_model(changes: list[Triage]) -> None:
    """Starting from the canonical file, every splice keeps it canonical: sorted tables, one
    blank line between them, so diffs stay minimal and merges clean."""
    data: bytes | None = None
    model: dict[tuple[str, str], Triage] = {}
    for triage in changes:
        key = (triage.rootdir, triage.nodeid)
        if decisions.render_table(triage):
            model[key] = triage
        else:
            model.pop(key, None)
        data = update(data, triage)
        assert parse(data) == model
        assert data.decode() == render(model)


def test_a_rewrite_that_would_drop_foreign_tables_is_refused() -> None:
    odd = '[tests."tests/a.py::test_a"]\nnote = """two\n[lines]"""\n\n[team]\nowner = "infra"\n'
    with pytest.raises(FlakeTUIError, match="would drop team"):
        update(odd.encode(), Triage("tests/b.py::test_b", note="b"))


def test_foreign_tables_survive_a_splice() -> None:
    data = b'[team]\nowner = "infra"\n\n[tests."tests/a.py::test_a"]\nnote = "a"\n'
    updated = update(data, Triage("tests/b.py::test_b", note="b"))
    assert updated == data + b'\n[tests."tests/b.py::test_b"]\nnote = "b"\n'

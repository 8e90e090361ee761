"""Properties of vcs.commit_paths over generated work-tree states, on real repositories."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flaketui import vcs
from tests._fix_helpers import repo_state
from tests.conftest import git, write_files

NAMES = ("tests/test_a.py", "tests/conftest.py", "src/app.py", "README")
#: What the user did to a file before flaketui commits.
STATES = ("clean", "modified", "staged", "staged-then-modified", "deleted", "untracked")


def _build(root: Path, states: dict[str, str]) -> None:
    tracked = {n: f"{n} v1\r\n" if n == "README" else f"{n} v1\n" for n, s in states.items() if s != "untracked"}
    write_files(root, tracked or {"keep": "x\n"})
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    for name, state in states.items():
        if state in ("modified", "staged", "staged-then-modified", "untracked"):
            write_files(root, {name: f"{name} v2\n"})
        if state in ("staged", "staged-then-modified"):
            git(root, "add", name)
        if state == "staged-then-modified":
            write_files(root, {name: f"{name} v3\n"})
        if state == "deleted":
            (root / name).unlink()



scenario = st.fixed_dictionaries({name: st.sampled_from(STATES) for name in NAMES}).flatmap(
    lambda states: st.tuples(
        st.just(states),
        st.lists(
            st.sampled_from([n for n, s in states.items() if s != "clean"] or [NAMES[0]]), min_size=1, unique=True
        ),
    )
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario)
def test_a_rejected_commit_leaves_everything_byte_identical(case: tuple[dict[str, str], list[str]]) -> None:
    states, chosen = case
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        _build(root, states)
        hook = vcs.git_path(root, "hooks/pre-commit")
        hook.parent.mkdir(parents=True, exist_ok=True)
        # A hook that also scribbles on the files it was given, as formatters do.
        scribble = 'do [ -f "$f" ] && echo junk >> "$f"; done'
        hook.write_text(f"#!/bin/sh\nfor f in {' '.join(chosen)}; {scribble}\nexit 1\n")
        hook.chmod(0o755)
        before = repo_state(root)
        contents = {chosen[0]: b"rewritten\n"} if states.get(chosen[0]) != "deleted" else {}
        try:
            vcs.commit_paths(root, chosen, "test: rejected", contents=contents)
        except Exception as exc:  # noqa: BLE001 - the property is about what is left behind
            assert "git commit failed" in str(exc) or "did not match" in str(exc) or "pathspec" in str(exc)
        else:
            raise AssertionError("the hook should have rejected the commit")
        assert repo_state(root) == before


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario)
def test_a_commit_holds_exactly_the_chosen_paths_and_leaves_the_rest(case: tuple[dict[str, str], list[str]]) -> None:
    states, chosen = case
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        _build(root, states)
        others = [p for p in NAMES if p not in chosen]
        others_before = {p: s for p, s in vcs.status(root).items() if p not in chosen}
        staged_before = git(root, "diff", "--cached", "--", *others) if others else ""
        changed = [p for p in chosen if states[p] != "clean"]
        if not changed:
            return  # nothing to commit is git's business, not this property's
        sha = vcs.commit_paths(root, chosen, "test: chosen")
        committed = set(git(root, "diff-tree", "--no-commit-id", "--name-only", "-r", sha).split())
        assert committed == set(changed)
        assert {p: s for p, s in vcs.status(root).items() if p not in chosen} == others_before
        assert (git(root, "diff", "--cached", "--", *others) if others else "") == staged_before
        for path in chosen:
            assert path not in vcs.status(root)

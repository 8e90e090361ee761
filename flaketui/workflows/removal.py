"""Which markers a fix removes: the tests a node id names, the markers they share with
tests left out (refused), and the files the removal edits. Pure: models only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

from flaketui.models import FlakyTest, Marker, MarkerScope, RemovedMarker, selects

_PARAMS = re.compile(r"\[.*\]$")


def select(target: str, tests: Iterable[FlakyTest]) -> list[FlakyTest]:
    """The tests a node id names as pytest reads it (``selects``), from the rootdir or the repository root."""
    target = target.strip()
    return [t for t in tests if selects(target, t.nodeid) or selects(target, t.key.repo_nodeid)]


def marker_key(test: FlakyTest, marker: Marker) -> tuple[str, ...]:
    """What makes two tests share one marker.

    A function decorator belongs to one function (and all of its parametrized cases) even
    when it is an alias used by many: removing it from one test leaves the others alone.
    A class or module marker is one expression that covers every test under it.
    """
    if marker.scope is MarkerScope.FUNCTION:
        return ("function", test.path, test.class_name or "", test.name)
    if marker.scope is MarkerScope.PARAM:
        return ("param", test.path, test.nodeid)
    return (str(marker.scope), marker.path, str(marker.line))


def _strip_params(nodeid: str) -> str:
    return _PARAMS.sub("", nodeid)


def covering_nodeid(tests: Sequence[FlakyTest]) -> str:
    """The narrowest node id (module, class or test) that covers all ``tests``."""
    parts = [_strip_params(t.nodeid).split("::") for t in tests]
    common: list[str] = []
    for column in zip(*parts):
        if len(set(column)) != 1:
            break
        common.append(column[0])
    return "::".join(common) or tests[0].nodeid.split("::")[0]


def shared_marker_refusal(selected: Sequence[FlakyTest], every_test: Sequence[FlakyTest]) -> str | None:
    """Why the markers of ``selected`` may not go, if one also covers tests outside it."""
    chosen = {t.key for t in selected}
    for test in selected:
        for marker in test.markers:
            key = marker_key(test, marker)
            covered = [t for t in every_test if any(marker_key(t, m) == key for m in t.markers)]
            others = [t for t in covered if t.key not in chosen]
            if not others:
                continue
            names = ", ".join(t.nodeid for t in others[:5])
            if len(others) > 5:
                names += f" and {len(others) - 5} more"
            where = f"{marker.path}:{marker.line}"
            return (
                f"The marker `{marker.source.strip()}` at {where} ({marker.scope} level) also covers "
                f"{len(others)} other test(s): {names}. Give `{covering_nodeid(covered)}` to remove it "
                f"for all {len(covered)} tests; each is verified first."
            )
    return None


def foreign_marker_refusal(selected: Sequence[FlakyTest]) -> str | None:
    """A class or module marker written in another file (a base class) cannot be removed here."""
    for test in selected:
        for marker in test.markers:
            if marker.scope in (MarkerScope.CLASS, MarkerScope.MODULE) and marker.path != test.path:
                return (
                    f"{test.nodeid} inherits its marker `{marker.source.strip()}` from {marker.path}:{marker.line}; "
                    "flaketui removes markers only from the test's own file. Remove it there by hand, "
                    "or give the node id of the tests in that file."
                )
    return None


def markers_by_file(selected: Sequence[FlakyTest]) -> dict[str, list[Marker]]:
    """The markers to remove, grouped by the file the removal edits (the tests' own files)."""
    files: dict[str, dict[tuple[str, ...], Marker]] = {}
    for test in selected:
        for marker in test.markers:
            # A function decorator is edited where the test is, even if it names an alias
            # defined elsewhere (that definition stays: other tests may use it).
            path = test.path if marker.scope in (MarkerScope.FUNCTION, MarkerScope.PARAM) else marker.path
            files.setdefault(path, {}).setdefault(marker_key(test, marker), marker)
    return {path: list(found.values()) for path, found in files.items()}


def removed_markers(selected: Sequence[FlakyTest]) -> list[RemovedMarker]:
    """One entry per removed marker: what undo needs to put each back once."""
    found: dict[tuple[str, ...], RemovedMarker] = {}
    for test in selected:
        for marker in test.markers:
            found.setdefault(marker_key(test, marker), RemovedMarker.of(test, marker))
    return list(found.values())


def removed_to_json(removed: Sequence[RemovedMarker]) -> str:
    """The removed markers of a fix commit, for undo to find again (stored in the record)."""
    return json.dumps([item.to_json() for item in removed])


def removed_from_json(text: str) -> list[RemovedMarker]:
    return [RemovedMarker.from_json(item) for item in json.loads(text)]

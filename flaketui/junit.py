"""Read JUnit XML reports (pytest's xunit1 and xunit2, rerun plugins' attempts) into attempts
of pytest node ids. Pure: bytes and a list of repository files in, values out.

pytest writes a test as ``classname="tests.test_api.TestLogin" name="test_ok[1]"`` (the node
id's path with ``/`` turned into ``.`` and ``.py`` dropped, then its classes), and xunit1 adds
``file="tests/test_api.py"``. The dots of a classname are ambiguous (a directory or a class?),
so without ``file`` the repository's own files decide where the module ends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from flaketui.errors import FlakeTUIError

if TYPE_CHECKING:
    from junitparser import xunit2

#: Interim results (Maven surefire's rerun dialect, written by some rerun plugins): each is a
#: failed attempt that came before the testcase's final result.
_INTERIM_TAGS = ("rerunFailure", "rerunError", "flakyFailure", "flakyError")
MESSAGE_LIMIT = 2000
_TEARDOWN = "failed on teardown"
_RERUN = "rerun: a rerun plugin ran it again after this attempt (it wrote no failure message)"


@dataclass(frozen=True)
class Attempt:
    """One execution of one test in one report: ``outcome`` is passed, failed or skipped."""

    classname: str
    name: str
    file: str | None
    outcome: str
    message: str = ""


@dataclass(frozen=True)
class Report:
    digest: str
    #: The first testsuite's ``timestamp`` ("" when the report has none).
    timestamp: str
    attempts: tuple[Attempt, ...]


def parse_report(data: bytes) -> Report:
    """The attempts of one JUnit XML document, in document order.

    Raises ``FlakeTUIError`` for XML that does not parse (truncated, not XML) or holds no
    testsuite: the caller reports the file and goes on with the others.
    """
    from junitparser import JUnitXmlError, xunit2

    try:
        root = xunit2.JUnitXml.fromstring(data)
    except SyntaxError as exc:  # xml.etree's ParseError and lxml's XMLSyntaxError both are
        raise FlakeTUIError(
            f"not well-formed XML ({exc})", "Is the file complete? A CI job cut short writes half a report."
        ) from exc
    except (JUnitXmlError, ValueError) as exc:
        raise FlakeTUIError(f"not a JUnit report ({exc})", "Pass the files pytest --junitxml writes.") from exc
    rows: list[list[Attempt]] = []
    timestamp = ""
    for suite in root:
        timestamp = timestamp or (suite._elem.get("timestamp") or "")
        # Nested testsuites (some CI tools merge reports that way) hold testcases too.
        for element in suite._elem.iter("testcase"):
            rows.append(_attempts_of(xunit2.TestCase.fromelem(element)))  # type: ignore[no-untyped-call]  # junitparser has no annotations here
    attempts = [attempt for row in _reruns_failed(rows) for attempt in row]
    return Report(digest=hashlib.sha256(data).hexdigest(), timestamp=timestamp, attempts=tuple(attempts))


def _reruns_failed(rows: list[list[Attempt]]) -> list[list[Attempt]]:
    """Several rows of one test in one report are its attempts, and a rerun plugin reruns a
    test because it failed: every row but the last is a failed attempt, though
    pytest-rerunfailures (16) and flaky (3.8) write it with no failure element at all."""
    rows = _teardowns_merged(rows)
    last = {(row[-1].classname, row[-1].name, row[-1].file): index for index, row in enumerate(rows)}
    fixed = []
    for index, row in enumerate(rows):
        final = row[-1]
        if final.outcome == "passed" and last[(final.classname, final.name, final.file)] != index:
            row = [*row[:-1], replace(final, outcome="failed", message=final.message or _RERUN)]
        fixed.append(row)
    return fixed


def _attempts_of(case: xunit2.TestCase) -> list[Attempt]:
    from junitparser import Error, Failure, Skipped

    elem = case._elem
    classname = elem.get("classname") or ""
    name = elem.get("name") or ""
    file = elem.get("file") or None
    found = [
        Attempt(classname, name, file, "failed", _message(child))
        for child in elem
        if child.tag in _INTERIM_TAGS
    ]
    results = case.result
    failure = next((r for r in results if isinstance(r, Failure | Error)), None)
    if failure is not None:
        found.append(Attempt(classname, name, file, "failed", _message(failure._elem)))
    elif any(isinstance(r, Skipped) for r in results):
        found.append(Attempt(classname, name, file, "skipped"))
    else:
        found.append(Attempt(classname, name, file, "passed"))
    return found


def _teardowns_merged(rows: list[list[Attempt]]) -> list[list[Attempt]]:
    """pytest writes a test that failed and then errored in teardown as two rows: one attempt."""
    merged: list[list[Attempt]] = []
    for row in rows:
        final = row[-1]
        before = merged[-1][-1] if merged else None
        if (len(row) == 1 and final.outcome == "failed" and final.message.startswith(_TEARDOWN) and before is not None
                and (before.classname, before.name, before.file, before.outcome)
                == (final.classname, final.name, final.file, "failed")):  # fmt: skip
            continue
        merged.append(row)
    return merged


def _message(elem: Any) -> str:  # an lxml or an ElementTree element, as junitparser found one
    message = (elem.get("message") or "").strip() or (elem.text or "").strip()
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 3] + "..."


# -- node ids --------------------------------------------------------------------------


@dataclass(frozen=True)
class TestId:
    """Where a JUnit row's test lives: ``matched`` is False when no file of the repository
    fits and the split into module and classes is a guess."""

    __test__ = False

    rootdir: str
    nodeid: str
    matched: bool = True


class NodeIdMapper:
    """Maps ``classname`` + ``name`` (+ ``file``) back to pytest's node id.

    ``files`` are the repository's paths (repo-relative, POSIX); ``rootdirs`` its pytest
    rootdirs (``"."`` included). A report's ids are relative to the rootdir pytest ran in.
    """

    def __init__(self, files: Iterable[str], rootdirs: Iterable[str]) -> None:
        self.rootdirs = sorted(set(rootdirs) | {"."}, key=lambda r: (r != ".", r))
        #: dotted module path (relative to a rootdir) -> [(rootdir, file relative to it)]
        self._modules: dict[str, list[tuple[str, str]]] = {}
        for path in files:
            if not path.endswith(".py"):
                continue
            for rootdir in self.rootdirs:
                if rootdir == ".":
                    relative = path
                elif path.startswith(rootdir + "/"):
                    relative = path[len(rootdir) + 1 :]
                else:
                    continue
                dotted = relative[: -len(".py")].replace("/", ".")
                self._modules.setdefault(dotted, []).append((rootdir, relative))
        self._cache: dict[tuple[str, str, str | None], TestId] = {}

    def map(self, attempt: Attempt) -> TestId:
        key = (attempt.classname, attempt.name, attempt.file)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._map(*key)
        return found

    def _map(self, classname: str, name: str, file: str | None) -> TestId:
        parts = [p for p in classname.split(".") if p] if classname else []
        if not parts and "[" not in name and "." in name:
            # A module that did not collect: pytest writes classname="" name="tests.test_x".
            places = self._modules.get(name)
            if places:
                return TestId(*self._best(places))
        if file:
            return self._with_file(parts, name, file.replace("\\", "/"))
        # The longest module path that is a file; a leading --junit-prefix is skipped if need be.
        for start in range(len(parts)):
            for end in range(len(parts), start, -1):
                places = self._modules.get(".".join(parts[start:end]))
                if places:
                    rootdir, relative = self._best(places)
                    return TestId(rootdir, _nodeid(relative, parts[end:], name))
        return self._guess(parts, name)

    def _with_file(self, parts: list[str], name: str, file: str) -> TestId:
        dotted = file[: -len(".py")].replace("/", ".") if file.endswith(".py") else file.replace("/", ".")
        module_parts = dotted.split(".")
        classes: list[str] = []
        for start in range(len(parts)):
            if parts[start : start + len(module_parts)] == module_parts:
                classes = parts[start + len(module_parts) :]
                break
        places = self._modules.get(dotted)
        if places:
            rootdir, relative = self._best(places)
            return TestId(rootdir, _nodeid(relative, classes, name))
        return TestId(".", _nodeid(file, classes, name), matched=False)

    @staticmethod
    def _best(places: list[tuple[str, str]]) -> tuple[str, str]:
        # The same dotted path under several rootdirs: the deepest rootdir, where pytest would run.
        return max(places, key=lambda place: (place[0] != ".", len(place[0])))

    @staticmethod
    def _guess(parts: list[str], name: str) -> TestId:
        """No file fits: the module ends before the first part that looks like a class."""
        split = next((i for i, p in enumerate(parts) if p[:1].isupper()), len(parts))
        module = "/".join(parts[:split]) + ".py" if split else "<unknown>.py"
        return TestId(".", _nodeid(module, parts[split:], name), matched=False)


def _nodeid(module: str, classes: list[str], name: str) -> str:
    return "::".join([module, *classes, name])

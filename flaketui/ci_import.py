"""``flaketui import``: CI history from JUnit XML reports, one report per CI run.

Folders are searched for ``*.xml``; each report is recorded once by its content (importing
it again, under any name, counts nothing twice). A file that is not a complete JUnit report
is named with the reason and skipped; the other files are imported all the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from flaketui.errors import FlakeTUIError
from flaketui.junit import NodeIdMapper, parse_report
from flaketui.models.history import ImportProblem, ImportSummary

if TYPE_CHECKING:
    from flaketui.store import Store


def report_files(paths: Sequence[str | Path]) -> tuple[list[Path], list[ImportProblem]]:
    """The report files the arguments name: files as given, folders searched for ``*.xml``."""
    found: list[Path] = []
    problems: list[ImportProblem] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*.xml") if p.is_file())
            if not inside:
                problems.append(ImportProblem(str(given), "a folder with no .xml file in it"))
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            problems.append(ImportProblem(str(given), "no such file or folder"))
    return list(dict.fromkeys(found)), problems


def import_reports(
    store: Store, paths: Sequence[str | Path], repo_files: Iterable[str], rootdirs: Iterable[str]
) -> ImportSummary:
    from flaketui.store_hunts import add_junit_report

    files, problems = report_files(paths)
    mapper = NodeIdMapper(repo_files, rootdirs)
    imported: list[str] = []
    duplicates: list[str] = []
    unmatched: dict[str, None] = {}
    testcases = 0
    for path in files:
        try:
            report = parse_report(path.read_bytes())
        except OSError as exc:
            problems.append(ImportProblem(str(path), f"cannot be read: {exc.strerror or exc}"))
            continue
        except FlakeTUIError as exc:
            problems.append(ImportProblem(str(path), exc.message))
            continue
        rows = []
        for attempt in report.attempts:
            test = mapper.map(attempt)
            if not test.matched:
                unmatched[test.nodeid] = None
            rows.append((test.rootdir, test.nodeid, attempt.outcome, attempt.message))
        # pytest < 5.1 wrote no timestamp: the file's own time orders it among the others.
        when = report.timestamp or _modified(path)
        if add_junit_report(store, report.digest, str(path), when, rows):
            imported.append(str(path))
            testcases += len(rows)
        else:
            duplicates.append(str(path))
    return ImportSummary(
        imported=tuple(imported),
        duplicates=tuple(duplicates),
        problems=tuple(problems),
        testcases=testcases,
        unmatched=tuple(unmatched),
    )


def _modified(path: Path) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="microseconds")

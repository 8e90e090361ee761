"""``flaketui scan --collect``: ask pytest itself which tests are flaky, and merge that in.

The static scan reads markers from the source; pytest also sees markers added by hooks and
plugins (``item.add_marker`` in a conftest) and the ``flaky`` package's decorator attributes.
The probe collects in each rootdir (running nothing) and reports every item that carries one.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from flaketui.models import Finding, FlakyTest, Marker, MarkerKind, MarkerScope, ScanResult
from flaketui.pyast import parse_module
from flaketui.verify.interpreter import Interpreter
from flaketui.verify.runner import ProbeEvent, ProbeRequest, installed_probe, run_probe

VIA = "pytest collection"
_RERUNFAILURES_KEYS = {"reruns", "reruns_delay", "only_rerun", "rerun_except", "condition"}
_RETRY_KEYS = {"retries", "delay", "only_on", "exclude", "cumulative_timing"}
_FLAKY_KEYS = {"max_runs", "min_passes", "rerun_filter"}


@dataclass(frozen=True)
class Collected:
    tests: tuple[FlakyTest, ...]
    #: (rootdir, what went wrong) per rootdir whose collection failed in part or whole.
    errors: tuple[tuple[str, str], ...] = ()


def collect_flaky(
    root: Path, rootdirs: Sequence[str], interpreter: Interpreter, pytest_args: Sequence[str] = ()
) -> Collected:
    tests: list[FlakyTest] = []
    errors: list[tuple[str, str]] = []
    nested = [r for r in rootdirs if r != "."]
    with installed_probe() as probe_dir:
        for rootdir in rootdirs:
            request = ProbeRequest(
                python=interpreter.path, cwd=root / rootdir, args=(), mode="collect", runs=1, pytest_args=tuple(pytest_args)
            )
            outcome = run_probe(request, probe_dir)
            for event in outcome.of("error"):
                errors.append((rootdir, str(event.get("message"))))
            if not outcome.of("start"):
                errors.append((rootdir, outcome.output.strip() or f"pytest exited with code {outcome.returncode}"))
            for event in outcome.of("item"):
                test = _flaky_test(root, rootdir, event)
                if test is None:
                    continue
                if rootdir == "." and any(test.path.startswith(n + "/") for n in nested):
                    continue  # that directory's own rootdir collects it, with its own node ids
                tests.append(test)
    return Collected(tuple(tests), tuple(errors))


def _flaky_test(root: Path, rootdir: str, event: ProbeEvent) -> FlakyTest | None:
    try:
        path = Path(event["path"]).resolve().relative_to(root.resolve()).as_posix()
    except (KeyError, ValueError):  # a test outside the repository (a plugin's own): not ours
        return None
    line = int(event.get("line") or 0)
    marker_line = line
    # pytest locates a test by its function object: a wrapper decorator that does not copy
    # ``__wrapped__`` puts that line in the wrapper's own file. Show the test's own file.
    written = _where_written(root / path, str(event["nodeid"]))
    if written is not None:
        line, marker_line = written
    markers = [_marker(m, path, marker_line) for m in event.get("markers") or ()]
    attributes = [(str(k), str(v)) for k, v in event.get("flaky_attributes") or ()]
    if attributes:
        args = tuple((k.removeprefix("_flaky_"), v) for k, v in attributes)
        source = "@flaky(" + ", ".join(f"{k}={v}" for k, v in args) + ")"
        markers.append(Marker(MarkerKind.FLAKY, MarkerScope.FUNCTION, path, marker_line, source, args=args, via=VIA))
    if not markers:
        return None
    return FlakyTest(
        nodeid=str(event["nodeid"]),
        rootdir=rootdir,
        path=path,
        line=line,
        name=str(event.get("name") or event["nodeid"].rsplit("::", 1)[-1]),
        markers=tuple(markers),
        class_name=event.get("cls"),
    )


def _where_written(path: Path, nodeid: str) -> tuple[int, int] | None:
    """The test's ``def`` line in its own file, and the line of the first decorator there that
    is not a plain ``pytest.mark`` (the wrapper that may add the marker), else the ``def``
    line again; None when the file does not define it (an inherited test)."""
    names = [part.partition("[")[0] for part in nodeid.split("::")[1:]]
    try:
        body: list[ast.stmt] = parse_module(path.read_bytes()).body
    except (OSError, SyntaxError, ValueError):
        return None
    found: ast.stmt | None = None
    for name in names:
        found = next(
            (s for s in body if isinstance(s, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == name), None
        )
        if found is None:
            return None
        body = found.body
    if not isinstance(found, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    wrappers = [d for d in found.decorator_list if not ast.unparse(d).startswith(("pytest.mark.", "mark."))]
    return found.lineno, wrappers[0].lineno if wrappers else found.lineno


def _marker(mark: ProbeEvent, path: str, line: int) -> Marker:
    kwargs = tuple((str(k), str(v)) for k, v in mark.get("kwargs") or ())
    positional = tuple(str(a) for a in mark.get("args") or ())
    keys = {k for k, _ in kwargs}
    if keys & _RERUNFAILURES_KEYS:
        kind = MarkerKind.RERUNFAILURES
    elif keys & _RETRY_KEYS:
        kind = MarkerKind.RETRY
    elif keys & _FLAKY_KEYS:
        kind = MarkerKind.FLAKY
    else:
        kind = MarkerKind.UNKNOWN
    inside = ", ".join([*positional, *(f"{k}={v}" for k, v in kwargs)])
    source = f"pytest.mark.{mark.get('name', 'flaky')}" + (f"({inside})" if inside else "")
    return Marker(kind, MarkerScope.FUNCTION, path, line, source, args=kwargs, positional=positional, via=VIA)


def merge_collected(result: ScanResult, collected: Collected) -> ScanResult:
    """Add the tests only pytest sees, each with a finding saying where it came from."""
    known = {t.key for t in result.tests}
    added: list[FlakyTest] = []
    findings: list[Finding] = []
    for test in collected.tests:
        if test.key in known:
            continue
        known.add(test.key)
        added.append(test)
        findings.append(
            Finding(
                kind="collected-marker",
                path=test.path,
                line=test.line,
                message=(
                    f"pytest collects {test.nodeid} as flaky ({test.marker.source}), but the marker is not "
                    "in its source: a conftest hook, a plugin or a decorator adds it."
                ),
                source=test.marker.source,
            )
        )
    for rootdir, message in collected.errors:
        first = message.strip().splitlines()[-1] if message.strip() else message
        findings.append(
            Finding(
                kind="collect-error",
                path=rootdir,
                line=0,
                message=f"pytest could not collect everything in {rootdir}: {first}",
                source=message,
            )
        )
    if not added and not findings:
        return result
    return replace(result, tests=result.tests + tuple(added), findings=result.findings + tuple(findings))

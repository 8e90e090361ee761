"""The diagnosis of tests: read each file once per run, assemble each test's scope,
drop mitigated evidence, score, cache."""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from flaketui.diagnose.cache import DiagnosisCache
from flaketui.diagnose.score import CATEGORIES, rank
from flaketui.models import Category, Diagnosis, Evidence, FlakyTest, Suggestion

if TYPE_CHECKING:
    from flaketui.diagnose.elsewhere import Polluters, WritesIndex
    from flaketui.diagnose.facts import FunctionFacts, Hit, MitigationSite
    from flaketui.diagnose.module import ModuleFacts
    from flaketui.diagnose.project import Project
    from flaketui.diagnose.scope import Piece, Scope
    from flaketui.models import LineChange, Verification


BROAD_ISOLATION_FACTOR = 0.5


@cache
def engine_fingerprint() -> str:
    """A digest of this package's sources: any change to a rule or to the engine invalidates
    cached diagnoses, and computing it does not import libcst (a cached run never does)."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


class Diagnoser:
    """Diagnoses tests of one repository; parses each file at most once in its lifetime."""

    def __init__(self, root: Path, *, cache_path: Path | None = None, version: str = "",
                 cache: DiagnosisCache | None = None) -> None:
        self.root = root
        #: ``cache`` shares one loaded cache between diagnosers (the app builds one per batch).
        self.cache = cache if cache is not None else DiagnosisCache(cache_path)
        self.version = version
        self._bytes: dict[str, bytes | None] = {}
        self._modules: dict[str, ModuleFacts | None] = {}
        self._digests: dict[str, str] = {}
        self._projects: dict[str, Project] = {}
        self._polluters: dict[str, Polluters] = {}
        self._writes: dict[str, WritesIndex] = {}
        self._comments: dict[str, list[tuple[int, str]]] = {}
        #: The files the diagnosis in progress has read or looked for.
        self._touched: set[str] | None = None

    # -- files ------------------------------------------------------------------------
    def _read(self, rel: str) -> bytes | None:
        if self._touched is not None:
            self._touched.add(rel)
        if rel not in self._bytes:
            try:
                self._bytes[rel] = (self.root / rel).read_bytes()
            except OSError:
                self._bytes[rel] = None
        return self._bytes[rel]

    def module(self, rel: str) -> ModuleFacts | None:
        from flaketui.diagnose.module import read_module

        if self._touched is not None:
            self._touched.add(rel)
        if rel not in self._modules:
            source = self._read(rel)
            self._modules[rel] = None if source is None else read_module(rel, source)
        return self._modules[rel]

    def conftest_paths(self, test: FlakyTest) -> list[str]:
        """conftest.py files from the test's directory up to its rootdir (or the repository root), nearest first."""
        return self.conftests_of(test.path, test.rootdir)

    def conftests_of(self, path: str, rootdir_name: str) -> list[str]:
        rootdir = PurePosixPath(rootdir_name) if rootdir_name not in {"", "."} else PurePosixPath()
        directory = PurePosixPath(path).parent
        found: list[str] = []
        while True:
            candidate = str(directory / "conftest.py") if str(directory) != "." else "conftest.py"
            if self._read(candidate) is not None:
                found.append(candidate)
            if directory == rootdir or str(directory) in {".", ""}:
                break
            directory = directory.parent
        return found

    def cache_key(self, test: FlakyTest) -> str:
        digest = hashlib.sha256()
        digest.update(f"{self.version}\0{engine_fingerprint()}\0{test.nodeid}\0{test.rootdir}\0{test.path}\0"
                      f"{test.name}\0{test.class_name}\0{test.line}\0{test.markers!r}\0".encode())
        for rel in [test.path, *self.conftest_paths(test)]:
            digest.update(rel.encode() + b"\0" + hashlib.sha256(self._read(rel) or b"").digest())
        return digest.hexdigest()

    def exists(self, rel: str) -> bool:
        """A file of the repository (the project's own code is read; nothing outside the root)."""
        if self._touched is not None:
            self._touched.add(rel)
        if rel not in self._bytes:
            return (self.root / rel).is_file()
        return self._bytes[rel] is not None

    # -- diagnosis ----------------------------------------------------------------------
    def diagnose(self, test: FlakyTest, verifications: Sequence[Verification] | None = None,
                 history: Callable[[FlakyTest], Sequence[LineChange]] | None = None, *,
                 run_notes: bool = True) -> Diagnosis:
        """The diagnosis of ``test``; with ``verifications`` (its runs, latest first), what those
        runs showed weighs in too, apart from the code's evidence (``source="runs"``). When the
        code shows no cause, ``history`` gives the commits that changed the test after it was
        written (newest first): a fix that landed while the marker stayed says what was wrong.
        It is asked only then: ``git log -L`` can take a second per test on a long history.
        ``run_notes=False`` leaves out the note that no run failed (rows, commit messages)."""
        code = self._code_diagnosis(test)
        extra: list[Evidence] = []
        if history is not None and code.suggestion.category is Category.UNKNOWN:
            from flaketui.diagnose.history import history_evidence

            extra += history_evidence(test, history(test))
        if verifications is not None:
            from flaketui.diagnose.runs import run_evidence

            extra += run_evidence(verifications, test.rootdir, notes=run_notes)
        return combined(code, extra)

    def _code_diagnosis(self, test: FlakyTest) -> Diagnosis:
        key = self.cache_key(test)
        cached = self.cache.get(key, self._unchanged)
        if cached is not None:
            return cached
        self._touched = set()
        try:
            diagnosis = self.diagnose_uncached(test)
        except (RecursionError, MemoryError):
            # A pathological file (thousands of nested expressions) must not stop the
            # diagnosis of every other test; it gets an honest, uncached "unknown".
            return _unknown(test.nodeid)
        finally:
            touched, self._touched = self._touched, None
        # Every file the diagnosis read (the code under test too) keys the entry.
        self.cache.put(key, diagnosis, {rel: self._digest(rel) for rel in sorted(touched)})
        return diagnosis

    def _digest(self, rel: str) -> str:
        if rel not in self._digests:
            if rel.startswith("<writers>"):
                from flaketui.diagnose.elsewhere import parse_dependency

                rootdir, words = parse_dependency(rel)
                self._digests[rel] = self.writes_index(rootdir).digest(words)
            else:
                self._digests[rel] = hashlib.sha256(self._read(rel) or b"").hexdigest()[:20]
        return self._digests[rel]

    def writes_index(self, rootdir: str) -> WritesIndex:
        """Which test modules of ``rootdir`` write which names: read once per diagnoser."""
        from flaketui.diagnose.elsewhere import WritesIndex

        if rootdir not in self._writes:
            self._writes[rootdir] = WritesIndex(self.root, rootdir)
        return self._writes[rootdir]

    def _elsewhere(self, rootdir: str) -> Polluters:
        from flaketui.diagnose.elsewhere import Polluters, Sources

        if rootdir not in self._polluters:
            # Through a proxy, as the projects do: no cycle keeps a dropped diagnoser's modules alive.
            me: Diagnoser = weakref.proxy(self)

            def conftests(path: str, rootdir: str) -> list[ModuleFacts]:
                found = (me.module(p) for p in me.conftests_of(path, rootdir))
                return [c for c in found if c is not None and c.error is None]

            sources = Sources(lambda rel: me._read(rel), lambda rel: me.module(rel), self._projects[rootdir])
            self._polluters[rootdir] = Polluters(lambda name: me.writes_index(name), sources, conftests)
        return self._polluters[rootdir]

    def _unchanged(self, deps: dict[str, str]) -> bool:
        return all(self._digest(rel) == digest for rel, digest in deps.items())

    def diagnose_many(self, tests: Iterable[FlakyTest], *, on_result: Callable[[Diagnosis], None] | None = None,
                      should_stop: Callable[[], bool] | None = None) -> list[Diagnosis]:
        results: list[Diagnosis] = []
        try:
            for test in tests:
                if should_stop is not None and should_stop():
                    break
                diagnosis = self.diagnose(test)
                results.append(diagnosis)
                if on_result is not None:
                    on_result(diagnosis)
        finally:
            self.cache.save()
        return results

    def diagnose_uncached(self, test: FlakyTest) -> Diagnosis:
        from flaketui.diagnose.calibration import calibrate
        from flaketui.diagnose.callees import callee_evidence
        from flaketui.diagnose.elsewhere import dependency, polluters_elsewhere
        from flaketui.diagnose.notes import comments, notes_of
        from flaketui.diagnose.project import Project, follow
        from flaketui.diagnose.scope import assemble, find_test, inherited_method

        module = self.module(test.path)
        if module is None or module.error is not None:
            return _unknown(test.nodeid)
        facts = find_test(module, test.name, test.class_name, test.line)
        collecting = module
        if facts is None and test.class_name and (home := self.module(_collected_from(test))) is not None \
                and home.error is None and home is not module:
            # A method a class of the test module inherits from a base elsewhere: its code is the
            # base's, its fixtures are the ones pytest finds from the test module.
            facts = inherited_method(module, test.name, test.line)
            collecting = home
        if facts is None:
            return _unknown(test.nodeid)
        conftests = [c for c in (self.module(p) for p in self.conftest_paths(test)) if c is not None and c.error is None]
        scope = assemble(facts, test.class_name, collecting, conftests)
        if test.rootdir not in self._projects:
            self._projects[test.rootdir] = Project(self, test.rootdir)
        callees = follow(self._projects[test.rootdir], _starts(scope))
        # State a test of another module leaves changed: the entry then depends on who writes it.
        words = polluters_elsewhere(scope, callees, test.rootdir, self._elsewhere(test.rootdir))
        if words and self._touched is not None:
            self._touched.add(dependency(test.rootdir, words))
        evidence = evidence_of(scope) + callee_evidence(scope, callees)
        if test.path not in self._comments:
            self._comments[test.path] = comments(self._read(test.path) or b"")
        notes = notes_of(test, self._comments[test.path], facts.first_line or facts.line, facts.line,
                         facts.end_line, facts.docstring)
        if facts.expects_timeout:
            # "times out" in the name or docstring of a test that expects a timeout says what it
            # checks, not why it fails.
            notes = [n for n in notes if not (n.category is Category.ASYNC and n.rule in {"note.name", "note.docstring"})]
        evidence = sleeps_as_work(evidence + notes)
        evidence.sort(key=lambda e: (-e.weight, e.path, e.line))
        suggestion, ranking = rank(evidence)
        return Diagnosis(test.nodeid, calibrate(suggestion, evidence), tuple(evidence), ranking)


#: Asserts on a measured duration, and the sleeps that a test measuring durations makes as its work.
_DURATION_RULES = frozenset({"time.elapsed-assert", "time.timing-tolerance"})
_SLEEP_RULES = frozenset({"async.fixed-sleep", "async.blocking-sleep"})


def sleeps_as_work(evidence: list[Evidence]) -> list[Evidence]:
    """In a file whose test asserts on a measured duration (``approx(0.6, rel=0.1)``), a sleep
    stands in for the work measured (a profiler's test): it waits for nothing, and the duration
    assert is the cause. Reported as "sleeps hoping the other task finished", it would send the
    fix to the wrong line."""
    measured = {e.path for e in evidence if e.rule in _DURATION_RULES}
    return [e for e in evidence if not (e.rule in _SLEEP_RULES and e.path in measured)]


def _collected_from(test: FlakyTest) -> str:
    """The module pytest collected the test from (its node id's file), relative to the repository."""
    path = test.nodeid.split("::", 1)[0]
    return path if test.rootdir in {"", "."} else f"{test.rootdir}/{path}"


def _starts(scope: Scope) -> list[tuple[FunctionFacts, ModuleFacts, dict[str, str]]]:
    """Where calls into the project are followed from: the test, its fixtures, setup and helpers
    (autouse fixtures run for every test alike)."""
    return [(p.facts, p.module, scope.param_values) for p in scope.pieces if p.role != "autouse"]


def combined(code: Diagnosis, runs: Sequence[Evidence]) -> Diagnosis:
    """The code's diagnosis with what the runs (or the history) showed, ranked again over both."""
    from flaketui.diagnose.calibration import calibrate

    if not runs:
        return code
    evidence = sorted([*code.evidence, *runs], key=lambda e: (-e.weight, e.source == "code", e.path, e.line))
    suggestion, ranking = rank(evidence)
    return Diagnosis(code.nodeid, calibrate(suggestion, evidence), tuple(evidence), ranking)


def _unknown(nodeid: str) -> Diagnosis:
    return Diagnosis(nodeid, Suggestion(Category.UNKNOWN, 0.0), (), tuple(Suggestion(c, 0.0) for c in CATEGORIES))


def evidence_of(scope: Scope) -> list[Evidence]:
    """Every hit of every piece that no mitigation in the scope cancels, strongest first."""
    found: list[Evidence] = []
    for piece in scope.pieces:
        for hit in piece.facts.hits:
            if not _mitigated(hit, piece, scope) and not _isolation(hit, piece):
                found.append(_evidence(piece, hit, hit.qualified))
    for piece, hit, detail in scope.scope_hits:
        if not _mitigated(hit, piece, scope) and not _isolation(hit, piece):
            found.append(_evidence(piece, hit, detail))
    seen: set[tuple[str, str, int]] = set()
    unique = []
    for item in found:
        if (item.rule, item.path, item.line) not in seen:
            seen.add((item.rule, item.path, item.line))
            unique.append(item)
    unique.sort(key=lambda e: (-e.weight, e.path, e.line))
    return unique


def _isolation(hit: Hit, piece: Piece) -> bool:
    """An autouse fixture sets process state the same way before every test: that is how a
    suite isolates its tests (resetting a registry, pinning an env var), not how one leaks."""
    from flaketui.diagnose.cures import RESTORABLE_RULES

    return piece.role == "autouse" and (hit.rule.id in RESTORABLE_RULES or hit.rule.category is Category.ORDER)


def _evidence(piece: Piece, hit: Hit, detail: str | None) -> Evidence:
    rule = hit.rule
    message = f"{_display(detail)}: {rule.message}" if detail else rule.message
    weight = rule.weight * piece.factor
    if piece.broad and rule.category is Category.FIXTURE:
        # Configuring the process (env vars, cwd, logging) is what session fixtures are for.
        weight *= BROAD_ISOLATION_FACTOR
    fix_path, fix_line = hit.fix if hit.fix is not None else ("", 0)
    return Evidence(rule.category, rule.id, piece.facts.path, hit.line, hit.end_line, message, rule.fix,
                    round(weight, 3), piece.where, fix_path, fix_line)


def _display(detail: str) -> str:
    """``requests.Session().get`` reads better as ``requests.Session().get()``."""
    return detail + "()" if detail.replace(".", "").replace("()", "").replace("_", "").isalnum() and "," not in detail else detail


def _active_sites(hit: Hit, piece: Piece, scope: Scope) -> Iterable[MitigationSite]:
    yield from scope.blanket
    for other in scope.pieces:
        if other is piece:
            for site in other.facts.mitigations:
                if site.blanket or site.start <= hit.line <= site.end:
                    yield site
        else:
            # Fixtures run before the test and helpers are called by it: their mitigations hold.
            yield from other.facts.mitigations


def _mitigated(hit: Hit, piece: Piece, scope: Scope) -> bool:
    for site in _active_sites(hit, piece, scope):
        if site.kind is not None and site.kind in hit.rule.mitigated_by:
            return True
        if site.target and hit.qualified and _patched(site.target, hit.qualified):
            return True
    return False


def _patched(target: str, qualified: str) -> bool:
    """``mock.patch("app.api.requests.get")`` covers ``requests.get``; ``patch("time.sleep")`` covers ``time.sleep``."""
    plain = qualified.replace("()", "")
    return (
        target == plain or plain.startswith(target + ".") or target.endswith("." + plain)
        or (plain.count(".") >= 1 and target.endswith("." + ".".join(plain.split(".")[-2:])))
    )

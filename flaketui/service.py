"""The one API both faces call: the CLI and the Textual app.

Synchronous and thread-safe by construction: every method opens what it needs (a GitPython
``Repo``, a SQLite connection) for the duration of the call, so the app may call it from
worker threads. Long calls take ``on_progress``-style callbacks and a ``should_stop``
predicate instead of knowing about workers. This module never imports textual.

Each engine owns one section below; keep heavy imports (libcst, git) inside the methods
so that ``flaketui --help`` and a cached scan stay fast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from flaketui import rootdirs
from flaketui.errors import FlakeTUIError
from flaketui.models import Category, FlakyTest, Marker, ScanResult

if TYPE_CHECKING:
    from datetime import date

    from flaketui import gitjobs
    from flaketui.models import (
        CommitRecord,
        DecidedBy,
        Diagnosis,
        Keep,
        RunResult,
        Triage,
        Verification,
        VerifyMode,
    )
    from flaketui.models.history import Candidate, HuntReport, ImportSummary, TestHistory
    from flaketui.report import GateItem
    from flaketui.store import Store

ProgressCallback = Callable[[int, int], None]
StopPredicate = Callable[[], bool]


@dataclass(frozen=True)
class RepoInfo:
    """What the header shows. ``git_problem`` says why commits are unavailable, if they are."""

    root: str
    name: str
    is_git: bool
    branch: str | None = None
    head: str | None = None
    git_problem: str | None = None
    #: Fingerprint of the uncommitted changes (``vcs.tree_state``): equal to a
    #: verification's ``tree_fingerprint`` when it ran on this very tree.
    fingerprint: str | None = None


@dataclass(frozen=True)
class ChangedFile:
    path: str
    #: In the commit by default (the test file with the user's fix and the removal).
    required: bool
    status: str = "M"


@dataclass(frozen=True)
class FixPlan:
    """What ``commit_fix`` would do: the tests the marker covers, the diff, the message.

    ``refusal`` is set (and nothing may be committed) when the marker cannot be removed
    or the repository is not in a state to commit; it says why and what to do.
    """

    target: str
    tests: tuple[FlakyTest, ...]
    diff: str
    message: str
    files: tuple[ChangedFile, ...] = ()
    refusal: str | None = None
    #: The new content per repo-relative path, applied by ``commit_fix``.
    new_contents: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    #: The other changed files the plan (and its message) includes.
    include: tuple[str, ...] = ()
    unverified: bool = False
    #: ``--category``: overrides the team's decision and the diagnosis in the message.
    category: Category | None = None
    #: sha256 of each edited file as the removal saw it: a later edit voids the plan.
    sources: tuple[tuple[str, str], ...] = ()
    #: One (test, marker) per marker removed: what undo needs to put them back.
    restore: tuple[tuple[FlakyTest, Marker], ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class GateResult:
    """``flaketui check``: the markers that fail the gate, and those kept on purpose."""

    ok: bool
    failing: tuple[str, ...]
    kept: tuple[str, ...]
    expired: tuple[str, ...] = ()
    budget: int = 0
    #: Every line with its path, line, node id, marker and keep: what ``--json`` prints.
    items: tuple[GateItem, ...] = ()


class Service:
    """flaketui's operations on one repository (or plain directory) rooted at ``root``."""

    def __init__(
        self,
        root: str | Path = ".",
        *,
        python: str | None = None,
        early: gitjobs.EarlyScan | None = None,
        pytest_args: str | Sequence[str] | None = None,
    ) -> None:
        from flaketui import gitjobs

        self.root = gitjobs.find_root(Path(root))
        #: ``--python``: the interpreter that runs the target's tests, if given.
        self.python = python
        #: ``--pytest-args``, if given; :attr:`pytest_args` falls back on the setting.
        self._given_pytest_args = pytest_args
        #: git's answers a launcher started for this root before the imports (see ``gitjobs.EarlyScan``).
        self._early = early if early is not None and early.root == self.root else None
        if early is not None and self._early is None:
            early.close()

    # -- repository ------------------------------------------------------------------
    def repo_info(self) -> RepoInfo:
        """Name, branch, HEAD, and whether (and why not) commits are possible."""
        from flaketui import vcs

        if not vcs.is_work_tree(self.root):
            refusal = vcs.commit_refusal(self.root)
            problem = refusal.message if refusal else f"{self.root} is not inside a git work tree."
            return RepoInfo(root=str(self.root), name=self.root.name, is_git=False, git_problem=problem)
        refusal = vcs.commit_refusal(self.root)
        state = vcs.tree_state(self.root)
        return RepoInfo(
            root=str(self.root),
            name=self.root.name,
            is_git=True,
            branch=vcs.branch(self.root),
            head=state.head,
            git_problem=f"{refusal.message} {refusal.hint}".strip() if refusal else None,
            fingerprint=state.fingerprint,
        )

    def state_dir(self) -> Path:
        """Where private state lives: ``<git common dir>/flaketui`` (shared by worktrees, never
        in the work tree), or ``.flaketui/`` outside git. Created on first use."""
        from flaketui import vcs

        common = vcs.common_git_dir(self.root)
        target = common / "flaketui" if common is not None else self.root / ".flaketui"
        target.mkdir(parents=True, exist_ok=True)
        return target

    def read_text(self, path: str) -> str:
        """A repo-relative file as text, for the source view (replacement chars for bad bytes)."""
        return (self.root / path).read_bytes().decode("utf-8", errors="replace")

    def _repo_bytes(self, path: str) -> bytes | None:
        """A repo-relative file's bytes, or None when there is no such file (the codemod's reader)."""
        target = self.root / path
        return target.read_bytes() if target.is_file() else None

    # -- discovery (discover.py) -----------------------------------------------------
    def scan(
        self, *, use_cache: bool = True, collect: bool = False, on_progress: ProgressCallback | None = None
    ) -> ScanResult:
        """Every flaky-marked test, the repository findings and the skipped files.

        A repeated scan of an unchanged tree is served from a stat-based cache in
        ``state_dir()`` without importing the parsers. ``collect`` (``scan --collect``) asks
        pytest itself through the verification runner; see ``_merge_collected``.
        """
        if not self._is_git():
            files = self.list_files()
            return self._scan(files, None, None, use_cache=use_cache, collect=collect, on_progress=on_progress)
        from flaketui import gitjobs
        from flaketui.discover.files import READ_PATTERNS

        # git lists, and (when nothing cached can answer) greps, while Python imports.
        early, self._early = self._early, None
        listing = early.listing if early is not None else gitjobs.start_listing(self.root)
        search = early.search if early is not None else None
        if use_cache and search is not None:
            search.close()  # a cached answer may need no file read at all
            search = None
        elif not use_cache and search is None:
            search = gitjobs.start_search(self.root, READ_PATTERNS)
        if search is not None:
            import flaketui.discover.engine  # noqa: F401 (loads the parsers while git works)
        try:
            found = listing.result()
            if search is not None:
                search.vouch(found.unsettled)
            return self._scan(
                found.files, (found.state, found.unsettled), search, use_cache=use_cache, collect=collect, on_progress=on_progress
            )
        finally:
            listing.close()
            if search is not None:
                search.close()

    def _scan(
        self,
        files: list[str],
        vouched: tuple[bytes, tuple[str, ...]] | None,
        search: gitjobs.GitSearch | None,
        *,
        use_cache: bool,
        collect: bool,
        on_progress: ProgressCallback | None,
    ) -> ScanResult:
        from flaketui.discover import cache as scan_cache

        try:
            state: Path | None = self.state_dir()
        except OSError:  # a read-only repository is scanned all the same, only never cached
            state = None
        taken = scan_cache.fingerprint(self.root, files, vouched) if state is not None else None
        result = scan_cache.load(state, self.root, taken) if use_cache and state is not None and taken else None
        if result is None:
            racy = scan_cache.racy(self.root, taken) if taken is not None else {}
            if search is None and vouched is not None:
                from flaketui import gitjobs
                from flaketui.discover.files import READ_PATTERNS

                search = gitjobs.start_search(self.root, READ_PATTERNS)
                search.vouch(vouched[1])
            from flaketui.discover import scan_repository

            try:
                result = scan_repository(self.root, files, on_progress=on_progress, search=search)
            finally:
                if search is not None:
                    search.close()
            if state is not None and taken is not None:
                result = replace(result, fingerprint=scan_cache.store(state, taken, racy, result))
        if collect:
            result = self._merge_collected(result)
        return result

    def _is_git(self) -> bool:
        return (self.root / ".git").exists()

    def list_files(self) -> list[str]:
        """Tracked plus untracked-not-ignored files in git, a plain walk outside it (repo-relative)."""
        if self._is_git():
            from flaketui import vcs

            return vcs.list_files(self.root)
        from flaketui.discover.files import walk_files

        return walk_files(self.root)

    def _merge_collected(self, result: ScanResult) -> ScanResult:
        """``scan --collect``: what pytest's own collection adds (owned by the verification engine).

        Collects in every rootdir the repository has (the root too when tests live there), with
        the target's interpreter, and adds the tests only pytest sees as flaky, with findings.
        """
        from flaketui.discover.config import find_configs
        from flaketui.verify.collect import collect_flaky, merge_collected

        def read(path: str) -> bytes | None:
            try:
                return (self.root / path).read_bytes()
            except OSError:
                return None

        configs = find_configs(self.list_files(), read)
        rootdirs = sorted(r for r in configs if r != ".")
        # Collecting from a root without a config would also walk every nested project.
        if configs["."].inifile or not rootdirs or any(t.rootdir == "." for t in result.tests):
            rootdirs.insert(0, ".")
        return merge_collected(result, collect_flaky(self.root, rootdirs, self._interpreter(), self.pytest_args))

    # -- diagnosis (diagnose/) -------------------------------------------------------
    def diagnose(self, test: FlakyTest) -> Diagnosis:
        """Evidence and a suggested category for one test (cached by content hash)."""
        return self.diagnose_many([test])[0]

    def diagnose_many(
        self,
        tests: Sequence[FlakyTest],
        *,
        on_result: Callable[[Diagnosis], None] | None = None,
        should_stop: StopPredicate | None = None,
    ) -> list[Diagnosis]:
        """Diagnose in order, reporting each as it is ready (the app fills rows as they come).

        Each file is parsed once per call; results are cached in ``state_dir()`` by the
        content of every file a test's scope reaches. A stop keeps what was done so far.
        """
        from flaketui import __version__
        from flaketui.diagnose import Diagnoser

        try:
            cache_path: Path | None = self.state_dir() / "diagnosis-cache.json"
        except OSError:
            cache_path = None  # no place for state (a file in its way, read-only): diagnose uncached
        diagnoser = Diagnoser(self.root, cache_path=cache_path, version=__version__)
        return diagnoser.diagnose_many(tests, on_result=on_result, should_stop=should_stop)

    # -- verification (verify/) ------------------------------------------------------
    def verify(
        self,
        tests: Sequence[FlakyTest | str],
        *,
        runs: int = 10,
        mode: VerifyMode | str = "forked",
        timeout: float | None = None,
        fail_fast: bool = False,
        on_run: Callable[[RunResult], None] | None = None,
        should_stop: StopPredicate | None = None,
    ) -> list[Verification]:
        """Run each test ``runs`` times with rerun plugins off; record and return the verdicts.

        A ``str`` is a node id relative to the repository root; it runs from the nearest
        directory with a pytest config above its file (pytest's rootdir rule). ``should_stop``
        is polled often; when it turns true the process group is killed at once. Forked tests
        whose diagnosis points at set/hash order run fresh-process instead (``note`` says so).
        Every verification, cancelled ones too, is recorded and pinned to ``vcs.tree_state``.
        """
        from flaketui import vcs
        from flaketui.models import VerifyMode
        from flaketui.verify.engine import VerifyOptions, cli_command, verify_targets

        if runs < 1:
            raise FlakeTUIError(f"--runs must be at least 1, not {runs}.", "Pass --runs 10 (the default) or more.")
        if timeout is not None and timeout <= 0:
            raise FlakeTUIError(f"--timeout must be positive, not {timeout:g}.", "Pass seconds per run, e.g. --timeout 30.")
        targets = [self._verify_target(t) for t in tests]
        interpreter = self._interpreter()
        options = VerifyOptions(
            runs=runs, mode=VerifyMode(mode), timeout=timeout, fail_fast=fail_fast, pytest_args=self.pytest_args
        )
        # Taken before the runs: an edit made while they run must not pass as verified.
        state = vcs.tree_state(self.root) if vcs.is_work_tree(self.root) else None
        hash_order = self._hash_order_reasons(tests, targets) if options.mode is VerifyMode.FORKED else {}
        verifications = verify_targets(
            self.root,
            targets,
            interpreter,
            options,
            on_run=on_run,
            should_stop=should_stop,
            command_for=lambda t, o: cli_command(self.root, t, o, self.python),
            fresh_reasons=hash_order,
        )
        stamped = [
            replace(v, head=state.head, tree_fingerprint=state.fingerprint, dirty_paths=state.dirty_paths)
            if state is not None
            else v
            for v in verifications
        ]
        for verification in stamped:
            self._record_verification(verification)
        return stamped

    def _hash_order_reasons(self, tests: Sequence[FlakyTest | str], targets: Sequence) -> dict[tuple[str, str], str]:
        """Tests whose diagnosis points at set or hash order: forked children all share one
        string hash seed, so those run fresh-process, each run with its own PYTHONHASHSEED."""
        from flaketui.diagnose import hash_seed_rules

        keyed = {(t.rootdir, t.nodeid): t for t in tests if isinstance(t, FlakyTest)}
        wanted = [(t.rootdir, t.nodeid) for t in targets]
        try:
            if any(key not in keyed for key in wanted):
                keyed.update({t.key: t for t in self.scan().tests if t.key in wanted and t.key not in keyed})
            found = [keyed[key] for key in wanted if key in keyed]
            diagnoses = self.diagnose_many(found) if found else []
        except Exception:  # noqa: BLE001 - a diagnosis problem must never stop a verification
            return {}
        reasons = {}
        seeded = hash_seed_rules()
        for test, diagnosis in zip(found, diagnoses, strict=True):
            rules = sorted({e.rule for e in diagnosis.evidence if e.rule in seeded})
            if rules:
                reasons[test.key] = ", ".join(rules)
        return reasons

    def _verify_target(self, test: FlakyTest | str):  # -> verify.targets.Target
        from flaketui.verify.targets import Target, target_for

        if isinstance(test, FlakyTest):
            return Target(test.rootdir, test.nodeid)
        return target_for(self.root, test, cwd=Path.cwd())

    def _interpreter(self):  # -> verify.interpreter.Interpreter
        from flaketui.verify.interpreter import find_interpreter

        return find_interpreter(self.root, self.python)

    @property
    def pytest_args(self) -> tuple[str, ...]:
        """The project's own pytest options, which every pytest flaketui starts must get
        (verify, collect, hunts, fix proofs): ``--pytest-args``, else ``[tool.flaketui] pytest-args``."""
        from flaketui.verify.interpreter import pytest_args

        return pytest_args(self.root, self._given_pytest_args)

    def _record_verification(self, verification: Verification) -> None:
        """Store a finished verification in the private history (store.py). ``verify`` calls
        this for every verification it completes, cancelled ones included."""
        self._store().add_verification(verification)

    def python_description(self) -> str:
        """The target interpreter that verification uses and where it was found."""
        return self._interpreter().description

    def repro_command(self, test: FlakyTest) -> str:
        """A shell command that reproduces the test's runs outside flaketui."""
        from flaketui.verify.engine import VerifyOptions, cli_command
        from flaketui.verify.targets import Target

        options = VerifyOptions(pytest_args=self.pytest_args)
        return cli_command(self.root, Target(test.rootdir, test.nodeid), options, self.python)

    # -- fix and commit (codemod.py, vcs.py) -----------------------------------------
    def plan_fix(
        self,
        target: FlakyTest | str,
        *,
        include: Sequence[str] = (),
        unverified: bool = False,
        category: Category | None = None,
    ) -> FixPlan:
        """The marker removal for ``target`` (a test, or a class/module node id), its diff and message."""
        from flaketui import codemod, fixplan, vcs

        label = target if isinstance(target, str) else target.nodeid
        problem = vcs.commit_refusal(self.root)
        if problem is not None:
            return _refused_plan(label, str(problem))
        every = self.scan().tests
        if isinstance(target, FlakyTest):
            selected = [t for t in every if t.key == target.key]
        else:
            selected = fixplan.select(target, every)
        if not selected:
            return _refused_plan(label, f"No flaky-marked test matches {label}; `flaketui scan` lists them.")
        refusal = fixplan.foreign_marker_refusal(selected) or fixplan.shared_marker_refusal(selected, every)
        if refusal:
            return _refused_plan(label, refusal, selected)
        new_contents: dict[str, bytes] = {}
        for path, markers in fixplan.markers_by_file(selected).items():
            before = (self.root / path).read_bytes()
            # ``read`` lets the codemod refuse a helper imported from another file that does more than mark.
            removal = codemod.remove_markers(before, markers, path=path, read=self._repo_bytes)
            if removal.after is None or removal.after == before:
                reason = (removal.failure or "the codemod found no marker to remove").rstrip(".")
                return _refused_plan(label, f"{path}: {reason}. The file was left as it is.", selected)
            new_contents[path] = removal.after
        plan = self._fix_plan(label, tuple(selected), new_contents, include, unverified, category)
        return plan if plan.refusal else replace(plan, restore=tuple(fixplan.restore_pairs(selected)))

    def _fix_plan(
        self,
        label: str,
        tests: tuple[FlakyTest, ...],
        new_contents: dict[str, bytes],
        include: Sequence[str],
        unverified: bool,
        category: Category | None,
    ) -> FixPlan:
        import hashlib

        from flaketui import fixplan, vcs

        status = vcs.status(self.root)
        # The app names changed files as `status` does (repo-relative); a person on the command
        # line names them relative to where they stand, as git does.
        named = (i if i in status else self._repo_path(i) for i in include)
        chosen = tuple(dict.fromkeys(p for p in named if p not in new_contents))
        for path in chosen:
            if path not in status:
                return _refused_plan(label, f"{path} has no uncommitted changes to include.", tests)
        committed = [*new_contents, *chosen]
        verifications = {} if unverified else self._verifications_of(tests)
        message = fixplan.message(
            tests,
            label,
            self._root_cause(tests, category),
            verifications,
            fixplan.outside_changes(verifications.values(), committed),
            unverified=unverified,
            template=self._commit_template(),
        )
        diff = "".join(
            fixplan.unified_diff(p, vcs.show_file(self.root, "HEAD", p), content) for p, content in new_contents.items()
        )
        for path in chosen:
            current = self.root / path
            diff += fixplan.unified_diff(
                path, vcs.show_file(self.root, "HEAD", path), current.read_bytes() if current.is_file() else None
            )
        files = [ChangedFile(p, required=True, status=status.get(p, " M")) for p in new_contents]
        files += [ChangedFile(p, required=False, status=s) for p, s in status.items() if p not in new_contents]
        return FixPlan(
            target=label,
            tests=tests,
            diff=diff,
            message=message,
            files=tuple(files),
            new_contents=tuple(new_contents.items()),
            include=chosen,
            unverified=unverified,
            category=category,
            sources=tuple((p, hashlib.sha256((self.root / p).read_bytes()).hexdigest()) for p in new_contents),
        )

    def _repo_path(self, path: str) -> str:
        """A path given on the command line or by the app, as a repo-relative POSIX path."""
        candidate = Path(path)
        absolute = candidate if candidate.is_absolute() else Path.cwd() / candidate
        try:
            return absolute.resolve().relative_to(self.root).as_posix()
        except ValueError:
            # Not under the current directory's view of the repo: read it as repo-relative.
            if not candidate.is_absolute() and (self.root / candidate).exists():
                return (self.root / candidate).resolve().relative_to(self.root).as_posix()
            raise FlakeTUIError(f"{path} is not inside {self.root}.", "Give a path inside the repository.") from None

    def _verifications_of(self, tests: Sequence[FlakyTest]) -> dict[tuple[str, str], Verification]:
        latest = self.last_verifications()
        return {t.key: latest[t.key] for t in tests if t.key in latest}

    def _root_cause(self, tests: Sequence[FlakyTest], category: Category | None):  # -> fixplan.RootCause
        from flaketui import fixplan, vcs

        decided = [d for t in tests if (d := self.decisions().get(t.key)) is not None]
        # A plan is rebuilt after verifying and again when committing: diagnose once per tree.
        memo: dict = self.__dict__.setdefault("_diagnoses_memo", {})
        key = (vcs.tree_state(self.root).fingerprint, tuple(t.key for t in tests))
        if key not in memo:
            memo[key] = self._diagnoses_as_committed(tests)
        before_fix = memo[key]
        if before_fix is not None:
            return fixplan.choose_root_cause(category, decided, before_fix, before_fix=True)
        diagnoses: list[Diagnosis] = []
        for test in tests:
            try:
                diagnoses.append(self.diagnose(test))
            except NotImplementedError:
                return fixplan.choose_root_cause(category, decided, [], diagnosed=False)
            except FlakeTUIError:
                continue  # a file that no longer parses: the others still speak
        return fixplan.choose_root_cause(category, decided, diagnoses)

    def _diagnoses_as_committed(self, tests: Sequence[FlakyTest]) -> list[Diagnosis] | None:
        """The diagnosis of the code as committed, when Python files have uncommitted changes.

        Usually those changes are the user's fix: diagnosing the fixed code would find no
        cause, while the commit message should name the one the fix removes. None when the
        tree is clean or the committed code cannot be diagnosed.
        """
        import tempfile

        from flaketui import vcs

        if not any(p.endswith(".py") for p in vcs.status(self.root)):
            return None
        with tempfile.TemporaryDirectory(prefix="flaketui-committed-") as scratch:
            vcs.export_tree(self.root, "HEAD", Path(scratch), lambda n: n.endswith(".py") or rootdirs.is_config_file(n))
            past = Service(scratch, python=self.python)
            try:
                found = {t.key: t for t in past.scan(use_cache=False).tests}
                return [past.diagnose(found[t.key]) for t in tests if t.key in found] or None
            except (NotImplementedError, FlakeTUIError):
                return None

    def _commit_template(self) -> str | None:
        from flaketui.settings import load_settings

        return load_settings(self.root).commit_template

    def commit_needs_terminal(self) -> bool:
        """Whether a commit may prompt on the terminal (signing is on): the app suspends first."""
        from flaketui import vcs

        return vcs.is_work_tree(self.root) and vcs.signing_needs_terminal(self.root)

    def commit_fix(
        self,
        plan: FixPlan,
        *,
        include: Sequence[str] = (),
        unverified: bool = False,
        on_output: Callable[[str], None] | None = None,
    ) -> CommitRecord:
        """Apply the removal and commit it with the test file's fix and the chosen files.

        Refused unless the latest verification of every covered test is stable and was run
        on this very tree; on failure the work tree and index are restored.
        """
        import base64
        import json

        from flaketui import fixplan, vcs
        from flaketui.models import CommitRecord

        if plan.refusal:
            raise FlakeTUIError(plan.refusal, "Nothing was changed; follow the advice above and try again.")
        vcs.preflight(self.root)
        stale = self._stale_source(plan)
        if stale:
            raise FlakeTUIError(
                f"{stale} changed after the fix was planned.", "Plan it again (press c, or rerun flaketui fix)."
            )
        unverified = unverified or plan.unverified
        if not unverified:
            self._check_verified(plan.tests)
        # Rebuilt now so the message names the newest verification and the chosen files.
        plan = self.refresh_plan(plan, include=include or plan.include, unverified=unverified)
        if plan.refusal:
            raise FlakeTUIError(plan.refusal, "Nothing was changed; choose files with uncommitted changes.")
        paths = [*(p for p, _ in plan.new_contents), *plan.include]
        # The files as the removal saw them (the user's fix, the marker still there): undo
        # reverses exactly the removal by merging back towards them.
        seen = {p: base64.b64encode((self.root / p).read_bytes()).decode() for p, _ in plan.new_contents}
        sha = vcs.commit_paths(self.root, paths, plan.message, on_output, contents=dict(plan.new_contents))
        record = CommitRecord(sha=sha, nodeid=plan.target, message=plan.message, kind="fix", files=tuple(paths))
        try:
            self._record_commit(record)
            self._store().cache_put(_FIX_MARKERS, sha, fixplan.pairs_to_json(plan.restore))
            self._store().cache_put(_FIX_BEFORE, sha, json.dumps(seen))
        except FlakeTUIError as exc:
            raise FlakeTUIError(
                f"Committed {sha[:12]}, but flaketui could not record it: {exc.message}",
                f"The commit is in git as made; `flaketui undo {sha[:12]}` still finds it by its trailers.",
            ) from exc
        return record

    def refresh_plan(
        self, plan: FixPlan, *, include: Sequence[str] | None = None, unverified: bool | None = None
    ) -> FixPlan:
        """The same removal with a fresh message, diff and file list: after a verification, or
        when the user picks other files to include. The codemod does not run again."""
        if plan.refusal:
            return plan
        stale = self._stale_source(plan)
        if stale:
            return _refused_plan(plan.target, f"{stale} changed after the fix was planned; plan it again.", plan.tests)
        fresh = self._fix_plan(
            plan.target,
            plan.tests,
            dict(plan.new_contents),
            plan.include if include is None else include,
            plan.unverified if unverified is None else unverified,
            plan.category,
        )
        return fresh if fresh.refusal else replace(fresh, restore=plan.restore)

    def _stale_source(self, plan: FixPlan) -> str | None:
        """The first file the plan edits whose bytes changed since it was planned."""
        import hashlib

        for path, digest in plan.sources:
            target = self.root / path
            if not target.is_file() or hashlib.sha256(target.read_bytes()).hexdigest() != digest:
                return path
        return None

    def _check_verified(self, tests: Sequence[FlakyTest]) -> None:
        from flaketui import fixplan, vcs

        state = vcs.tree_state(self.root)
        latest = self._verifications_of(tests)
        for test in tests:
            verification = latest.get(test.key)
            problem = fixplan.verification_gate(test, verification)
            if problem:
                raise FlakeTUIError(
                    problem, f"Verify it first: `flaketui fix {test.nodeid}` verifies, then commits."
                )
            assert verification is not None
            if verification.head != state.head:
                raise FlakeTUIError(
                    f"HEAD moved since {test.nodeid} was verified ({(verification.head or 'none')[:12]} -> "
                    f"{(state.head or 'none')[:12]}).",
                    "Verify again on this commit, then commit the fix.",
                )
            if verification.tree_fingerprint != state.fingerprint:
                changed = sorted(set(verification.dirty_paths) ^ set(state.dirty_paths))
                where = f" ({', '.join(changed)})" if changed else " (a file was edited)"
                hint = "Verify again on this tree, then commit: the verification must cover what is committed."
                appeared = set(state.dirty_paths) - set(verification.dirty_paths)
                if appeared and all(vcs.status(self.root).get(p) == "??" for p in appeared):
                    # Most often the tests themselves wrote these: verifying again would not help.
                    hint += " If the test run writes these files, add them to .gitignore first."
                raise FlakeTUIError(f"The work tree changed since {test.nodeid} was verified{where}.", hint)

    def undo(self, sha: str | None = None, *, on_output: Callable[[str], None] | None = None) -> CommitRecord:
        """Put the marker back as a new commit (the last flaketui commit if no sha)."""
        import base64
        import json

        from flaketui import fixplan, vcs
        from flaketui.models import CommitRecord

        vcs.preflight(self.root)
        fix_sha = vcs.resolve_commit(self.root, sha) if sha else self._last_fix_commit()
        fix_message = vcs.commit_message(self.root, fix_sha)
        trailers = fixplan.trailers(fix_message)
        if fixplan.CATEGORY_TRAILER not in trailers:
            raise FlakeTUIError(
                f"{fix_sha[:12]} is not a flaketui fix commit (it has no {fixplan.CATEGORY_TRAILER}: trailer).",
                "Give the sha of a commit made by `flaketui fix` (see `git log --grep=Flaky-Category`).",
            )
        target = trailers.get(fixplan.TARGET_TRAILER) or fix_message.split("\n", 1)[0].rsplit(" ", 1)[-1]
        stored = self._store().cache_get(_FIX_MARKERS, fix_sha)
        removed = fixplan.pairs_from_json(stored) if stored else self._markers_before(fix_sha, target)
        if not removed:
            raise FlakeTUIError(
                f"flaketui has no record of the markers {fix_sha[:12]} removed, and finds none on "
                f"{target} in its parent commit.",
                f"Put the marker back by hand: `git show {fix_sha[:12]}` shows what was removed.",
            )
        befores: dict[str, str] = json.loads(self._store().cache_get(_FIX_BEFORE, fix_sha) or "{}")
        status = vcs.status(self.root)
        new_contents: dict[str, bytes] = {}
        for path in dict.fromkeys(r.path for r in removed):
            if path in status:
                raise FlakeTUIError(
                    f"{path} has uncommitted changes; the undo commit would sweep them in.",
                    "Commit or stash them first, then undo.",
                )
            if not (self.root / path).is_file():
                raise FlakeTUIError(f"{path} no longer exists; there is nothing to put the marker back on.",
                                    "Restore the marker by hand where the test lives now.")
            current = (self.root / path).read_bytes()
            committed = vcs.show_file(self.root, fix_sha, path)
            restored = None
            if path in befores and committed is not None:
                restored = vcs.merge_file(current, committed, base64.b64decode(befores[path]))
            if restored is None:  # edited near the marker since: place it with the codemod
                restored = self._restore_markers(current, path, [r for r in removed if r.path == path])
            if restored != current:
                new_contents[path] = restored
        if not new_contents:
            raise FlakeTUIError(
                f"The markers {fix_sha[:12]} removed are already back.",
                f"Nothing to undo; `git show {fix_sha[:12]}` shows what it removed.",
            )
        subject = fix_message.split("\n", 1)[0]
        message = fixplan.undo_message(fix_sha, subject, target)
        paths = list(new_contents)
        new_sha = vcs.commit_paths(self.root, paths, message, on_output, contents=new_contents)
        record = CommitRecord(
            sha=new_sha, nodeid=target, message=message, kind="undo", undoes=fix_sha, files=tuple(paths)
        )
        self._record_commit(record)
        return record

    def _markers_before(self, fix_sha: str, target: str) -> list:  # -> [fixplan.RemovedMarker]
        """The markers ``target`` carried in the fix commit's parent, found by scanning it: undo
        of a fix made in another clone, whose record this one does not have."""
        import tempfile

        from flaketui import fixplan, vcs

        with tempfile.TemporaryDirectory(prefix="flaketui-parent-") as scratch:
            keep = lambda n: n.endswith(".py") or rootdirs.is_config_file(n)
            vcs.export_tree(self.root, f"{fix_sha}^", Path(scratch), keep)
            tests = fixplan.select(target, Service(scratch, python=self.python).scan(use_cache=False).tests)
        return fixplan.pairs_from_json(fixplan.pairs_to_json(fixplan.restore_pairs(tests)))

    def _restore_markers(self, source: bytes, path: str, removed: Sequence) -> bytes:  # removed: [RemovedMarker]
        from flaketui import codemod

        for item in removed:
            result = codemod.restore_marker(
                source, item.marker, item.test_name, item.class_name, test_line=item.test_line, path=path
            )
            if result.after is None:
                raise FlakeTUIError(f"Could not put the marker back in {path}: {result.failure}", "Restore it by hand.")
            source = result.after
        return source

    def _last_fix_commit(self) -> str:
        """The newest flaketui fix on this branch that no later flaketui commit undoes."""
        from flaketui import fixplan, vcs

        undone: set[str] = set()
        for sha, message in vcs.log_with_trailers(self.root):
            trailers = fixplan.trailers(message)
            if fixplan.UNDOES_TRAILER in trailers:
                undone.add(trailers[fixplan.UNDOES_TRAILER])
            elif fixplan.CATEGORY_TRAILER in trailers and sha not in undone:
                return sha
        raise FlakeTUIError(
            "No flaketui fix commit to undo on this branch.", "Give the sha: `flaketui undo SHA`."
        )

    # -- the record (store.py, .flaketui.toml, report.py) ------------------------------
    def decisions(self) -> dict[tuple[str, str], Triage]:
        """The team's decisions from ``.flaketui.toml``, keyed by (rootdir, nodeid)."""
        from flaketui import decisions

        return decisions.load(self.root)

    def set_category(self, test: FlakyTest, category: Category, decided_by: DecidedBy | str = "user") -> Triage:
        """Confirm the test's root cause in ``.flaketui.toml`` (its other fields kept)."""
        from flaketui.models import DecidedBy

        return self._decide(test, category=category, decided_by=DecidedBy(decided_by))

    def set_note(self, test: FlakyTest, note: str) -> Triage:
        """The team's note about the test in ``.flaketui.toml`` (empty removes it)."""
        return self._decide(test, note=note)

    def keep_marker(self, test: FlakyTest, keep: Keep | None) -> Triage:
        """Keep the marker on purpose (or stop keeping it with ``None``)."""
        return self._decide(test, keep=keep)

    def _decide(self, test: FlakyTest, **changes: object) -> Triage:
        from flaketui import decisions

        lock = self.state_dir() / "decisions.lock"
        return decisions.decide(self.root, test.rootdir, test.nodeid, lock_path=lock, **changes)

    def last_verifications(self) -> dict[tuple[str, str], Verification]:
        """The newest recorded verification per test."""
        return self._store().latest_verifications()

    def history(self, nodeid: str) -> list[Verification]:
        """A test's verifications, oldest first (found by file and function name if it moved)."""
        return self._store().history(nodeid)

    def _record_commit(self, record: CommitRecord) -> None:
        """Remember a commit flaketui made (the audit lists the markers removed)."""
        self._store().add_commit(record)

    def commits(self) -> list[CommitRecord]:
        """flaketui's commits in this repository, oldest first."""
        return self._store().commits()

    def _store(self) -> Store:
        # Imported here so that the CLI starts without loading sqlite3.
        from flaketui.store import FILENAME, Store

        return Store(self.state_dir() / FILENAME)

    def audit(self, *, as_json: bool = False, generated: str | None = None) -> str:
        """``flaky_test_audit.md`` (or its JSON). Diagnoses every test that has no confirmed
        category; when diagnosis is unavailable the test is "not diagnosed"."""
        import datetime as dt

        from flaketui import report, vcs

        scan = self.scan()
        decided = self.decisions()
        unconfirmed = [t for t in scan.tests if (d := decided.get(t.key)) is None or d.category is None]
        audit = report.build_audit(
            # A day, not a time: a committed report regenerated the same day does not change.
            generated=generated or dt.date.today().isoformat(),
            repository=self.root.name,
            is_git=vcs.common_git_dir(self.root) is not None,
            branch=vcs.branch(self.root),
            head=vcs.head(self.root),
            tests=scan.tests,
            decisions=decided,
            diagnoses=self._diagnoses_if_available(unconfirmed),
            verifications=self.last_verifications(),
            commits=self.commits(),
            findings=scan.findings,
        )
        return report.render_json(audit) if as_json else report.render_markdown(audit)

    def _diagnoses_if_available(self, tests: Sequence[FlakyTest]) -> dict[tuple[str, str], Diagnosis]:
        # One call for all: diagnose_many parses each file once per call.
        try:
            return {test.key: found for test, found in zip(tests, self.diagnose_many(tests), strict=True)}
        except NotImplementedError:
            return {}
        except FlakeTUIError:
            pass
        found: dict[tuple[str, str], Diagnosis] = {}
        for test in tests:
            try:
                found[test.key] = self.diagnose(test)
            except FlakeTUIError:
                continue  # a test whose file no longer parses is reported "not diagnosed"
        return found

    def check(self, *, budget: int = 0, today: date | None = None) -> GateResult:
        """The CI gate: fail on every flaky marker and repository-wide rerun not kept on
        purpose, beyond ``budget``, and on every keep past its expiry date."""
        import datetime as dt

        from flaketui import report

        scan = self.scan()
        items = report.gate_items(scan.tests, scan.findings, self.decisions(), today or dt.date.today())
        return GateResult(
            ok=report.gate_passes(items, budget),
            failing=tuple(report.failing_lines(items)),
            kept=tuple(i.text for i in items if i.status == "kept"),
            expired=tuple(i.text for i in items if i.status == "expired"),
            budget=budget,
            items=tuple(items),
        )

    # -- CI history and hunts (ci_import.py, hunting.py, store_hunts.py) ---------------
    def import_junit(self, paths: Sequence[str | Path]) -> ImportSummary:
        """Record JUnit XML reports (files, or folders of them) as CI history, each once."""
        from flaketui.ci_import import import_reports

        return import_reports(self._store(), paths, self.list_files(), self._pytest_rootdirs())

    def test_histories(self) -> list[TestHistory]:
        """Every test of the imported CI reports with its counts, flips and last failure."""
        from flaketui.store_hunts import junit_histories

        return junit_histories(self._store())

    def candidates(self, marked: Sequence[FlakyTest] | None = None) -> list[Candidate]:
        """Unmarked tests that CI history or the latest hunt shows flaky, most failing first.
        ``marked``: the scan's tests, if the caller has them (else the repository is scanned)."""
        from flaketui.candidates import find_candidates

        tests = self.scan().tests if marked is None else marked
        return find_candidates(self.test_histories(), self.latest_hunt(), {t.key for t in tests})

    def latest_hunt(self) -> HuntReport | None:
        """The newest hunt's report (a partial one too), or None before the first hunt."""
        return None

    def _pytest_rootdirs(self) -> list[str]:
        """Every directory pytest would take as a rootdir (``"."`` first)."""
        from flaketui.discover.config import find_configs

        return sorted(find_configs(self.list_files(), self._repo_bytes), key=lambda r: (r != ".", r))

    # -- the editor ------------------------------------------------------------------
    def open_in_editor(self, path: str, line: int) -> None:
        """Run ``$VISUAL``/``$EDITOR`` at the line, in the foreground (the app suspends first)."""
        import os
        import shlex
        import subprocess

        command = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if not command:
            raise FlakeTUIError("Neither $VISUAL nor $EDITOR is set.", "Set one, e.g. `export EDITOR=vim`, then press e.")
        argv = [*shlex.split(command), *_editor_position(Path(shlex.split(command)[0]).name, str(self.root / path), line)]
        try:
            subprocess.run(argv, cwd=self.root, check=False)
        except OSError as exc:
            raise FlakeTUIError(f"Could not start the editor {argv[0]!r}: {exc}", "Check $VISUAL / $EDITOR.") from exc


#: Store cache namespace: the markers each fix commit removed, by sha, for undo.
_FIX_MARKERS = "fix-markers"
#: ... and each edited file as the removal saw it (base64), so undo can reverse it exactly.
_FIX_BEFORE = "fix-before"


def _editor_position(editor: str, path: str, line: int) -> list[str]:
    """The arguments that open ``path`` at ``line`` in the editors that say how."""
    if editor in ("code", "codium", "code-insiders"):
        return ["--goto", f"{path}:{line}"]
    if editor in ("subl", "zed", "hx", "helix"):
        return [f"{path}:{line}"]
    if editor in ("vi", "vim", "nvim", "nano", "emacs", "emacsclient", "micro", "kak", "joe", "ne", "mg", "jed"):
        return [f"+{line}", path]
    return [path]


def _refused_plan(target: str, refusal: str, tests: Sequence[FlakyTest] = ()) -> FixPlan:
    return FixPlan(target=target, tests=tuple(tests), diff="", message="", refusal=refusal)

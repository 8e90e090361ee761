"""Scan: every flaky-marked test of the workspace, from the cache when nothing changed.

In git, ``git ls-files`` (and, when the cache cannot answer, ``git grep``) run while Python
loads the parsers; the launcher may have started them before click loaded
(``gitjobs.EarlyScan``). ``collect`` adds what pytest's own collection sees (markers added
by hooks), merged by ``verify.collect``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from flaketui import gitjobs
from flaketui.discover import cache as scan_cache
from flaketui.discover.files import READ_PATTERNS
from flaketui.errors import FlakeTUIError
from flaketui.models import FlakyTest, ScanResult
from flaketui.workflows.workspace import Workspace

ProgressCallback = Callable[[int, int], None]


class ScanWorkflow:
    def __init__(self, workspace: Workspace, early: gitjobs.EarlyScan | None = None) -> None:
        self.workspace = workspace
        #: git's answers a launcher started for this root before the imports; serves one scan.
        self._early = early
        #: What git said at the last scan (HEAD, the uncommitted paths): the tree its tests
        #: were read from, which their diagnosis asks about without starting git again.
        self.listing: gitjobs.Listing | None = None

    def scan(
        self, *, use_cache: bool = True, collect: bool = False, under: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> ScanResult:  # fmt: skip
        """Every flaky-marked test, the repository findings and the skipped files; with
        ``under`` (a directory, as the user names it), only those inside it.

        A repeated scan of an unchanged tree is served from a stat-based cache in the state
        directory without importing the parsers.
        """
        result = self._scan_all(use_cache=use_cache, collect=collect, on_progress=on_progress)
        if under is None:
            return result
        return only_under(result, os.path.relpath(os.path.realpath(under), self.workspace.root).replace(os.sep, "/"))

    def _scan_all(self, *, use_cache: bool, collect: bool, on_progress: ProgressCallback | None) -> ScanResult:
        root = self.workspace.root
        if not self.workspace.is_git:
            files = self.workspace.list_files()
            return self._scan(files, None, None, use_cache=use_cache, collect=collect, on_progress=on_progress)
        # git lists, and (when nothing cached can answer) greps, while Python imports.
        early, self._early = self._early, None
        listing = early.listing if early is not None else gitjobs.start_listing(root)
        search = early.search if early is not None else None
        if use_cache and search is not None:
            search.close()  # a cached answer may need no file read at all
            search = None
        elif not use_cache and search is None:
            search = gitjobs.start_search(root, READ_PATTERNS)
        if search is not None:
            import flaketui.discover.engine  # noqa: F401 (loads the parsers while git works)
        try:
            found = self.listing = listing.result()
            if search is not None:
                search.vouch(found.unsettled)
            vouched = (found.state, found.unsettled)
            return self._scan(found.files, vouched, search, use_cache=use_cache, collect=collect, on_progress=on_progress)
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
        root = self.workspace.root
        try:
            state: Path | None = self.workspace.state_dir()
        except OSError:  # a read-only repository is scanned all the same, only never cached
            state = None
        taken = scan_cache.fingerprint(root, files, vouched) if state is not None else None
        result = scan_cache.load(state, root, taken) if use_cache and state is not None and taken else None
        if result is None:
            racy = scan_cache.racy(root, taken) if taken is not None else {}
            if search is None and vouched is not None:
                search = gitjobs.start_search(root, READ_PATTERNS)
                search.vouch(vouched[1])
            from flaketui.discover.engine import scan_repository

            try:
                result = scan_repository(root, files, on_progress=on_progress, search=search)
            finally:
                if search is not None:
                    search.close()
            if state is not None and taken is not None:
                result = replace(result, fingerprint=scan_cache.store(state, taken, racy, result))
        if collect:
            result = self._merge_collected(result)
        return self._skipped_here(result)

    def _skipped_here(self, result: ScanResult) -> ScanResult:
        """Mark the tests whose module pytest would skip here for want of a module it asks
        ``importorskip`` for; found again on every scan, as the environment may change."""
        needed = sorted({name for test in result.tests for name in test.requires})
        if not needed:
            return result
        from flaketui.verify.interpreter import missing_modules

        try:
            interpreter = self.workspace.interpreter()
        except FlakeTUIError:
            return result  # no interpreter to ask: nothing known about what it lacks
        missing = missing_modules(interpreter, needed, self.workspace.root)
        if not missing:
            return result
        tests = tuple(
            replace(test, skipped_here="needs " + ", ".join(n for n in test.requires if n in missing))
            if missing.intersection(test.requires) else test
            for test in result.tests
        )
        return replace(result, tests=tests)

    def _merge_collected(self, result: ScanResult) -> ScanResult:
        """``scan --collect``: what pytest's own collection adds (owned by the verification engine).

        Collects in every rootdir the repository has (the root too when tests live there), with
        the target's interpreter, and adds the tests only pytest sees as flaky, with findings.
        """
        from flaketui.discover.config import find_configs
        from flaketui.verify.collect import collect_flaky, merge_collected

        root = self.workspace.root

        def read(path: str) -> bytes | None:
            try:
                return (root / path).read_bytes()
            except OSError:
                return None

        configs = find_configs(self.workspace.list_files(), read)
        rootdirs = sorted(r for r in configs if r != ".")
        # Collecting from a root without a config would also walk every nested project.
        if configs["."].inifile or not rootdirs or any(t.rootdir == "." for t in result.tests):
            rootdirs.insert(0, ".")
        return merge_collected(
            result, collect_flaky(root, rootdirs, self.workspace.interpreter(), self.workspace.pytest_args)
        )


def only_under(result: ScanResult, prefix: str) -> ScanResult:
    """The tests, findings and skipped files of ``result`` inside the repo-relative directory ``prefix``."""
    if prefix in ("", "."):
        return result

    def inside(path: str) -> bool:
        return path == prefix or path.startswith(prefix + "/")

    def test_file(test: FlakyTest) -> str:  # the collected file, repo-relative (an inherited test's def may live elsewhere)
        file_part = test.nodeid.split("::")[0]
        return file_part if test.rootdir == "." else f"{test.rootdir}/{file_part}"

    return replace(
        result,
        tests=tuple(t for t in result.tests if inside(test_file(t))),
        findings=tuple(f for f in result.findings if inside(f.path)),
        skipped=tuple(s for s in result.skipped if inside(s.path)),
    )

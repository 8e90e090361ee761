"""The discovery engine: the repository's file list in, every flaky-marked test out.

1. Every pytest config file decides the rootdirs and what each one collects (``config``).
2. A byte prefilter picks the Python files worth parsing, then those that what is parsed
   reaches through imports, base classes and fixtures (``reach``).
3. Each collected test module is replayed through pytest's collection rules (``collect``),
   with what the repository says around it (``project``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flaketui import rootdirs
from flaketui.discover import config as cfg
from flaketui.discover.collect import Collector
from flaketui.discover.project import Project
from flaketui.discover.reach import ProgressCallback, Reader
from flaketui.discover.search import FileSearch
from flaketui.models import Finding, FlakyTest, ScanResult, Skipped, TestKey, selects


def scan_repository(
    root: Path,
    files: Sequence[str],
    *,
    on_progress: ProgressCallback | None = None,
    search: FileSearch | None = None,
) -> ScanResult:
    return _Scan(root, files, on_progress, search).run()


class _Scan:
    def __init__(
        self, root: Path, files: Sequence[str], on_progress: ProgressCallback | None, search: FileSearch | None = None
    ) -> None:
        self.root = root
        self.files = cfg.outside_environments(list(files))
        self.on_progress = on_progress
        self.reader = Reader(str(root), search)
        self.project = Project(self.reader, self.files)

    def run(self) -> ScanResult:
        reader, project = self.reader, self.project
        configs = cfg.find_configs(self.files, reader.read)
        python_files = [f for f in self.files if f.endswith(".py")]
        by_rootdir: dict[str, list[str]] = {r: [] for r in configs}
        for path in python_files:
            by_rootdir[rootdirs.rootdir_of(path, configs)].append(path)
        reader.parse_relevant(python_files, self.on_progress)
        # Conftests are always read first, so what follows does not wait for the search.
        conftests = project.conftest_ignores()
        plugins = project.declared_plugins(configs)
        id_hooks = project.parametrize_id_hooks()
        commanded = project.commanded_paths()

        def collect() -> tuple[dict[TestKey, FlakyTest], list[Finding], dict[str, str]]:
            # Only parsed modules hold tests, and only unread-able ones are reported: whether
            # pytest would collect the thousands of other files does not matter here.
            relevant = set(reader.evaluator.modules) | set(reader.unreadable)
            relevant.update(p for p in python_files if p not in reader.seen and p not in reader.unread)
            selected = {
                rootdir: cfg.select_test_files(config, by_rootdir[rootdir], conftests, commanded, only=relevant)
                for rootdir, config in configs.items()
            }
            return self._collect(configs, selected, plugins, id_hooks)

        tests, findings, skipped = collect()
        # The search for importers ran while we collected; a file it brings in may carry marks
        # into modules already collected (a base class, an alias), so collect again.
        while reader.resume_imports(python_files):
            tests, findings, skipped = collect()
        skipped = {**reader.skipped, **skipped}
        unique: dict[tuple[str, int], Finding] = {}
        for finding in (*findings, *project.config_findings(), *project.hook_findings()):
            unique.setdefault((finding.path, finding.line), finding)
        ordered = sorted(tests.values(), key=lambda t: (t.rootdir, t.nodeid.split("::", 1)[0], t.line, t.nodeid))
        return ScanResult(
            root=str(self.root),
            tests=tuple(ordered),
            findings=tuple(sorted(unique.values(), key=lambda f: (f.path, f.line))),
            skipped=tuple(Skipped(path, reason) for path, reason in sorted(skipped.items())),
            files_scanned=len(python_files),
        )

    def _collect(
        self,
        configs: dict[str, cfg.PytestConfig],
        selected: dict[str, list[str]],
        plugins: dict[str, set[str]],
        id_hooks: dict[str, bool],
    ) -> tuple[dict[TestKey, FlakyTest], list[Finding], dict[str, str]]:
        tests: dict[TestKey, FlakyTest] = {}
        findings: list[Finding] = []
        skipped: dict[str, str] = {}
        for rootdir, config in configs.items():
            collector = Collector(self.reader.evaluator, config, plugins.get(rootdir, set()), id_hooks.get(rootdir, False))
            chosen = config.node_selections()
            for path in selected[rootdir]:
                module = self.reader.evaluator.modules.get(path)
                if module is None:
                    reason = self.reader.unreadable_reason(path)
                    if reason is not None:
                        skipped[path] = reason
                    continue
                collector.fixture_modules = self.project.fixture_modules(path)
                collector.parametrized_fixtures = self.project.parametrized_fixtures(collector.fixture_modules)
                try:
                    collected = collector.collect(module, rootdirs.relative(path, rootdir))
                except (RecursionError, ValueError, AttributeError, TypeError, KeyError, IndexError) as error:
                    # Code we do not model must never stop the scan: say so, and go on.
                    skipped[path] = f"not analysed: {type(error).__name__} in flaketui ({error}); please report it"
                    continue
                for test in collected.tests:
                    if path not in chosen or any(selects(nodeid, test.nodeid) for nodeid in chosen[path]):
                        tests.setdefault(test.key, test)
                findings.extend(collected.findings)
        return tests, findings, skipped

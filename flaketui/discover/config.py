"""pytest's own configuration semantics: what each rootdir collects, and how.

Where the rootdirs are is ``flaketui.rootdirs``' decision (verification asks it too); every
test belongs to the nearest one above it, or to the repository root (``"."``), and its
node id is relative to that rootdir.
"""

from __future__ import annotations

import fnmatch
import functools
import posixpath
import re
import shlex
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from flaketui import rootdirs
from flaketui.rootdirs import IniOptions, ReadBytes, relative

#: Options of pytest and its common plugins whose value is the next token: what follows
#: them in ``addopts`` is not a path.
_VALUE_OPTIONS = frozenset(
    {
        "-k", "-m", "-p", "-c", "-o", "-W", "-n", "-r", "--maxfail", "--tb", "--rootdir", "--confcutdir",
        "--basetemp", "--deselect", "--ignore", "--ignore-glob", "--junitxml", "--junit-xml", "--junit-prefix",
        "--log-level", "--log-format", "--log-date-format", "--log-file", "--log-file-level", "--log-cli-level",
        "--durations", "--durations-min", "--import-mode", "--capture", "--override-ini", "--pythonwarnings",
        "--doctest-glob", "--cov", "--cov-report", "--cov-config", "--cov-fail-under", "--reruns",
        "--reruns-delay", "--only-rerun", "--rerun-except", "--max-runs", "--min-passes", "--retries",
        "--retry-delay", "--timeout", "--timeout-method", "--dist", "--numprocesses", "--maxprocesses",
        "--html", "--color", "--code-highlight", "--asyncio-mode", "--randomly-seed", "--count",
        "--repeat-scope", "--benchmark-columns", "--benchmark-sort", "--ds", "--dc", "--hypothesis-profile",
        "--hypothesis-seed", "--base-url", "--driver", "--browser",
    }
)

DEFAULT_NORECURSE = ("*.egg", ".*", "_darcs", "build", "CVS", "dist", "node_modules", "venv", "{arch}")

@dataclass(frozen=True)
class PytestConfig:
    rootdir: str
    inifile: str | None = None
    ini: IniOptions = field(default_factory=dict)

    def args(self, key: str, default: Iterable[str]) -> list[str]:
        value = self.ini.get(key)
        if value is None:
            return list(default)
        if isinstance(value, list):
            return [str(v) for v in value]
        try:
            return shlex.split(value)
        except ValueError:
            return value.split()

    def flag(self, key: str) -> bool:
        value = self.ini.get(key)
        return isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on")

    @property
    def python_files(self) -> list[str]:
        return self.args("python_files", ("test_*.py", "*_test.py"))

    @property
    def python_classes(self) -> list[str]:
        return self.args("python_classes", ("Test",))

    @property
    def python_functions(self) -> list[str]:
        return self.args("python_functions", ("test",))

    @property
    def norecursedirs(self) -> list[str]:
        return self.args("norecursedirs", DEFAULT_NORECURSE)

    @property
    def testpaths(self) -> list[str]:
        return self.args("testpaths", ())

    @property
    def addopts(self) -> list[str]:
        return self.args("addopts", ())

    @property
    def addopts_paths(self) -> list[str]:
        """Paths and node ids written in ``addopts`` (``addopts = -q tests/unit``): pytest
        takes them as its arguments, and then ignores ``testpaths``. Relative to the rootdir;
        the caller keeps those that exist (an unknown option's value is not a path of the
        repository)."""
        paths: list[str] = []
        value_follows = False
        for token in self.addopts:
            if value_follows:
                value_follows = False
            elif token.startswith("-"):
                value_follows = token in _VALUE_OPTIONS
            elif token:
                paths.append(token)
        return paths

    def node_selections(self) -> dict[str, tuple[str, ...]]:
        """Node ids in ``addopts`` (``tests/test_a.py::test_x``) by repo-relative file: pytest
        collects only those tests of the file, unless a path argument takes it whole."""
        whole = [join(self.rootdir, token) for token in self.addopts_paths if "::" not in token]
        selections: dict[str, list[str]] = {}
        for token in self.addopts_paths:
            if "::" in token:
                file, _, rest = token.partition("::")
                path = join(self.rootdir, file)
                if not any(path == w or path.startswith(w + "/") or w == "." for w in whole):
                    selections.setdefault(path, []).append(relative(path, self.rootdir) + "::" + rest)
        return {path: tuple(ids) for path, ids in selections.items()}

    @property
    def escape_ids(self) -> bool:
        return not self.flag("disable_test_id_escaping_and_forfeit_all_rights_to_community_support")

    @property
    def xfail_strict(self) -> bool:
        return self.flag("xfail_strict")

    def ignored_by_options(self) -> tuple[list[str], list[str]]:
        """``--ignore`` and ``--ignore-glob`` from ``addopts``, relative to the rootdir."""
        ignore: list[str] = []
        globs: list[str] = []
        options = self.addopts
        for index, option in enumerate(options):
            for name, bucket in (("--ignore", ignore), ("--ignore-glob", globs)):
                if option == name and index + 1 < len(options):
                    bucket.append(options[index + 1])
                elif option.startswith(name + "="):
                    bucket.append(option[len(name) + 1 :])
        return ignore, globs


def find_configs(files: Iterable[str], read: ReadBytes) -> dict[str, PytestConfig]:
    """Every rootdir of the repository (repo-relative directory -> its config); ``"."`` always.
    Which directories those are (nested projects included) is ``rootdirs.config_files``' rule."""
    configs = {".": PytestConfig(".")}
    for directory, found in rootdirs.config_files(files, read).items():
        configs[directory] = PytestConfig(directory, found.path, found.ini)
    return configs


def fnmatch_ex(pattern: str, path: str) -> bool:
    """pytest's ``fnmatch_ex``: a pattern without a slash matches the basename, else the path's end."""
    if "/" not in pattern:
        return _compiled(pattern).match(posixpath.basename(path)) is not None
    if not pattern.startswith("/"):
        pattern = "*/" + pattern
    return _compiled(pattern).match("/" + path) is not None


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


@dataclass(frozen=True)
class ConftestIgnores:
    """``collect_ignore`` / ``collect_ignore_glob`` of one conftest, repo-relative."""

    paths: tuple[str, ...] = ()
    globs: tuple[str, ...] = ()


_ENVIRONMENT_MARKERS = ("/pyvenv.cfg", "/conda-meta/history")
_PACKAGE_DIRS = frozenset({"site-packages", "dist-packages"})


def outside_environments(files: list[str]) -> list[str]:
    """``files`` without those inside a virtual environment (a directory holding ``pyvenv.cfg``
    or ``conda-meta/history``, which pytest never recurses into) or a ``site-packages``: a
    project that forgot to git-ignore its ``.venv`` still has only its own tests."""
    # The environment's directory with its slash ("" for the root itself, which is no reason
    # to skip the project in it).
    environments = tuple(
        prefix
        for path in files
        for marker in _ENVIRONMENT_MARKERS
        if ("/" + path).endswith(marker) and (prefix := path[: -len(marker) + 1])
    )
    if not environments and not any("-packages/" in path for path in files):
        return files  # the common case, decided at the speed of a substring test
    return [
        path
        for path in files
        if not path.startswith(environments) and _PACKAGE_DIRS.isdisjoint(path.split("/")[:-1])
    ]


def select_test_files(
    config: PytestConfig,
    files: list[str],
    conftest_ignores: dict[str, ConftestIgnores],
    commanded: Iterable[str] = (),
    only: Collection[str] | None = None,
) -> list[str]:
    """The files ``pytest`` collects when run from ``config.rootdir`` without arguments, or with
    the paths the project's commands give it (``commanded``, repo-relative).

    ``files`` are the repository's files that belong to this rootdir (repo-relative); of
    them, only those in ``only`` (when given) are considered for selection.
    """
    rootdir = config.rootdir
    starts = _start_points(config, files, commanded)
    patterns = config.python_files
    norecurse = config.norecursedirs
    ignore, ignore_globs = config.ignored_by_options()
    ignore_paths = {join(rootdir, p) for p in ignore}
    selected: list[str] = []
    blocked: dict[tuple[str, str], bool] = {}  # (directory, start) -> pruned; directories repeat a lot
    for path in files if only is None else (f for f in files if f in only):
        if not path.endswith(".py"):
            continue
        start = next((s for s in starts if s == "." or path == s or path.startswith(s + "/")), None)
        if start is None:
            continue
        if path != start and not any(fnmatch_ex(p, path) for p in patterns):
            continue
        directory = path.rpartition("/")[0]
        key = (directory, start)
        if key not in blocked:
            blocked[key] = _recursion_blocked(path, start, norecurse)
        if blocked[key]:
            continue
        if _ignored(path, ignore_paths, ignore_globs, rootdir, conftest_ignores):
            continue
        selected.append(path)
    return selected


def join(rootdir: str, path: str) -> str:
    """A path written relative to a directory (a rootdir, a conftest's), repo-relative."""
    joined = posixpath.normpath(posixpath.join("" if rootdir == "." else rootdir, path))
    return "." if joined in ("", ".") else joined


def _start_points(config: PytestConfig, files: list[str], commanded: Iterable[str] = ()) -> list[str]:
    """The paths ``addopts`` gives pytest, else ``testpaths`` (globbed, as pytest does) when set
    and matching anything, else the rootdir; plus the paths the project's own tox/CI/make
    commands pass to pytest (``pytest t/integration``), which these would otherwise hide
    although the project runs them."""

    def present(path: str) -> bool:
        return any(f == path or f.startswith(path + "/") for f in files)

    arguments = (join(config.rootdir, token.partition("::")[0]) for token in config.addopts_paths)
    given = [full for full in arguments if present(full)]
    if given:  # pytest's arguments: testpaths no longer counts
        return list(dict.fromkeys([*given, *(path for path in commanded if present(path))]))
    starts: list[str] = []
    for pattern in config.testpaths:
        full = join(config.rootdir, pattern)
        if any(ch in full for ch in "*?["):
            directories = {d for f in files for d in _ancestors(f)} | set(files)
            matcher = _glob_regex(full)
            starts.extend(sorted(p for p in directories if matcher.fullmatch(p)))
        elif present(full):
            starts.append(full)
    if not starts:
        return [config.rootdir]
    return list(dict.fromkeys([*starts, *(path for path in commanded if present(path))]))


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """``glob.glob(pattern, recursive=True)`` as a regex over relative paths: ``*`` stays within
    one directory, ``**/`` spans any number of them (fnmatch's ``*`` would cross slashes)."""
    regex = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            regex += "(?:[^/]+/)*"
            index += 3
        elif pattern.startswith("**", index):
            regex += ".*"
            index += 2
        elif pattern[index] == "*":
            regex += "[^/]*"
            index += 1
        elif pattern[index] == "?":
            regex += "[^/]"
            index += 1
        elif pattern[index] == "[":
            end = pattern.find("]", index + 1)
            if end == -1:
                regex += re.escape("[")
                index += 1
            else:
                body = pattern[index + 1 : end]
                regex += "[" + ("^" + body[1:] if body.startswith("!") else body) + "]"
                index = end + 1
        else:
            regex += re.escape(pattern[index])
            index += 1
    return re.compile(regex)


def _ancestors(path: str) -> Iterable[str]:
    parts = path.split("/")[:-1]
    for index in range(1, len(parts) + 1):
        yield "/".join(parts[:index])


def _recursion_blocked(path: str, start: str, norecurse: list[str]) -> bool:
    for directory in _ancestors(path):
        if start != "." and (directory == start or not directory.startswith(start + "/")):
            continue
        if directory.endswith("__pycache__"):
            return True
        if any(fnmatch_ex(pattern, directory) for pattern in norecurse):
            return True
    return False


def _ignored(
    path: str, ignore: set[str], globs: list[str], rootdir: str, conftest_ignores: dict[str, ConftestIgnores]
) -> bool:
    if not (ignore or globs or conftest_ignores):
        return False  # the common case: nothing to ignore, and thousands of files to check
    candidates = {path, *_ancestors(path)}
    if candidates & ignore:
        return True
    if any(fnmatch.fnmatch(path, join(rootdir, g)) for g in globs):
        return True
    for directory in (".", *_ancestors(path)):
        if rootdir != "." and directory != rootdir and not directory.startswith(rootdir + "/"):
            continue  # conftests above the rootdir are not loaded (confcutdir is the rootdir)
        rules = conftest_ignores.get(directory)
        if rules is None:
            continue
        if candidates & set(rules.paths):
            return True
        if any(fnmatch.fnmatch(path, g) or any(fnmatch.fnmatch(c, g) for c in candidates) for g in rules.globs):
            return True
    return False

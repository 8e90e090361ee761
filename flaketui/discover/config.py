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
        whole = [_join(self.rootdir, token) for token in self.addopts_paths if "::" not in token]
        selections: dict[str, list[str]] = {}
        for token in self.addopts_paths:
            if "::" in token:
                file, _, rest = token.partition("::")
                path = _join(self.rootdir, file)
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
    """Every rootdir of the repository (repo-relative directory -> its config); ``"."`` always."""
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


def select_test_files(
    config: PytestConfig,
    files: list[str],
    venv_dirs: set[str],
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
    ignore_paths = {_join(rootdir, p) for p in ignore}
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
            blocked[key] = _recursion_blocked(path, start, norecurse, venv_dirs)
        if blocked[key]:
            continue
        if _ignored(path, ignore_paths, ignore_globs, rootdir, conftest_ignores):
            continue
        selected.append(path)
    return selected


def _join(rootdir: str, path: str) -> str:
    joined = posixpath.normpath(posixpath.join("" if rootdir == "." else rootdir, path))
    return "." if joined in ("", ".") else joined


def _start_points(config: PytestConfig, files: list[str], commanded: Iterable[str] = ()) -> list[str]:
    """The paths ``addopts`` gives pytest, else ``testpaths`` (globbed, as pytest does) when set
    and matching anything, else the rootdir; plus the paths the project's own tox/CI/make
    commands pass to pytest (``pytest t/integration``), which these would otherwise hide
    although the project runs them."""

    def present(path: str) -> bool:
        return any(f == path or f.startswith(path + "/") for f in files)

    arguments = (_join(config.rootdir, token.partition("::")[0]) for token in config.addopts_paths)
    given = [full for full in arguments if present(full)]
    if given:  # pytest's arguments: testpaths no longer counts
        return list(dict.fromkeys([*given, *(path for path in commanded if present(path))]))
    starts: list[str] = []
    for pattern in config.testpaths:
        full = _join(config.rootdir, pattern)
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


def _recursion_blocked(path: str, start: str, norecurse: list[str], venv_dirs: set[str]) -> bool:
    for directory in _ancestors(path):
        if start != "." and (directory == start or not directory.startswith(start + "/")):
            continue
        if directory in venv_dirs or directory.endswith("__pycache__"):
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
    if any(fnmatch.fnmatch(path, _join(rootdir, g)) for g in globs):
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


# -- dependency declarations ------------------------------------------------------------

_DEPENDENCY_FILE = re.compile(
    r"(^|/)(pyproject\.toml|setup\.cfg|setup\.py|tox\.ini|Pipfile|pixi\.toml|[^/]*environment[^/]*\.ya?ml|"
    r"[^/]*requirements[^/]*\.(txt|in)|requirements/[^/]+\.(txt|in)|constraints[^/]*\.txt|noxfile\.py)$"
)
#: A requirement starts a line (``- flaky``, ``flaky>=3``), a string (``"flaky>=3"``) or a value
#: (``deps = flaky``) and ends in a version, a quote, a separator or the line's end: prose such
#: as "the flaky tests" is not a dependency.
_PLUGIN_REQUIREMENT = re.compile(
    r"""(?:^[ \t]*(?:-[ \t]*)?|["'\[,(][ \t]*|=[ \t]*)"""
    r"""(pytest[-_.]rerunfailures|pytest[-_.]retry|flaky)(?=[ \t]*(?:$|[<>=!~;\[\]"',)@]))""",
    re.IGNORECASE | re.MULTILINE,
)
_PLUGIN_KIND = {"pytest-rerunfailures": "rerunfailures", "pytest-retry": "retry", "flaky": "flaky"}


def is_dependency_file(path: str) -> bool:
    if path.endswith(".py") and not path.endswith(("setup.py", "noxfile.py")):
        return False  # most of a repository; the regular expression is the slow answer
    return _DEPENDENCY_FILE.search(path) is not None


_REQUIREMENT_TOKEN = re.compile(r"(pytest[-_.]rerunfailures|pytest[-_.]retry|flaky)(?:[<>=!~;\[@].*)?", re.IGNORECASE)
_INI_VALUE = re.compile(r"^\s*[\w.-]+\s*=(.*)$")


def declared_plugins(text: str, path: str = "") -> set[str]:
    """Rerun plugins a dependency file declares: ``rerunfailures``, ``flaky``, ``retry``."""
    found: set[str] = set()
    # requirements and tox/setup.cfg values may list several requirements on one line
    whitespace_lists = path.endswith((".txt", ".in", "tox.ini", "setup.cfg"))
    for line in text.splitlines():
        stripped = line.split("#", 1)[0] if not line.lstrip().startswith(("'", '"')) else line
        names = [m.group(1) for m in _PLUGIN_REQUIREMENT.finditer(stripped)]
        if whitespace_lists:
            value = _INI_VALUE.match(stripped)
            tokens = re.split(r"[\s,]+", value.group(1) if value else stripped)
            names += [m.group(1) for t in tokens if (m := _REQUIREMENT_TOKEN.fullmatch(t))]
        for name in names:
            found.add(_PLUGIN_KIND[re.sub(r"[_.]", "-", name.lower())])
    return found


# -- configuration that reruns every test -------------------------------------------------

_RERUN_OPTION = re.compile(r"(--reruns(?:-delay)?|--force-flaky|--max-runs|--min-passes|--retries|--retry-delay|--only-rerun)\b")
_RERUN_INI_KEY = re.compile(r"^\s*[\"']?(reruns|reruns_delay|retries|retry_delay|cumulative_timing)[\"']?\s*[=:]")
_CI_FILE = re.compile(
    r"(^|/)(\.github/workflows/[^/]+\.ya?ml|\.gitlab-ci\.yml|tox\.ini|\.circleci/config\.yml|azure-pipelines\.ya?ml|"
    r"\.travis\.yml|Jenkinsfile|noxfile\.py|Makefile|bitbucket-pipelines\.yml|\.buildkite/[^/]+\.ya?ml)$"
)
_SECTION = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")


def is_ci_file(path: str) -> bool:
    if path.endswith(".py") and not path.endswith("noxfile.py"):
        return False  # most of a repository; the regular expression is the slow answer
    return _CI_FILE.search(path) is not None


@dataclass(frozen=True)
class RerunSetting:
    kind: str  # "config-reruns" or "ci-reruns"
    line: int
    source: str
    message: str


def config_reruns(name: str, text: str) -> list[RerunSetting]:
    """Rerun options in a pytest config file's pytest section (``addopts`` or ini keys)."""
    section_names = rootdirs.PYTEST_SECTIONS.get(name, ("pytest",))
    found: list[RerunSetting] = []
    section = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _SECTION.match(line)
        if header and not line.lstrip().startswith(("#", ";")):
            section = header.group(1).strip().strip('"')
            continue
        if section not in section_names or line.lstrip().startswith(("#", ";")):
            continue
        said = _RERUN_OPTION.search(line) or _RERUN_INI_KEY.match(line)
        if said:
            what = said.group(1)
            found.append(
                RerunSetting("config-reruns", number, line.strip(), f"{what} in the pytest configuration reruns every failing test")
            )
    return found


def ci_reruns(text: str) -> list[RerunSetting]:
    """``PYTEST_ADDOPTS`` or pytest command lines with rerun options in tox/CI/nox files."""
    found: list[RerunSetting] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        option = _RERUN_OPTION.search(line)
        lowered = line.lower()
        # The option must follow the pytest command (or PYTEST_ADDOPTS) on the line: `pytest -x --reruns 2`.
        before = lowered[: option.start()] if option else ""
        if option and ("pytest" in before or "py.test" in before or "addopts" in before or line.strip().startswith(option.group(1))):
            where = "PYTEST_ADDOPTS" if "pytest_addopts" in lowered else "a pytest command"
            found.append(RerunSetting("ci-reruns", number, line.strip(), f"{option.group(1)} in {where} reruns every failing test"))
    return found


_PYTEST_COMMAND = re.compile(r"(?:^|[\s;&|(/])(?:py\.test|pytest)(?![\w.-])")
_TOX_ENV_DEFAULT = re.compile(r"\{env:[^:}]+:([^}]*)\}")
_SHELL_SEPARATORS = frozenset({"&&", "||", ";", "|", ">", ">>", "2>&1"})


def command_paths(text: str) -> list[str]:
    """Arguments that look like paths in pytest command lines (tox, CI, make, nox), as written:
    ``pytest -x t/integration {posargs}`` -> ``t/integration``. The caller keeps those that exist."""
    found: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        match = _PYTEST_COMMAND.search(line)
        if match is None:
            continue
        rest = _TOX_ENV_DEFAULT.sub(r"\1", line[match.end() :]).replace("{toxinidir}/", "")
        rest = re.sub(r"\{[^}]*\}|\$\{?\w+\}?", " ", rest)
        try:
            tokens = shlex.split(rest, comments=True)
        except ValueError:
            tokens = rest.split()
        for token in tokens:
            if token in _SHELL_SEPARATORS:
                break
            if token.startswith("-") or "=" in token or not re.fullmatch(r"[\w./:\[\]-]+", token):
                continue
            path = posixpath.normpath(token.split("::")[0])
            if path not in (".", "") and not path.startswith(".."):
                found.append(path)
    return found
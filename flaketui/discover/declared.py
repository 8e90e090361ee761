"""What a project's other files declare about its tests: the rerun plugins its dependency
files name, the reruns its pytest configuration, tox and CI files apply to every test, and
the paths its pytest commands are given."""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass

from flaketui import rootdirs

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
"""Which files configure pytest, and so which directory a test runs from (its rootdir).

The one place that decides it: discovery (``discover/config.py``) names node ids relative
to these rootdirs, verification (``verify/targets.py``) runs pytest from them, and a tree
exported to look at the past keeps these files (``is_config_file``, and ``setup.py`` as
Python). Rules as ``_pytest.config.findpaths``: within one directory the first file of
``CONFIG_NAMES`` that holds a pytest configuration wins; a directory with none of those
(here or above) is a rootdir all the same when it holds a ``pyproject.toml`` (even without
a pytest section) or, failing any ``pyproject.toml`` above, a ``setup.py``: a nested project
pytest settles in when run there. A test belongs to the nearest rootdir above it, else to
the repository root (``"."``).

Standard library only, on POSIX repo-relative paths, so every layer may ask it.
"""

from __future__ import annotations

import posixpath
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

#: pytest 9 adds the first two; the order is pytest's precedence within one directory.
CONFIG_NAMES = ("pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")

#: Where each file keeps pytest's options (TOML tables, ini sections); "" is a TOML file's top level.
PYTEST_SECTIONS: dict[str, tuple[str, ...]] = {
    "pytest.toml": ("pytest", ""),
    ".pytest.toml": ("pytest", ""),
    "pytest.ini": ("pytest",),
    ".pytest.ini": ("pytest",),
    "pyproject.toml": ("tool.pytest.ini_options", "tool.pytest"),
    "tox.ini": ("pytest",),
    "setup.cfg": ("tool:pytest",),
}

#: The ini options of one config file: TOML lists stay lists, every other value is a string.
IniOptions = dict[str, str | list[str]]
ReadBytes = Callable[[str], bytes | None]


@dataclass(frozen=True)
class ConfigFile:
    """The file pytest takes its configuration from in ``rootdir`` (both repo-relative);
    ``path`` is None where only a ``setup.py`` makes the directory a rootdir."""

    rootdir: str
    path: str | None
    ini: IniOptions


def is_config_file(path: str) -> bool:
    """Whether ``path`` has a name pytest may read its configuration from."""
    return posixpath.basename(path) in CONFIG_NAMES


def read_pytest_section(name: str, data: bytes) -> IniOptions | None:
    """The pytest configuration in one file, or None when the file holds none (pytest's rules)."""
    text = data.decode("utf-8", errors="replace")
    if name.endswith(".toml"):
        always = name != "pyproject.toml"  # pytest.toml counts even when empty, as pytest.ini does
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return {} if always else None
        if always:
            table = document.get("pytest", {})
        else:
            tool = document.get("tool", {}).get("pytest")
            table = tool.get("ini_options", tool) if isinstance(tool, dict) else None
        if not isinstance(table, dict):
            return {} if always else None
        return {k: v if isinstance(v, list) else str(v) for k, v in table.items() if not isinstance(v, dict)}
    import configparser  # most projects configure pytest in pyproject.toml only

    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return {} if name == "pytest.ini" else None
    section = "tool:pytest" if name == "setup.cfg" else "pytest"
    if parser.has_section(section):
        return dict(parser.items(section))
    return {} if name == "pytest.ini" else None


def config_files(files: Iterable[str], read: ReadBytes) -> dict[str, ConfigFile]:
    """Every rootdir among ``files`` (repo-relative paths) -> the file that makes it one."""
    by_dir: dict[str, dict[str, str]] = {}
    for path in files:
        directory, _, name = path.rpartition("/")
        if name in CONFIG_NAMES or name == "setup.py":
            by_dir.setdefault(directory or ".", {})[name] = path
    found: dict[str, ConfigFile] = {}
    for directory, present in by_dir.items():
        for name in CONFIG_NAMES:
            if name not in present:
                continue
            data = read(present[name])
            ini = None if data is None else read_pytest_section(name, data)
            if ini is not None:
                found[directory] = ConfigFile(directory, present[name], ini)
                break
    configured = set(found)
    for directory, present in by_dir.items():
        above = _ancestors(directory)
        if directory == "." or directory in configured or not configured.isdisjoint(above):
            continue  # a pytest configuration here or above decides
        if "pyproject.toml" in present:
            found[directory] = ConfigFile(directory, present["pyproject.toml"], {})
        elif "setup.py" in present and not any("pyproject.toml" in by_dir.get(a, {}) for a in above):
            found[directory] = ConfigFile(directory, None, {})
    return found


def _ancestors(directory: str) -> list[str]:
    """The directories above a repo-relative directory, the root (``"."``) included."""
    above = ["."]
    parts = directory.split("/")
    for end in range(1, len(parts)):
        above.append("/".join(parts[:end]))
    return above


def rootdir_of(path: str, rootdirs: Iterable[str]) -> str:
    """The nearest rootdir above the repo-relative ``path``: pytest run from there reads that config."""
    inside = [r for r in rootdirs if r != "." and path.startswith(r + "/")]
    return max(inside, key=len) if inside else "."


def rootdir_on_disk(root: Path, path: str) -> str:
    """``rootdir_of`` for one repo-relative file, reading only the config files above it."""
    candidates: list[str] = []
    directory = posixpath.dirname(path)
    while True:
        names = (*CONFIG_NAMES, "setup.py")
        candidates += [posixpath.join(directory, name) for name in names if (root / directory / name).is_file()]
        if not directory:
            break
        directory = posixpath.dirname(directory)
    return rootdir_of(path, config_files(candidates, lambda rel: _read(root / rel)))


def relative(path: str, rootdir: str) -> str:
    """A repo-relative path as seen from ``rootdir``."""
    return path if rootdir == "." else path[len(rootdir) + 1 :]


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None

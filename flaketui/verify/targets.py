"""Which rootdir a node id belongs to, found the way pytest finds it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from flaketui.errors import FlakeTUIError

#: (file name, the text that makes it a pytest config); None: its presence is enough.
_CONFIGS: tuple[tuple[str, bytes | None], ...] = (
    ("pytest.ini", None),
    (".pytest.ini", None),
    ("pyproject.toml", b"[tool.pytest"),
    ("tox.ini", b"[pytest]"),
    ("setup.cfg", b"[tool:pytest]"),
)


@dataclass(frozen=True)
class Target:
    """A test to verify: ``nodeid`` as pytest prints it when run from ``rootdir`` (repo-relative)."""

    rootdir: str
    nodeid: str

    @property
    def module(self) -> str:
        return self.nodeid.split("::", 1)[0]

    @property
    def repo_nodeid(self) -> str:
        """The node id relative to the repository root, as ``flaketui verify`` takes it."""
        return self.nodeid if self.rootdir == "." else f"{self.rootdir}/{self.nodeid}"


def has_pytest_config(directory: Path) -> bool:
    for name, needle in _CONFIGS:
        candidate = directory / name
        if candidate.is_file() and (needle is None or needle in candidate.read_bytes()):
            return True
    return False


def target_for(root: Path, nodeid: str, cwd: Path | None = None) -> Target:
    """The rootdir of a repo-relative node id: the nearest directory with a pytest config
    above its file (pytest's rule), else the repository root.

    A node id whose file is not there but is under ``cwd`` (a subdirectory the user runs
    flaketui from, as pytest would take it) is read relative to ``cwd``.
    """
    if "::" not in nodeid and not nodeid.endswith(".py"):
        raise FlakeTUIError(
            f"{nodeid!r} is not a pytest node id.",
            "Pass a node id as pytest prints it, e.g. tests/test_api.py::test_login.",
        )
    path_part = nodeid.split("::", 1)[0]
    test_file = root / path_part
    if not test_file.is_file() and cwd is not None and (cwd / path_part).is_file():
        try:
            inside = (cwd / path_part).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:  # the cwd is outside the repository: keep the root-relative reading
            inside = None
        if inside is not None:
            nodeid = inside + nodeid[len(path_part):]
            path_part = inside
            test_file = root / path_part
    if not test_file.is_file():
        raise FlakeTUIError(
            f"No test file {path_part} in {root}.",
            "Node ids are relative to the repository root (run `flaketui scan` to list them).",
        )
    for directory in _ancestors(root, test_file):
        if has_pytest_config(directory):
            rootdir = PurePosixPath(directory.relative_to(root).as_posix() or ".")
            rel = PurePosixPath(path_part).relative_to(rootdir) if str(rootdir) != "." else PurePosixPath(path_part)
            rest = nodeid[len(path_part):]
            return Target(str(rootdir), f"{rel.as_posix()}{rest}")
    return Target(".", nodeid)


def _ancestors(root: Path, test_file: Path) -> list[Path]:
    """The test file's directory and its parents up to and including the root."""
    found = []
    current = test_file.parent
    while True:
        found.append(current)
        if current == root or current == current.parent:
            break
        current = current.parent
    return found

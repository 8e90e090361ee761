"""A node id to verify, with the rootdir it runs from (``flaketui.rootdirs`` decides, as for discovery)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flaketui import rootdirs
from flaketui.errors import FlakeTUIError
from flaketui.models.key import NamesATest, repo_nodeid


@dataclass(frozen=True)
class Target(NamesATest):
    """A test to verify: ``nodeid`` as pytest prints it when run from ``rootdir`` (repo-relative)."""

    rootdir: str
    nodeid: str

    @property
    def module(self) -> str:
        return self.nodeid.split("::", 1)[0]

    @property
    def repo_nodeid(self) -> str:
        """The node id relative to the repository root, as ``flaketui verify`` takes it."""
        return repo_nodeid(self.rootdir, self.nodeid)


def target_for(root: Path, nodeid: str, cwd: Path | None = None) -> Target:
    """The rootdir of a repo-relative node id, as discovery finds it (``flaketui.rootdirs``).

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
    rootdir = rootdirs.rootdir_on_disk(root, path_part)
    return Target(rootdir, rootdirs.relative(path_part, rootdir) + nodeid[len(path_part) :])

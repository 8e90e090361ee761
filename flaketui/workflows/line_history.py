"""The commits that changed a test's lines after the commit that wrote them, for its diagnosis.

Asked of git once per test and HEAD (``git log -L``), kept in the state directory: the answer
for a HEAD never changes, and a scan of a large suite must not walk the history again each time.
A test in a file with uncommitted changes gets none (HEAD's line numbers no longer match it).
HEAD and those files are the ones the scan that found the test saw (``gitjobs.Listing``), when
there was one: the tests' lines are that tree's, and git is not asked twice.
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from typing import TYPE_CHECKING

from flaketui import gitjobs, vcs
from flaketui.diagnose.history import span
from flaketui.errors import FlakeTUIError
from flaketui.models import FlakyTest, LineChange

if TYPE_CHECKING:
    from flaketui.workflows.workspace import Workspace

#: How many changes of a test's lines git is asked for; fewer means the list reaches its creation.
LIMIT = 12
FILENAME = "line-history.json"


class LineHistory:
    def __init__(self, workspace: Workspace, seen: gitjobs.Listing | None = None) -> None:
        self.workspace = workspace
        self.seen = seen
        self._entries: dict[str, list[list[str]]] | None = None
        self._dirty = False

    @cached_property
    def _head(self) -> str | None:
        if not self.workspace.is_git:
            return None
        if self.seen is not None:
            return self.seen.head()
        try:
            return vcs.head(self.workspace.root)
        except FlakeTUIError:
            return None

    @cached_property
    def _uncommitted(self) -> frozenset[str]:
        if self.seen is not None:
            # Also the files git is told not to look at: their lines may not be HEAD's either.
            return frozenset(self.seen.unsettled)
        try:
            return frozenset(vcs.status(self.workspace.root))
        except FlakeTUIError:
            return frozenset()

    def later(self, test: FlakyTest) -> tuple[LineChange, ...]:
        """The commits (newest first) that changed the test's lines after the one that wrote them."""
        head = self._head
        if head is None or test.path in self._uncommitted:
            return ()
        start, end = span(test)
        key = f"{head}\0{test.path}\0{start}\0{end}"
        entries = self._load(head)
        if key not in entries:
            found = vcs.line_history(self.workspace.root, test.path, start, end, limit=LIMIT)
            # The oldest change wrote the lines: what its message says is the feature, not a flake.
            later = found[:-1] if len(found) < LIMIT else found
            entries[key] = [[sha, subject, body, str(self._files(sha))] for sha, subject, body in later]
            self._dirty = True
        return tuple(LineChange(sha, subject, body, int(files)) for sha, subject, body, files in entries[key])

    def _files(self, sha: str) -> int:
        try:
            return len(vcs.changed_paths(self.workspace.root, sha))
        except FlakeTUIError:
            return 0

    def _path(self) -> str:
        return str(self.workspace.state_dir() / FILENAME)

    def _load(self, head: str) -> dict[str, list[list[str]]]:
        if self._entries is None:
            try:
                with open(self._path(), encoding="utf-8") as handle:
                    loaded = json.load(handle)
                self._entries = {k: v for k, v in loaded.items() if k.startswith(head + "\0") and _valid(v)}
            except (OSError, ValueError, AttributeError):
                self._entries = {}
        return self._entries

    def save(self) -> None:
        """Keep what git answered (this HEAD's entries only) for the next diagnosis."""
        if not self._dirty or self._entries is None:
            return
        try:
            path = self._path()
            with open(path + ".tmp", "w", encoding="utf-8") as handle:
                json.dump(self._entries, handle)
            os.replace(path + ".tmp", path)
            self._dirty = False
        except OSError:
            pass  # no place for state: asked again next time


def _valid(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(change, list) and len(change) == 4 and all(isinstance(part, str) for part in change)
        and change[3].isdigit()
        for change in value
    )

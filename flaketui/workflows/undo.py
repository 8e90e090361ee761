"""Undo: put back the markers a flaketui fix removed, as a new commit of those files only.

The fix's own record says which markers went and how the files looked; a fix made in
another clone is read from its trailers and its parent commit (a :class:`TreeSnapshot`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flaketui import codemod, vcs
from flaketui.errors import FlakeTUIError
from flaketui.models import CommitRecord, RemovedMarker
from flaketui.workflows import commit_text, removal
from flaketui.workflows.record import Record
from flaketui.workflows.snapshot import TreeSnapshot
from flaketui.workflows.workspace import Workspace


class UndoWorkflow:
    def __init__(self, workspace: Workspace, record: Record) -> None:
        self.workspace = workspace
        self.record = record

    def undo(self, sha: str | None = None, *, on_output: Callable[[str], None] | None = None) -> CommitRecord:
        """Put the marker back as a new commit (the last flaketui commit if no sha)."""
        root = self.workspace.root
        vcs.preflight(root)
        fix_sha = vcs.resolve_commit(root, sha) if sha else self._last_fix_commit()
        fix_message = vcs.commit_message(root, fix_sha)
        trailers = commit_text.trailers(fix_message)
        if commit_text.CATEGORY_TRAILER not in trailers:
            raise FlakeTUIError(
                f"{fix_sha[:12]} is not a flaketui fix commit (it has no {commit_text.CATEGORY_TRAILER}: trailer).",
                "Give the sha of a commit made by `flaketui fix` (see `git log --grep=Flaky-Category`).",
            )
        target = trailers.get(commit_text.TARGET_TRAILER) or fix_message.split("\n", 1)[0].rsplit(" ", 1)[-1]
        recorded, befores = self.record.fix_details(fix_sha)
        if recorded == []:
            raise FlakeTUIError(
                f"{fix_sha[:12]} fixed {target}, which carried no flaky marker: there is no marker to put back.",
                f"`git revert {fix_sha[:12]}` takes the fix itself back.",
            )
        removed = recorded if recorded is not None else self._markers_before(fix_sha, target)
        if not removed:
            raise FlakeTUIError(
                f"flaketui has no record of the markers {fix_sha[:12]} removed, and finds none on "
                f"{target} in its parent commit.",
                f"Put the marker back by hand: `git show {fix_sha[:12]}` shows what was removed.",
            )
        status = vcs.status(root)
        new_contents: dict[str, bytes] = {}
        for path in dict.fromkeys(r.path for r in removed):
            if path in status:
                raise FlakeTUIError(
                    f"{path} has uncommitted changes; the undo commit would sweep them in.",
                    "Commit or stash them first, then undo.",
                )
            if not (root / path).is_file():
                raise FlakeTUIError(
                    f"{path} no longer exists; there is nothing to put the marker back on.",
                    "Restore the marker by hand where the test lives now.",
                )
            current = (root / path).read_bytes()
            committed = vcs.show_file(root, fix_sha, path)
            restored = None
            if path in befores and committed is not None:
                restored = vcs.merge_file(current, committed, befores[path])
            if restored is None:  # edited near the marker since: place it with the codemod
                restored = _restore_markers(current, path, [r for r in removed if r.path == path])
            if restored != current:
                new_contents[path] = restored
        if not new_contents:
            raise FlakeTUIError(
                f"The markers {fix_sha[:12]} removed are already back.",
                f"Nothing to undo; `git show {fix_sha[:12]}` shows what it removed.",
            )
        subject = fix_message.split("\n", 1)[0]
        message = commit_text.undo_message(fix_sha, subject, target)
        paths = list(new_contents)
        new_sha = vcs.commit_paths(root, paths, message, on_output, contents=new_contents)
        record = CommitRecord(sha=new_sha, nodeid=target, message=message, kind="undo", undoes=fix_sha, files=tuple(paths))
        self.record.add_commit(record)
        return record

    def _markers_before(self, fix_sha: str, target: str) -> list[RemovedMarker]:
        """The markers ``target`` carried in the fix commit's parent, found by scanning it: undo
        of a fix made in another clone, whose record this one does not have."""
        with TreeSnapshot(self.workspace.root, f"{fix_sha}^") as parent:
            return removal.removed_markers(removal.select(target, parent.tests()))

    def _last_fix_commit(self) -> str:
        """The newest flaketui fix on this branch that no later flaketui commit undoes."""
        undone: set[str] = set()
        for sha, message in vcs.log_with_trailers(self.workspace.root):
            trailers = commit_text.trailers(message)
            if commit_text.UNDOES_TRAILER in trailers:
                undone.add(trailers[commit_text.UNDOES_TRAILER])
            elif commit_text.CATEGORY_TRAILER in trailers and sha not in undone:
                return sha
        raise FlakeTUIError("No flaketui fix commit to undo on this branch.", "Give the sha: `flaketui undo SHA`.")


def _restore_markers(source: bytes, path: str, removed: Sequence[RemovedMarker]) -> bytes:
    for item in removed:
        result = codemod.restore_marker(
            source, item.marker, item.test_name, item.class_name, test_line=item.test_line, path=path
        )
        if result.after is None:
            raise FlakeTUIError(f"Could not put the marker back in {path}: {result.failure}", "Restore it by hand.")
        source = result.after
    return source

"""What the app's header and the commit path know about the repository."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RepoInfo:
    """What the header shows. ``git_problem`` says why commits are unavailable, if they are."""

    root: str
    name: str
    is_git: bool
    branch: str | None = None
    head: str | None = None
    git_problem: str | None = None
    #: Fingerprint of the uncommitted changes (``vcs.tree_state``): equal to a
    #: verification's ``tree_fingerprint`` when it ran on this very tree.
    fingerprint: str | None = None

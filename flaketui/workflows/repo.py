"""What the header says about the repository, and whether a commit may prompt."""

from __future__ import annotations

from flaketui import vcs
from flaketui.models import RepoInfo
from flaketui.workflows.workspace import Workspace


def repo_info(workspace: Workspace) -> RepoInfo:
    """Name, branch, HEAD, and whether (and why not) commits are possible."""
    root = workspace.root
    if not vcs.is_work_tree(root):
        refusal = vcs.commit_refusal(root)
        problem = refusal.message if refusal else f"{root} is not inside a git work tree."
        return RepoInfo(root=str(root), name=root.name, is_git=False, git_problem=problem)
    refusal = vcs.commit_refusal(root)
    state = vcs.tree_state(root)
    return RepoInfo(
        root=str(root),
        name=root.name,
        is_git=True,
        branch=vcs.branch(root),
        head=state.head,
        git_problem=f"{refusal.message} {refusal.hint}".strip() if refusal else None,
        fingerprint=state.fingerprint,
    )


def commit_needs_terminal(workspace: Workspace) -> bool:
    """Whether a commit may prompt on the terminal (signing is on): the app suspends first."""
    return vcs.is_work_tree(workspace.root) and vcs.signing_needs_terminal(workspace.root)

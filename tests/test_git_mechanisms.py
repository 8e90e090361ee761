"""Two ways to run git, each where its module docstring says why: GitPython for the commit and
undo path (vcs), the git binary through gitjobs.Running for everything else. No third."""

from __future__ import annotations

import ast
from pathlib import Path

from flaketui import gitjobs, vcs
from tests.conftest import MakeRepo, git

PACKAGE = Path(__file__).resolve().parents[1] / "flaketui"


def _modules() -> dict[str, ast.Module]:
    return {
        path.relative_to(PACKAGE.parent).as_posix(): ast.parse(path.read_bytes(), str(path))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def starts_git(tree: ast.Module) -> bool:
    """A list or tuple display that begins with the string "git": a command line for a process."""
    return any(
        isinstance(node, (ast.List, ast.Tuple))
        and node.elts
        and isinstance(node.elts[0], ast.Constant)
        and node.elts[0].value == "git"
        for node in ast.walk(tree)
    )


def imports_gitpython(tree: ast.Module) -> bool:
    return any(
        (isinstance(node, ast.Import) and any(a.name == "git" or a.name.startswith("git.") for a in node.names))
        or (isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "git")
        for node in ast.walk(tree)
    )


def test_the_checks_see_what_they_look_for() -> None:
    assert starts_git(ast.parse('subprocess.run(["git", "status"])'))
    assert not starts_git(ast.parse('print(["gitk"])'))
    assert imports_gitpython(ast.parse("import git as gitpython"))
    assert not imports_gitpython(ast.parse("from flaketui import gitjobs"))


def test_only_gitjobs_starts_the_git_binary() -> None:
    # The probe runs inside the target's interpreter and starts no git at all.
    assert [name for name, tree in _modules().items() if starts_git(tree)] == ["flaketui/gitjobs.py"]


def test_only_vcs_imports_gitpython() -> None:
    assert [name for name, tree in _modules().items() if imports_gitpython(tree)] == ["flaketui/vcs.py"]


def test_the_listing_knows_head_as_vcs_does(make_repo: MakeRepo) -> None:
    # The scan's diagnosis reads HEAD from the listing instead of starting git again.
    unborn = make_repo({"tests/test_a.py": "def test_a(): pass\n"}, commit=False)
    assert gitjobs.start_listing(unborn).result().head() is None is vcs.head(unborn)
    root = make_repo({"tests/test_a.py": "def test_a(): pass\n"})
    (root / "tests/test_a.py").write_text("def test_a(): assert True\n")
    listing = gitjobs.start_listing(root).result()
    assert listing.head() == vcs.head(root) == git(root, "rev-parse", "HEAD").strip()
    assert "tests/test_a.py" in listing.unsettled

"""``e`` in the app: the user's editor at a test's line, in the foreground."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from flaketui.errors import FlakeTUIError


def open_in_editor(root: Path, path: str, line: int) -> None:
    """Run ``$VISUAL``/``$EDITOR`` at the line, in the foreground (the app suspends first)."""
    command = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not command:
        raise FlakeTUIError("Neither $VISUAL nor $EDITOR is set.", "Set one, e.g. `export EDITOR=vim`, then press e.")
    words = shlex.split(command)
    argv = [*words, *editor_position(Path(words[0]).name, str(root / path), line)]
    try:
        subprocess.run(argv, cwd=root, check=False)
    except OSError as exc:
        raise FlakeTUIError(f"Could not start the editor {argv[0]!r}: {exc}", "Check $VISUAL / $EDITOR.") from exc


def editor_position(editor: str, path: str, line: int) -> list[str]:
    """The arguments that open ``path`` at ``line`` in the editors that say how."""
    if editor in ("code", "codium", "code-insiders"):
        return ["--goto", f"{path}:{line}"]
    if editor in ("subl", "zed", "hx", "helix"):
        return [f"{path}:{line}"]
    if editor in ("vi", "vim", "nvim", "nano", "emacs", "emacsclient", "micro", "kak", "joe", "ne", "mg", "jed"):
        return [f"+{line}", path]
    return [path]

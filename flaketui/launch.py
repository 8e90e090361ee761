"""The ``flaketui`` script and ``python -m flaketui`` start here, before anything heavy loads.

Python spends about 70 ms loading click and the models before a command runs; what a scan
first asks git (list the files; for ``--no-cache``, grep them) takes about as long on the
other core. So when the command line asks for a scan, git starts now and the service picks
up its answers (``gitjobs.EarlyScan``). Anything this reading of the arguments does not know
for sure leaves the work to the command itself.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from flaketui import gitjobs
from flaketui.errors import FlakeTUIError  # loaded by gitjobs already

#: Subcommands whose first act is a scan of the repository.
_SCANNING = frozenset({"scan", "check", "audit"})
_SCAN_FLAGS = frozenset({"--json", "--no-cache", "--collect", "--github"})


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    early = early_scan(args)
    # A scanning command ends once it has printed. What the scan built (the syntax trees of
    # every parsed module) would only be walked by the cyclic collector and then freed
    # object by object at exit: a third of a cold scan's time, for nothing.
    fast_exit = early is not None and argv is None
    if fast_exit:
        gc.disable()
    try:
        from flaketui.cli import main as run

        code = run(args, early=early)
    finally:
        if early is not None:
            early.close()  # unused, or already joined: either way no git is left running
    if fast_exit:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:  # a reader that went away (| head): nothing more to say
            pass
        os._exit(code)
    return code


def early_scan(args: list[str]) -> gitjobs.EarlyScan | None:
    """git's first answers for the scan this command line asks for, already started; None
    when it asks for none, or in a way this reading does not follow (then nothing starts)."""
    directory = "."
    position = 0
    while position < len(args) and args[position].startswith("-"):
        option = args[position]
        if option == "-C" and position + 1 < len(args):
            directory = args[position + 1]
            position += 2
        elif option == "--python" and position + 1 < len(args):
            position += 2
        elif option.startswith("--python="):
            position += 1
        else:
            return None  # --help, --version, -Cpath: leave them to click
    if position >= len(args) or args[position] not in _SCANNING:
        return None
    command, rest = args[position], args[position + 1 :]
    target: str | None = None
    for token in rest:
        if token in _SCAN_FLAGS:
            continue
        if command == "scan" and not token.startswith("-") and target is None:
            target = token  # scan's PATH (the service resolves it like this too)
            continue
        return None
    if target is None:
        target = directory
    try:
        root = gitjobs.find_root(Path(target))
    except (OSError, FlakeTUIError):
        return None
    if not os.path.exists(root / ".git"):
        return None
    patterns = None  # a cached answer may need no grep
    if command == "scan" and "--no-cache" in rest:
        from flaketui.discover.files import READ_PATTERNS

        patterns = READ_PATTERNS
    try:
        return gitjobs.EarlyScan(root, read_patterns=patterns)
    except FlakeTUIError:
        return None  # no git to start: the command itself says so, with what to do

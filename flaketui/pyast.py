"""``ast.parse``, one at a time in the process: every parse in flaketui goes through here.

CPython 3.11 keeps the AST constructor's recursion depth in state that all threads share. When
a thread switch lands in the middle of building a tree (a garbage collection runs Python code),
a parse in another thread moves that depth, and the first one fails with ``SystemError: AST
constructor recursion depth mismatch``. The app parses in several workers at once (the scan,
the background diagnosis, the row the cursor rests on, a proposal), and such an error failed a
diagnosis worker in the app benchmark. Parsing holds the GIL anyway, so one lock costs nothing
worth measuring.
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.Lock()


def parse_module(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    with _LOCK:
        return ast.parse(source, filename=filename)


def parse_expression(source: str) -> ast.Expression:
    with _LOCK:
        return ast.parse(source, mode="eval")

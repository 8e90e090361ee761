"""Parsing from several threads at once: every parse goes through flaketui.pyast's lock."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import flaketui
from flaketui import pyast

PACKAGE = Path(flaketui.__file__).parent


def test_every_parse_in_flaketui_goes_through_the_lock() -> None:
    # ast.literal_eval parses too: the same shared state.
    direct = re.compile(r"\bast\.(parse|literal_eval)\(|\bliteral_eval\(|mode=\"eval\"|PyCF_ONLY_AST")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "pyast.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if direct.search(line)
    ]
    assert offenders == []


def test_a_parse_holds_the_lock_and_returns_the_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    held = []
    real = ast.parse

    def spy(*args: object, **kwargs: object) -> ast.AST:
        held.append(pyast._LOCK.locked())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ast, "parse", spy)
    module = pyast.parse_module(b"x = 1\n", filename="m.py")
    expression = pyast.parse_expression("(\nflaky(reruns=2)\n)")
    assert held == [True, True]
    assert isinstance(module.body[0], ast.Assign)
    assert isinstance(expression.body, ast.Call)
    assert not pyast._LOCK.locked()


def test_a_syntax_error_leaves_the_lock_free() -> None:
    with pytest.raises(SyntaxError):
        pyast.parse_module("def broken(:\n")
    assert not pyast._LOCK.locked()

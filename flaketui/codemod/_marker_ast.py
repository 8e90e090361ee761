"""A marker's source text as the standard ``ast`` reads it: shared by the codemod, which
locates the marker, and ``check``, which verifies the removal without trusting the codemod
(so this module uses the standard library only)."""

from __future__ import annotations

import ast

from flaketui.pyast import parse_expression


def parse_marker(source: str) -> ast.expr | None:
    """``@pytest.mark.flaky(reruns=2)``, a ``pytestmark`` value... as one expression; None when
    it does not parse on its own."""
    text = source.strip().removeprefix("@").strip()
    try:
        return parse_expression(f"(\n{text}\n)").body
    except SyntaxError:
        return None


def listed(source: str) -> list[ast.expr]:
    """The elements of the lists and tuples in a marker's source (``[a, b]`` -> ``a``, ``b``)."""
    tree = parse_marker(source)
    if tree is None:
        return []
    return [element for n in ast.walk(tree) if isinstance(n, (ast.List, ast.Tuple)) for element in n.elts]

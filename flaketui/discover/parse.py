"""Bytes to an ``ast`` tree: the standard parser first, libcst for grammars newer than ours.

The standard ``ast`` knows only the running interpreter's grammar; libcst's parser knows
every grammar up to 3.14. A file ``ast`` rejects is parsed with libcst, stripped of the
newer syntax that carries no marker (type parameters, ``type`` aliases) and handed back to
``ast``; the stripping keeps every line where it was, so reported lines stay exact.
"""

from __future__ import annotations

import ast
import codecs
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flaketui.pyast import parse_module

if TYPE_CHECKING:
    import libcst

_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


@dataclass(frozen=True)
class ParsedSource:
    tree: ast.Module
    text: str
    lines: list[str]

    def segment(self, node: ast.expr | ast.stmt) -> str:
        """The source text of ``node`` (``ast`` columns count UTF-8 bytes, not characters)."""
        start, end = node.lineno, node.end_lineno or node.lineno
        col, end_col = node.col_offset, node.end_col_offset
        if start == end:
            return self.lines[start - 1].encode()[col:end_col].decode(errors="replace")
        parts = [self.lines[start - 1].encode()[col:].decode(errors="replace")]
        parts.extend(self.lines[start : end - 1])
        parts.append(self.lines[end - 1].encode()[:end_col].decode(errors="replace"))
        return "\n".join(parts)


class Unparsable(Exception):
    """A file that is not Python we can read; the message is the reason shown to the user."""


def decode(data: bytes) -> str:
    if b"\0" in data:
        raise Unparsable("binary file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # PEP 263: a declared encoding is as valid as UTF-8 for Python itself.
    for line in data.splitlines()[:2]:
        match = _CODING.match(line)
        if match:
            try:
                return data.decode(codecs.lookup(match.group(1).decode("ascii")).name)
            except (LookupError, UnicodeDecodeError):
                break
    raise Unparsable("not UTF-8")


def parse(data: bytes, filename: str = "<unknown>") -> ParsedSource:
    text = decode(data)
    try:
        tree = parse_module(text, filename=filename)
    except SyntaxError as error:
        tree = _parse_newer_grammar(text, filename, error)
    except ValueError as error:  # e.g. "source code string cannot contain null bytes"
        raise Unparsable(f"cannot parse: {error}") from error
    return ParsedSource(tree, text, text.splitlines())


def _parse_newer_grammar(text: str, filename: str, error: SyntaxError) -> ast.Module:
    import libcst

    try:
        module = libcst.parse_module(text)
    except libcst.ParserSyntaxError:
        raise Unparsable(f"syntax error at line {error.lineno}: {error.msg}") from None
    downgraded = module.visit(_strip_newer_syntax()).code
    try:
        return parse_module(downgraded, filename=filename)
    except SyntaxError as second:
        raise Unparsable(f"syntax newer than Python {_running()} at line {second.lineno}: {second.msg}") from None


def _running() -> str:
    import sys

    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _strip_newer_syntax() -> libcst.CSTTransformer:
    import libcst  # built on demand: most files parse with ast, and libcst is slow to import

    class StripNewerSyntax(libcst.CSTTransformer):
        """Removes PEP 695 type parameters and turns ``type X = ...`` into ``X = ...``."""

        def leave_FunctionDef(self, original: libcst.FunctionDef, updated: libcst.FunctionDef) -> libcst.FunctionDef:
            return updated.with_changes(type_parameters=None) if updated.type_parameters else updated

        def leave_ClassDef(self, original: libcst.ClassDef, updated: libcst.ClassDef) -> libcst.ClassDef:
            if not updated.type_parameters:
                return updated
            return updated.with_changes(type_parameters=None)

        def leave_TypeAlias(self, original: libcst.TypeAlias, updated: libcst.TypeAlias) -> libcst.Assign:
            return libcst.Assign(targets=[libcst.AssignTarget(updated.name)], value=updated.value)

    return StripNewerSyntax()

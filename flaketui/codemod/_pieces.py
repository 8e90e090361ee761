"""A module's text kept as the text of each top-level statement.

libcst generates code and positions by walking the whole tree, which takes seconds for the
8,000-line test modules real projects have. A marker sits in one top-level statement: only
that one gets positions, and after a removal only the statements that changed are generated
again. The pieces are checked once against the file's own text; when they do not add up (a
file without a final newline) everything is generated whole, which is slower but as exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import CodePosition, CodeRange, MetadataWrapper, PositionProvider

Positions = dict[cst.CSTNode, CodeRange]


@dataclass(frozen=True)
class ModuleText:
    module: cst.Module
    #: The code of each top-level statement by ``id`` (empty when ``whole``).
    pieces: dict[int, str]
    header: str
    footer: str
    #: True when the module is only ever generated as a whole.
    whole: bool = False
    whole_text: str = ""

    @property
    def text(self) -> str:
        if self.whole:
            return self.whole_text
        return self.header + "".join(self.pieces[id(s)] for s in self.module.body) + self.footer

    def statements_at(self, lines: Iterable[int]) -> list[cst.BaseStatement]:
        """The top-level statements whose text spans any of these lines."""
        wanted = sorted(set(lines))
        if self.whole:
            return list(self.module.body)
        found: list[cst.BaseStatement] = []
        line = 1 + self.header.count("\n")
        for statement in self.module.body:
            height = self.pieces[id(statement)].count("\n")
            if any(line <= w < line + height for w in wanted):
                found.append(statement)
            line += height
        return found

    def positions(self, statements: Iterable[cst.BaseStatement]) -> Positions:
        """Positions (file lines) of every node in these top-level statements."""
        if self.whole:
            return dict(MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider))
        starts: dict[int, int] = {}
        line = 1 + self.header.count("\n")
        for top in self.module.body:
            starts[id(top)] = line
            line += self.pieces[id(top)].count("\n")
        result: Positions = {}
        for statement in statements:
            alone = self.module.with_changes(body=[statement], header=[], footer=[])
            offset = starts[id(statement)] - 1
            for node, span in MetadataWrapper(alone, unsafe_skip_copy=True).resolve(PositionProvider).items():
                result[node] = CodeRange(
                    CodePosition(span.start.line + offset, span.start.column),
                    CodePosition(span.end.line + offset, span.end.column),
                )
        return result

    def changed_text(self, other: ModuleText) -> tuple[str, str]:
        """The text of what differs between ``self`` (before) and ``other`` (after): the
        statements only one of them has, with header and footer."""
        if self.whole or other.whole:
            return self.text, other.text
        mine = {id(s) for s in self.module.body}
        theirs = {id(s) for s in other.module.body}
        before = "".join(self.pieces[id(s)] for s in self.module.body if id(s) not in theirs)
        after = "".join(other.pieces[id(s)] for s in other.module.body if id(s) not in mine)
        return self.header + before + self.footer, other.header + after + other.footer

    def with_module(self, module: cst.Module) -> ModuleText:
        """The text of ``module``, a changed copy of this one: unchanged statements (the very
        same objects, which ``self`` keeps alive so their ids stay theirs) are not generated again."""
        if self.whole:
            return ModuleText(module, {}, "", "", whole=True, whole_text=module.code)
        pieces = {
            id(s): self.pieces[id(s)] if id(s) in self.pieces else _statement_code(module, s) for s in module.body
        }
        return ModuleText(module, pieces, _lines_code(module, module.header), _lines_code(module, module.footer))


def module_text(module: cst.Module, text: str) -> ModuleText | None:
    """The module as pieces, or None when libcst would not give ``text`` back exactly."""
    if module.has_trailing_newline:
        pieces = {id(s): _statement_code(module, s) for s in module.body}
        split = ModuleText(module, pieces, _lines_code(module, module.header), _lines_code(module, module.footer))
        if split.text == text:
            return split
    if module.code == text:
        return ModuleText(module, {}, "", "", whole=True, whole_text=text)
    return None


def _statement_code(module: cst.Module, statement: cst.BaseStatement) -> str:
    return module.with_changes(body=[statement], header=[], footer=[]).code


def _lines_code(module: cst.Module, lines: Iterable[cst.EmptyLine]) -> str:
    # Module-level empty lines carry no indentation, so they are simply these parts.
    return "".join(
        line.whitespace.value + (line.comment.value if line.comment else "") + (line.newline.value or module.default_newline)
        for line in lines
    )

"""Removing nodes from a libcst tree while keeping every other byte where it was.

The removal itself is ``RemoveFromParent()``; the parents' ``leave_*`` methods then close the
gap: commas and semicolons at the end of a sequence, and the comment lines that libcst hangs
on a removed node but that belong to the code around it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import libcst as cst
import libcst.matchers as m

Item = TypeVar("Item", bound=cst.CSTNode)
Bracketed = TypeVar("Bracketed", cst.List, cst.Tuple)
Decorated = TypeVar("Decorated", cst.FunctionDef, cst.ClassDef)

_SMALL_STATEMENTS = (cst.Assign, cst.AnnAssign, cst.AugAssign, cst.Import, cst.ImportFrom)


Parents = Mapping[int, cst.CSTNode]


def escalate(parents: Parents, doomed: Collection[cst.CSTNode]) -> dict[int, cst.CSTNode]:
    """The nodes to remove (by ``id``) so that no emptied container or statement stays behind.

    A ``pytestmark`` list whose every element goes takes its statement with it, a ``marks=``
    list its argument, an import its last name, a line its last statement.
    """
    gone: dict[int, cst.CSTNode] = {id(node): node for node in doomed}
    frontier = list(doomed)
    while frontier:
        node = frontier.pop()
        parent = parents.get(id(node))
        if parent is None:
            continue
        owner = _emptied_owner(parent, gone, parents)
        if owner is not None and id(owner) not in gone:
            gone[id(owner)] = owner
            frontier.append(owner)
    return gone


def _emptied_owner(parent: cst.CSTNode, gone: Mapping[int, cst.CSTNode], parents: Parents) -> cst.CSTNode | None:
    if isinstance(parent, (cst.List, cst.Tuple)) and all(id(e) in gone for e in parent.elements):
        owner = parents.get(id(parent))
        if isinstance(owner, (cst.Arg, *_SMALL_STATEMENTS)):
            return owner
        return None
    if isinstance(parent, (cst.Import, cst.ImportFrom)) and not isinstance(parent.names, cst.ImportStar):
        return parent if all(id(a) in gone for a in parent.names) else None
    if isinstance(parent, cst.SimpleStatementLine) and all(id(s) in gone for s in parent.body):
        return parent
    return None


def outermost(parents: Parents, gone: Mapping[int, cst.CSTNode]) -> list[cst.CSTNode]:
    """The removed nodes that are not inside another removed node."""
    tops = []
    for node in gone.values():
        parent = parents.get(id(node))
        while parent is not None and id(parent) not in gone:
            parent = parents.get(id(parent))
        if parent is None:
            tops.append(node)
    return tops


def ancestors(parents: Parents, nodes: Collection[cst.CSTNode]) -> set[int]:
    found: set[int] = set()
    for node in nodes:
        parent = parents.get(id(node))
        while parent is not None and id(parent) not in found:
            found.add(id(parent))
            parent = parents.get(id(parent))
    return found


def dropped_comments(node: cst.CSTNode) -> list[str]:
    """The comments that go with a removed node: all inside it except the lines above it and
    those under its comma, which the removal moves to what follows."""
    comments = [c.value for c in m.findall(node, m.Comment()) if isinstance(c, cst.Comment)]
    moved = [*getattr(node, "leading_lines", ()), *_comment_lines_after(getattr(node, "comma", None))]
    for line in moved:
        if line.comment is not None and line.comment.value in comments:
            comments.remove(line.comment.value)
    return comments


@dataclass
class _Gap:
    """The whitespace after a sequence's opening bracket and before its closing one."""

    opening: Any
    closing: Any


class NodeRemover(cst.CSTTransformer):
    """Removes the nodes whose ids are given and closes the gaps they leave."""

    def __init__(self, gone: Collection[int], path: Collection[int]) -> None:
        super().__init__()
        self.gone = gone
        #: The ancestors of removed nodes: the only subtrees worth rebuilding.
        self.path = path
        self.lost_comment = False
        #: Comments that sat on a removed line outside the removed nodes (after a last element).
        self.dropped: list[str] = []

    # Removal: a removed subtree is not visited, so its emptied children never get validated.
    def on_visit(self, node: cst.CSTNode) -> bool:
        if id(node) in self.gone or id(node) not in self.path:
            return False
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            # libcst validates an import as soon as its names change, before ``leave_*`` could
            # fix the comma left dangling by ``import a, b`` minus ``b``: filter names there.
            return False
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Any:
        if id(original_node) in self.gone:
            return cst.RemoveFromParent()
        if id(original_node) not in self.path:
            return updated_node
        return super().on_leave(original_node, updated_node)

    # Gaps in comma-separated sequences.
    def leave_List(self, original_node: cst.List, updated_node: cst.List) -> cst.BaseExpression:
        return self._close_brackets(original_node, updated_node)

    def leave_Tuple(self, original_node: cst.Tuple, updated_node: cst.Tuple) -> cst.BaseExpression:
        closed = self._close_brackets(original_node, updated_node)
        if len(closed.elements) == 1 and closed.elements[0].comma is cst.MaybeSentinel.DEFAULT:
            # ``(a, b)`` minus ``b`` must stay a tuple: ``(a,)``, not ``(a)``.
            only = closed.elements[0].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace("")))
            closed = closed.with_changes(elements=[only])
        return closed

    def _close_brackets(self, original: Bracketed, updated: Bracketed) -> Bracketed:
        gap = _Gap(_opening_of(updated), _closing_of(updated))
        elements = self._close(original.elements, updated.elements, gap)
        return _with_brackets(updated.with_changes(elements=elements), gap)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        gap = _Gap(updated_node.whitespace_before_args, None)
        args = self._close(original_node.args, updated_node.args, gap)
        return updated_node.with_changes(args=args, whitespace_before_args=gap.opening)

    def leave_ImportFrom(self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom) -> cst.ImportFrom:
        if isinstance(original_node.names, cst.ImportStar) or isinstance(updated_node.names, cst.ImportStar):
            return updated_node
        lpar, rpar = updated_node.lpar, updated_node.rpar
        gap = _Gap(lpar.whitespace_after if lpar else None, rpar.whitespace_before if rpar else None)
        names = self._close(original_node.names, self._kept(original_node.names), gap)
        if lpar and rpar:
            return updated_node.with_changes(
                names=names,
                lpar=lpar.with_changes(whitespace_after=gap.opening),
                rpar=rpar.with_changes(whitespace_before=gap.closing),
            )
        return updated_node.with_changes(names=names)

    def leave_Import(self, original_node: cst.Import, updated_node: cst.Import) -> cst.Import:
        names = self._close(original_node.names, self._kept(original_node.names), _Gap(None, None))
        return updated_node.with_changes(names=names)

    def _kept(self, names: Sequence[cst.ImportAlias]) -> list[cst.ImportAlias]:
        return [alias for alias in names if id(alias) not in self.gone]

    def _close(self, original: Sequence[Any], updated: Sequence[Any], gap: _Gap) -> list[Any]:
        """Kept items keep their own commas, except that the new last item ends as the old last
        one did; comment lines that hung on a removed item move into the gap it leaves."""
        result: list[Any] = []
        kept = iter(updated)
        pending: list[cst.EmptyLine] = []
        for item in original:
            if id(item) in self.gone:
                pending.extend(_comment_lines_after(item.comma))
                continue
            current = next(kept)
            if pending:
                if result and _can_hold_lines(result[-1].comma):
                    result[-1] = result[-1].with_changes(comma=_add_lines(result[-1].comma, pending))
                elif not result and isinstance(gap.opening, cst.ParenthesizedWhitespace):
                    gap.opening = gap.opening.with_changes(empty_lines=[*gap.opening.empty_lines, *pending])
                else:
                    self.lost_comment = True
                pending = []
            result.append(current)
        if original and id(original[-1]) in self.gone and result:
            # The last removed item's own comment lines travel with its comma.
            between = pending[: len(pending) - len(_comment_lines_after(original[-1].comma))]
            result[-1] = self._end_like(result[-1], original[-1], between, gap)
        elif pending:
            self.lost_comment = True
        return result

    def _end_like(self, item: Any, last: Any, between: list[cst.EmptyLine], gap: _Gap) -> Any:
        """``item`` (now last) ends as ``last`` did: ``[a, b]`` -> ``[a]``, a trailing comma and
        the line break before the bracket kept, and the comments on and under ``item``'s line."""
        own: cst.Comma = item.comma
        ending = last.comma
        after_last = getattr(last, "whitespace_after_arg", None)
        mine = own.whitespace_after
        if isinstance(gap.closing, cst.ParenthesizedWhitespace) and isinstance(mine, cst.ParenthesizedWhitespace):
            # The line break before the bracket now follows ``item``'s line, with its comments;
            # a comment that ended the removed last item's line goes with that line.
            if gap.closing.first_line.comment is not None:
                self.dropped.append(gap.closing.first_line.comment.value)
            gap.closing = gap.closing.with_changes(
                first_line=mine.first_line, empty_lines=[*mine.empty_lines, *between, *gap.closing.empty_lines]
            )
            if isinstance(ending, cst.Comma):
                return item.with_changes(comma=own.with_changes(whitespace_after=cst.SimpleWhitespace("")))
            return item.with_changes(comma=ending)
        if not _has_comment(own) and not between:
            if isinstance(item, cst.Arg) and ending is cst.MaybeSentinel.DEFAULT and after_last is not None:
                return item.with_changes(comma=ending, whitespace_after_arg=after_last)
            return item.with_changes(comma=_without_line_comment(ending))
        assert isinstance(mine, cst.ParenthesizedWhitespace)
        lines = [*mine.empty_lines, *between]
        for tail in (ending.whitespace_after if isinstance(ending, cst.Comma) else None, after_last):
            if isinstance(tail, cst.ParenthesizedWhitespace):
                merged = tail.with_changes(first_line=mine.first_line, empty_lines=[*lines, *tail.empty_lines])
                return item.with_changes(comma=own.with_changes(whitespace_after=merged))
        # A trailing comma is valid wherever a comment can be, and keeps the comment.
        if between:
            self.lost_comment = True
        return item

    # Gaps in statement lines.
    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine:
        if original_node.body and id(original_node.body[-1]) in self.gone and updated_node.body:
            # ``a = 1; pytestmark = x`` minus the mark keeps no dangling ``;``.
            last = updated_node.body[-1].with_changes(semicolon=original_node.body[-1].semicolon)
            return updated_node.with_changes(body=[*updated_node.body[:-1], last])
        return updated_node

    # Comments above a removed decorator or statement belong to what follows it.
    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        return self._carry_decorator_lines(original_node, updated_node)

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        return self._carry_decorator_lines(original_node, updated_node)

    def _carry_decorator_lines(self, original: Decorated, updated: Decorated) -> Decorated:
        decorators, rest = _carry_lines(original.decorators, updated.decorators, self.gone)
        if rest:
            after = _merge_lines(rest, list(updated.lines_after_decorators))
            return updated.with_changes(decorators=decorators, lines_after_decorators=after)
        return updated.with_changes(decorators=decorators)

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        body, rest = _carry_lines(original_node.body, updated_node.body, self.gone)
        # Blank lines that separated a removed last statement from the one above would only
        # trail the file now; its comments stay.
        rest = [line for line in rest if line.comment is not None]
        return updated_node.with_changes(body=body, footer=_merge_lines(rest, list(updated_node.footer)))

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        body, rest = _carry_lines(original_node.body, updated_node.body, self.gone)
        if not body:
            # A class whose body was only ``pytestmark = ...`` still needs a body.
            return updated_node.with_changes(body=[cst.SimpleStatementLine([cst.Pass()], leading_lines=rest)])
        return updated_node.with_changes(body=body, footer=_merge_lines(rest, list(updated_node.footer)))


def _carry_lines(original: Sequence[Item], updated: Sequence[Item], gone: Collection[int]) -> tuple[list[Item], list[cst.EmptyLine]]:
    result: list[Item] = []
    kept = iter(updated)
    carried: list[cst.EmptyLine] = []
    at_start = False
    for index, item in enumerate(original):
        if id(item) in gone:
            at_start = at_start or index == 0
            carried = _merge_lines(carried, list(getattr(item, "leading_lines", ())))
            continue
        current = next(kept)
        if carried or at_start:
            existing = list(getattr(current, "leading_lines", ()))  # decorators and statements have them
            if at_start:
                # What now opens the block should not open it with the blank lines that used
                # to separate it from the removed statement.
                while existing and existing[0].comment is None:
                    existing.pop(0)
                current = current.with_changes(leading_lines=[*carried, *existing])
            else:
                current = current.with_changes(leading_lines=_merge_lines(carried, existing))
            carried = []
        at_start = False
        result.append(current)
    return result, carried


def _merge_lines(carried: list[cst.EmptyLine], existing: list[cst.EmptyLine]) -> list[cst.EmptyLine]:
    """Comment lines are all kept; blank lines are not stacked (the larger gap wins)."""
    if any(line.comment is not None for line in carried):
        return [*carried, *existing]
    return carried if len(carried) > len(existing) else existing


def _comment_lines_after(comma: Any) -> list[cst.EmptyLine]:
    if isinstance(comma, cst.Comma) and isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace):
        return [line for line in comma.whitespace_after.empty_lines if line.comment is not None]
    return []


def _without_line_comment(comma: Any) -> Any:
    """A removed item's comma, minus the comment on the removed item's own line."""
    if _can_hold_lines(comma) and comma.whitespace_after.first_line.comment is not None:
        after = comma.whitespace_after
        return comma.with_changes(whitespace_after=after.with_changes(first_line=cst.TrailingWhitespace()))
    return comma


def _can_hold_lines(comma: Any) -> bool:
    return isinstance(comma, cst.Comma) and isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace)


def _add_lines(comma: cst.Comma, lines: list[cst.EmptyLine]) -> cst.Comma:
    after = comma.whitespace_after
    assert isinstance(after, cst.ParenthesizedWhitespace)
    return comma.with_changes(whitespace_after=after.with_changes(empty_lines=[*after.empty_lines, *lines]))


def _has_comment(comma: Any) -> bool:
    if not isinstance(comma, cst.Comma) or not isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace):
        return False
    after = comma.whitespace_after
    return after.first_line.comment is not None or any(line.comment is not None for line in after.empty_lines)


def _opening_of(node: cst.List | cst.Tuple) -> cst.BaseParenthesizableWhitespace | None:
    if isinstance(node, cst.List):
        return node.lbracket.whitespace_after
    if node.lpar:
        return node.lpar[0].whitespace_after
    return None


def _closing_of(node: cst.List | cst.Tuple) -> cst.BaseParenthesizableWhitespace | None:
    if isinstance(node, cst.List):
        return node.rbracket.whitespace_before
    if node.rpar:
        return node.rpar[-1].whitespace_before
    return None


def _with_brackets(node: Bracketed, gap: _Gap) -> Bracketed:
    if isinstance(node, cst.List):
        return node.with_changes(
            lbracket=node.lbracket.with_changes(whitespace_after=gap.opening),
            rbracket=node.rbracket.with_changes(whitespace_before=gap.closing),
        )
    if node.lpar and node.rpar:
        return node.with_changes(
            lpar=[node.lpar[0].with_changes(whitespace_after=gap.opening), *node.lpar[1:]],
            rpar=[*node.rpar[:-1], node.rpar[-1].with_changes(whitespace_before=gap.closing)],
        )
    return node

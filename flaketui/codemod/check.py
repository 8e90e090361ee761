"""An independent check of a removal, with the standard ``ast`` and ``tokenize`` only.

It does not trust the codemod: from the file before, the markers and the file after, it decides
whether the result compiles, whether its tree is the old tree minus those markers and minus
imports/aliases that nothing reads any more, whether every comment off the removed lines is
still there, and whether the line diff stays on the removed lines. The property tests and
``benchmarks/codemod_roundtrip.py`` count corruptions with it.
"""

from __future__ import annotations

import ast
import difflib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from flaketui.codemod._marker_ast import listed, parse_marker
from flaketui.codemod._safety import comments_by_line
from flaketui.models import Marker
from flaketui.pyast import parse_module

_MARK_WORDS = {"mark", "flaky"}

#: The nodes that carry a position (``ast.AST`` itself declares none).
Located = ast.expr | ast.stmt | ast.keyword | ast.alias
#: Takes a found marker out of the tree; returns the lines it spanned.
Remover = Callable[[], set[int]]
_Node = TypeVar("_Node", bound=Located)
_Owner = TypeVar("_Owner", bound=Located)
_Line = TypeVar("_Line", str, bytes)


@dataclass
class _Stripped:
    exprs: list[ast.expr] = field(default_factory=list)
    lines: set[int] = field(default_factory=set)
    missing: list[Marker] = field(default_factory=list)


def removal_problems(before: bytes, after: bytes, markers: Sequence[Marker]) -> list[str]:
    """What is wrong with ``after`` as ``before`` minus ``markers``; empty when nothing is."""
    try:
        old = parse_module(before)
    except SyntaxError:
        return []  # newer syntax than this Python reads: nothing to compare against
    try:
        new = parse_module(after)
    except SyntaxError as error:
        return [f"the result does not compile: {error}"]
    stripped = _strip_markers(old, markers)
    problems = [f"marker not found in the original: line {m.line} {m.source!r}" for m in stripped.missing]
    old_defs, old_lines = _pop_definitions(old)
    new_defs, _ = _pop_definitions(new)
    if _dump(old) != _dump(new):
        problems.append("the tree differs beyond the removal")
    problems += _definition_problems(old_defs, new_defs, new, stripped)
    dropped_lines = {line for key, lines in old_lines.items() if key not in {k for k, _ in new_defs} for line in lines}
    removed = stripped.lines | dropped_lines
    problems += _comment_problems(before, after, removed)
    problems += _diff_problems(before, after, removed)
    if b"\r\n" in before and after.replace(b"\r\n", b"").count(b"\n"):
        problems.append("CRLF line endings were not kept")
    return problems


def _dump(tree: ast.AST) -> str:
    return ast.dump(tree, include_attributes=False)


def _same(node: ast.expr, source: str) -> bool:
    wanted = parse_marker(source)
    return wanted is not None and _dump(node) == _dump(wanted)


def _parts(source: str) -> set[str]:
    return {_dump(element) for element in listed(source)}


def _chain(node: ast.expr) -> list[str]:
    names: list[str] = []
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            return [*names, node.id]
        else:
            return names


def _is_pytestmark(statement: ast.stmt) -> ast.expr | None:
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
    elif isinstance(statement, (ast.AugAssign, ast.AnnAssign)):
        target = statement.target
    else:
        return None
    if isinstance(target, ast.Name) and target.id == "pytestmark":
        return statement.value
    return None


def _spans(node: Located, line: int) -> bool:
    return node.lineno <= line <= (node.end_lineno or node.lineno)


def _strip_markers(tree: ast.Module, markers: Sequence[Marker]) -> _Stripped:
    """Remove each marker's expression from ``tree`` in place, as the codemod should."""
    result = _Stripped()
    for marker in markers:
        candidates = list(_candidates(tree, marker.line))
        exact = [c for c in candidates if _same(c[0], marker.source) or (marker.via and _chain(c[0])[-1:] == [marker.via])]
        if not exact:
            inside = [c for c in candidates if "flaky" in _chain(c[0]) and _dump(c[0]) in _parts(marker.source)]
            exact = inside if len(inside) == 1 else []
        if not exact:
            result.missing.append(marker)
            continue
        expr, remove = min(exact, key=lambda c: (c[0].lineno != marker.line, (c[0].end_lineno or 0) - c[0].lineno))
        result.exprs.append(expr)
        result.lines.update(remove())
    _fill_empty_bodies(tree)
    return result


def _lines_of(node: Located) -> set[int]:
    return set(range(node.lineno, (node.end_lineno or node.lineno) + 1))


def _candidates(tree: ast.Module, line: int) -> Iterator[tuple[ast.expr, Remover]]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for decorator in node.decorator_list:
                if _spans(decorator, line):
                    yield decorator, _remover(node.decorator_list, decorator, decorator)
        body = getattr(node, "body", None)
        if isinstance(body, list):
            for statement in body:
                value = _is_pytestmark(statement) if isinstance(statement, ast.stmt) else None
                if value is None:
                    continue
                if isinstance(value, (ast.List, ast.Tuple)):
                    for element in value.elts:
                        if _spans(element, line):
                            yield element, _element_remover(value.elts, element, body, statement)
                elif _spans(value, line):
                    yield value, _remover(body, statement, statement)
        if isinstance(node, ast.Call) and _chain(node.func)[:1] == ["param"]:
            for keyword in node.keywords:
                if keyword.arg != "marks":
                    continue
                if isinstance(keyword.value, (ast.List, ast.Tuple)):
                    for element in keyword.value.elts:
                        if _spans(element, line):
                            yield element, _element_remover(keyword.value.elts, element, node.keywords, keyword)
                elif _spans(keyword.value, line):
                    yield keyword.value, _remover(node.keywords, keyword, keyword)


def _remover(container: list[_Node], item: _Node, span: Located) -> Remover:
    def remove() -> set[int]:
        container.remove(item)
        return _lines_of(span)

    return remove


def _element_remover(
    elements: list[ast.expr], element: ast.expr, owner_list: list[_Owner], owner: _Owner
) -> Remover:
    def remove() -> set[int]:
        elements.remove(element)
        if not elements:
            owner_list.remove(owner)
            return _lines_of(owner)
        return _lines_of(element)

    return remove


def _fill_empty_bodies(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and not node.body:
            node.body.append(ast.Pass())


DefinitionKey = tuple[str, ...]


def _pop_definitions(tree: ast.Module) -> tuple[list[tuple[DefinitionKey, str]], dict[DefinitionKey, set[int]]]:
    """Take the module-level imports and marker aliases out of ``tree``; return them in order
    as (key, bound name), and the lines each sits on."""
    found: list[tuple[DefinitionKey, str]] = []
    lines: dict[DefinitionKey, set[int]] = {}
    kept: list[ast.stmt] = []
    for statement in tree.body:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            for alias in statement.names:
                module = statement.module if isinstance(statement, ast.ImportFrom) else None
                key: DefinitionKey = ("import", str(module), str(getattr(statement, "level", 0)), alias.name, str(alias.asname))
                bound = alias.asname or alias.name.split(".")[0]
                found.append((key, bound))
                span = _lines_of(statement) if len(statement.names) == 1 else _lines_of(alias)
                lines[key] = span
            continue
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and _MARK_WORDS.intersection(_chain(statement.value))
        ):
            key = ("alias", statement.targets[0].id, _dump(statement.value))
            found.append((key, statement.targets[0].id))
            lines[key] = _lines_of(statement)
            continue
        kept.append(statement)
    tree.body = kept
    return found, lines


def _loaded_names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _definition_problems(
    old: list[tuple[DefinitionKey, str]], new: list[tuple[DefinitionKey, str]], new_tree: ast.Module, stripped: _Stripped
) -> list[str]:
    problems: list[str] = []
    new_keys = [k for k, _ in new]
    remaining = [k for k, _ in old if k in set(new_keys)]
    if remaining != new_keys:
        problems.append("imports were added or reordered")
    # What the removal may free: names the markers read, then names the dropped aliases read.
    allowed: set[str] = set()
    for expr in stripped.exprs:
        allowed |= _loaded_names(expr)
    dropped = [(k, name) for k, name in old if k not in set(new_keys)]
    used_after = _loaded_names(new_tree) | {n for k, n in new if k[0] == "alias"}
    for key, name in dropped:
        if name in used_after:
            problems.append(f"{name} was dropped but is still used")
        elif name not in allowed and not _read_by_dropped_alias(name, dropped):
            problems.append(f"{name} was dropped though the removal did not free it")
    return problems


def _read_by_dropped_alias(name: str, dropped: list[tuple[DefinitionKey, str]]) -> bool:
    # An alias value is kept as its dump; a name it reads shows up as ``Name(id='name'``.
    return any(key[0] == "alias" and f"Name(id='{name}'" in key[2] for key, _ in dropped)


def _comment_problems(before: bytes, after: bytes, removed_lines: set[int]) -> list[str]:
    old = comments_by_line(_text(before))
    new = comments_by_line(_text(after))
    if old is None or new is None:
        return []
    missing = Counter(text for line, text in old if line not in removed_lines)
    missing.subtract(Counter(text for _, text in new))
    return [f"comment lost: {text}" for text, count in sorted(missing.items()) if count > 0]


def common_ends(old: Sequence[_Line], new: Sequence[_Line]) -> tuple[int, int]:
    """How many lines ``old`` and ``new`` share at the start, then at the end: an edit touches a
    few lines of a file that may have thousands, and only the middle is worth difflib's
    (quadratic) matching."""
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return head, tail


def _diff_problems(before: bytes, after: bytes, removed_lines: set[int]) -> list[str]:
    """Every changed old line is a removed one or blank; every new line not in the old file is
    blank, ``pass``, or stands where removed lines were (an element taken out of a line)."""
    # Line endings are kept on the lines, so a CRLF turned LF counts as a change.
    old_lines = before.splitlines(keepends=True)
    new_lines = after.splitlines(keepends=True)
    problems: list[str] = []
    head, tail = common_ends(old_lines, new_lines)
    old_middle = old_lines[head : len(old_lines) - tail]
    new_middle = new_lines[head : len(new_lines) - tail]
    matcher = difflib.SequenceMatcher(a=old_middle, b=new_middle, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        i1, i2, j1, j2 = i1 + head, i2 + head, j1 + head, j2 + head
        if tag == "equal":
            continue
        touched = [i + 1 for i in range(i1, i2) if old_lines[i].strip() and i + 1 not in removed_lines]
        added = [line for line in new_lines[j1:j2] if line.strip() and line.strip() != b"pass"]
        if touched:
            problems.append(f"line {touched[0]} changed though no marker was on it")
        if added and not any(i + 1 in removed_lines for i in range(i1, i2)):
            problems.append(f"new text where nothing was removed: {added[0]!r}")
    return problems


def _text(source: bytes) -> str:
    from io import BytesIO
    from tokenize import detect_encoding

    encoding, _ = detect_encoding(BytesIO(source).readline)
    return source.decode(encoding, errors="replace").removeprefix("\ufeff")

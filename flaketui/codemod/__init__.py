"""Remove flaky markers from a test file, and put them back, changing nothing else.

Failures are values (``Removal.failure``), in the manner of LibCST's ``TransformFailure``: a
source the codemod cannot handle safely comes back unchanged with the reason, never as an
exception or a damaged file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import libcst as cst

from flaketui.codemod._helpers import Reader, helper_refusal
from flaketui.codemod._locate import Site, collect_sites, find_site
from flaketui.codemod._pieces import ModuleText
from flaketui.codemod._remove import NodeRemover, Parents, ancestors, dropped_comments, escalate, outermost
from flaketui.codemod._restore import restore_marker
from flaketui.codemod._result import Removal, internal_failure, refused
from flaketui.codemod._safety import comment_texts, parse_exactly
from flaketui.codemod._unused import names_used_by, unused_definitions
from flaketui.models import Marker

__all__ = ["Removal", "remove_markers", "restore_marker"]


def remove_markers(
    source: bytes, markers: Sequence[Marker], *, path: str = "", read: Reader | None = None
) -> Removal:
    """Remove these markers (all located in this file: ``Marker.path == path``, ``Marker.line`` the
    line of the marker expression: the decorator, the ``pytestmark`` element, or the
    ``pytest.param`` marks entry) and the imports/alias definitions in this file that the removal
    left unused.

    ``read`` (a repo-relative path -> that file's bytes, or None) lets a decorator imported from
    another file of the repository be checked there: a helper that does more than mark is
    refused. Without it only helpers defined in this file are checked."""
    try:
        return _remove_markers(source, markers, path, read)
    except Exception as error:  # noqa: BLE001 - a failure is a value: the file is never touched
        return refused(path, source, internal_failure(path, error))


def _remove_markers(source: bytes, markers: Sequence[Marker], path: str, read: Reader | None) -> Removal:
    where = path or "the file"
    parsed = parse_exactly(source)
    if isinstance(parsed, str):
        return refused(path, source, f"{where} was left unchanged: {parsed}.")
    if not markers:
        return Removal(path=path, before=source, after=source, failure=None)
    module = parsed.module
    positions = parsed.positions(parsed.statements_at(line for m in markers for line in _lines_of(m)))
    sites, parents = collect_sites(module, positions)
    chosen: dict[int, Site] = {}
    for marker in markers:
        if marker.path and path and marker.path != path:
            return refused(
                path, source, f"The marker at {marker.path}:{marker.line} is in another file than {where}; remove it there."
            )
        site = find_site(module, sites, marker)
        if site is None:
            return refused(
                path,
                source,
                f"There is no flaky marker `{marker.source}` at {where}:{marker.line} that flaketui can remove: "
                "the file changed since the scan, or the marker is built in a way flaketui does not edit "
                "(a computed `pytestmark`, say). Rescan (`flaketui scan`, or R in the app) and try again, "
                "or remove it by hand.",
            )
        refusal = helper_refusal(parsed, site, where, path=path, read=read)
        if refusal is not None:
            return refused(path, source, refusal)
        chosen[id(site.node)] = site

    current, failure = _remove_round(parsed, parents, [s.node for s in chosen.values()], where)
    if failure is not None:
        return refused(path, source, failure)
    candidates: set[str] = set()
    for site in chosen.values():
        candidates |= names_used_by(site.expr)
    while candidates:
        unused = unused_definitions(current.module, current.text, candidates)
        if not unused.nodes:
            break
        current, failure = _remove_round(current, unused.parents, unused.nodes, where)
        if failure is not None:
            return refused(path, source, failure)
        candidates = unused.freed

    after = current.text.encode(module.encoding)
    failure = _compiles_as_before(source, after, where)
    if failure is not None:
        return refused(path, source, failure)
    return Removal(path=path, before=source, after=after, failure=None, removed=tuple(markers))


def _lines_of(marker: Marker) -> range:
    return range(marker.line, (marker.end_line or marker.line) + 1)


def _remove_round(
    text: ModuleText, parents: Parents, doomed: Sequence[cst.CSTNode], where: str
) -> tuple[ModuleText, str | None]:
    """One removal, checked: every comment that disappears must have been inside what was
    removed (the comments above a removed statement or decorator move, they do not go)."""
    gone = escalate(parents, doomed)
    remover = NodeRemover(set(gone), ancestors(parents, gone.values()))
    result = text.with_module(text.module.visit(remover))
    allowed: Counter[str] = Counter(remover.dropped)
    for node in outermost(parents, gone):
        allowed.update(dropped_comments(node))
    old_part, new_part = text.changed_text(result)
    before = comment_texts(old_part)
    after = comment_texts(new_part)
    lost = [] if before is None or after is None else sorted((before - after - allowed).elements())
    if remover.lost_comment or lost:
        shown = ", ".join(lost) or "a comment next to the marker"
        return result, (
            f"{where} was left unchanged: removing the marker would also drop {shown}. Remove the marker by hand."
        )
    return result, None


def _compiles_as_before(before: bytes, after: bytes, where: str) -> str | None:
    try:
        compile(before, where, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None  # newer syntax than this Python reads: libcst's own parse already vouched for it
    try:
        compile(after, where, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as error:
        return f"{where} was left unchanged: the edited file would not compile ({error}). Remove the marker by hand."
    return None

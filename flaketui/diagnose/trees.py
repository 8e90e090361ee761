"""One libcst tree per module content while one proposal is worked out.

Diagnosis follows a test into the project's modules and the remedies read them again (a large
project's scheduler or client is thousands of lines, and parsing is most of a proposal's time).
libcst nodes are immutable and neither side copies them, so both can read one tree. A tree is
large, though (distributed's 8,500-line ``test_client.py`` takes about 130 MB), so trees are
kept only inside ``shared()``, around one proposal, and dropped when it ends: an app that
diagnoses a whole project must not hold every module it read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import libcst as cst

#: The trees parsed inside the current ``shared()`` block (per thread: each worker its own).
_kept: ContextVar[dict[bytes, cst.Module | None] | None] = ContextVar("_kept", default=None)


@contextmanager
def shared() -> Iterator[None]:
    """Within the block, each module content is parsed once; the trees go when it ends."""
    if _kept.get() is not None:
        yield  # an enclosing block already keeps them
        return
    token = _kept.set({})
    try:
        yield
    finally:
        _kept.reset(token)


def parse(source: bytes) -> cst.Module | None:
    """The module's tree (once per content inside ``shared()``); None when libcst cannot read it."""
    kept = _kept.get()
    if kept is not None and source in kept:
        return kept[source]
    try:
        module: cst.Module | None = cst.parse_module(source)
    except (cst.ParserSyntaxError, UnicodeError, LookupError, SyntaxError, ValueError):
        module = None
    if kept is not None:
        kept[source] = module
    return module

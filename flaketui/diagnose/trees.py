"""One libcst tree per module content, shared by the engines that read the same modules.

Diagnosis follows a test into the project's modules and the remedies read them again (a large
project's scheduler or client is thousands of lines, and parsing is most of a proposal's time).
libcst nodes are immutable and neither side copies them, so both read one tree.
"""

from __future__ import annotations

import functools

import libcst as cst


@functools.lru_cache(maxsize=256)
def parse(source: bytes) -> cst.Module | None:
    """The module's tree, parsed once per content; None when libcst cannot read it."""
    try:
        return cst.parse_module(source)
    except (cst.ParserSyntaxError, UnicodeError, LookupError, SyntaxError, ValueError):
        return None

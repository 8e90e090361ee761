"""Guards that keep the codemod from ever writing a file it would damage."""

from __future__ import annotations

import io
import tokenize
from collections import Counter

import libcst as cst


def unreadable_reason(source: bytes) -> str | None:
    """Why libcst cannot give this file back byte for byte, or None when it can."""
    if _has_lone_cr(source):
        return (
            "it uses old Mac (CR-only) line endings, which the code rewriter cannot keep; "
            "convert the file to LF or CRLF line endings first, or remove the marker by hand"
        )
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        return f"it does not parse ({error.message.strip()} at line {error.raw_line}); fix the syntax first"
    except (UnicodeError, LookupError, SyntaxError) as error:
        return f"its bytes cannot be decoded ({error}); save it as UTF-8 first"
    if module.bytes != source:
        return (
            "the code rewriter would not write its other bytes back exactly (unusual line endings "
            "or encoding); remove the marker by hand"
        )
    return None


def _has_lone_cr(source: bytes) -> bool:
    return source.replace(b"\r\n", b"").find(b"\r") != -1


def comments_by_line(text: str) -> list[tuple[int, str]] | None:
    """Every ``#`` comment with its line, or None when this interpreter cannot tokenize the text
    (syntax newer than the running Python); callers then skip the comment check."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None
    return [(tok.start[0], tok.string) for tok in tokens if tok.type == tokenize.COMMENT]


def lost_comments(before: str, after: str, removed_lines: set[int]) -> list[str]:
    """Comments of ``before`` that are not on a removed line and no longer appear in ``after``."""
    old = comments_by_line(before)
    new = comments_by_line(after)
    if old is None or new is None:
        return []
    kept = Counter(text for line, text in old if line not in removed_lines)
    kept.subtract(Counter(text for _, text in new))
    return sorted(text for text, missing in kept.items() if missing > 0)

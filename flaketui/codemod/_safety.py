"""Guards that keep the codemod from ever writing a file it would damage."""

from __future__ import annotations

import io
import tokenize
from collections import Counter

import libcst as cst

from flaketui.codemod._pieces import ModuleText, module_text


def parse_exactly(source: bytes) -> ModuleText | str:
    """The module and its text, or why libcst cannot give this file back byte for byte."""
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
    text = module_text(module, source.decode(module.encoding))
    if text is None:
        return (
            "the code rewriter would not write its other bytes back exactly (unusual line endings "
            "or encoding); remove the marker by hand"
        )
    return text


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


def comment_texts(text: str) -> Counter[str] | None:
    """How many times each comment occurs, or None when the text cannot be tokenized here."""
    found = comments_by_line(text)
    return None if found is None else Counter(comment for _, comment in found)

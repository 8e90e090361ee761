"""No ``type: ignore`` in flaketui without its error code and, on the same line, the reason."""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "flaketui"


def unexplained_ignores(source: str) -> list[int]:
    """Lines whose comment silences mypy without a code (``# type: ignore[...]``) followed by
    a reason (``  # why``)."""
    bad: list[int] = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT or "type: ignore" not in token.string:
            continue
        _, _, after = token.string.partition("type: ignore")
        codes, closed, rest = after.partition("]")
        reason = rest.strip().removeprefix("#").strip()
        if not codes.startswith("[") or not closed or not reason:
            bad.append(token.start[0])
    return bad


@pytest.mark.parametrize(
    ("line", "explained"),
    [
        pytest.param("x = f()  # type: ignore[attr-defined]  # libcst's stub lacks it\n", True, id="code-and-reason"),
        pytest.param("x = f()  # type: ignore[attr-defined]\n", False, id="no-reason"),
        pytest.param("x = f()  # type: ignore  # because\n", False, id="no-code"),
        pytest.param("x = f()  # type: ignore[misc]  #\n", False, id="empty-reason"),
        pytest.param("x = 'type: ignore'  # a string, not a comment\n", True, id="in-a-string"),
    ],
)
def test_the_check_tells_an_explained_ignore_from_a_bare_one(line: str, explained: bool) -> None:
    assert (unexplained_ignores(line) == []) is explained


def test_every_type_ignore_in_flaketui_says_why() -> None:
    found = {
        str(path.relative_to(PACKAGE.parent)): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if (lines := unexplained_ignores(path.read_text(encoding="utf-8")))
    }
    assert found == {}

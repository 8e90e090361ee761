"""Building markers for codemod tests the way a scan reports them: by line and source."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from flaketui.models import Marker, MarkerKind, MarkerScope


def src(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode()


def marker_at(
    source: bytes,
    expression: str,
    scope: MarkerScope = MarkerScope.FUNCTION,
    *,
    nth: int = 0,
    kind: MarkerKind = MarkerKind.UNKNOWN,
    via: str | None = None,
    path: str = "tests/test_x.py",
) -> Marker:
    """The marker whose expression is ``expression``, reported at the line where its ``nth``
    occurrence starts: as a decorator (``@expression``) if there is one, else anywhere."""
    first = expression.strip().splitlines()[0].strip()
    text = source.decode("latin-1").splitlines()
    decorators = [i for i, line in enumerate(text, start=1) if line.strip().startswith("@" + first)]
    lines = decorators or [i for i, line in enumerate(text, start=1) if first in line]
    line = lines[nth]
    return Marker(kind=kind, scope=scope, path=path, line=line, source=expression.strip(), via=via)


def pytest_in(root: Path, target: str = "test_x.py") -> subprocess.CompletedProcess[str]:
    """Plain pytest on ``target`` under ``root``, in file order and with no cache: how a
    remedy's test proves a proposal really runs (fails before it, passes after)."""
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", target],
                          check=False, cwd=root, capture_output=True, text=True, timeout=120)  # fmt: skip

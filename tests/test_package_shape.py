"""The limits issue 11 set on the package's shape, checked so that growth shows in CI."""

from __future__ import annotations

from pathlib import Path

import flaketui

PACKAGE = Path(flaketui.__file__).parent


def lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_module_is_over_500_lines() -> None:
    # Data tables go to JSON (diagnose/rules.json) and are not counted.
    too_long = {str(p.relative_to(PACKAGE)): lines(p) for p in PACKAGE.rglob("*.py") if lines(p) > 500}
    assert too_long == {}


def test_the_facade_stays_thin() -> None:
    assert lines(PACKAGE / "service.py") < 300

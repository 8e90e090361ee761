"""Build a tiny project in tmp_path and diagnose one of its tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

from flaketui.diagnose import Diagnoser
from flaketui.models import Diagnosis, FlakyTest


def source(text: str) -> str:
    """Dedented, without the leading newline, so line 1 is the first line written."""
    return textwrap.dedent(text).lstrip("\n")


def make_test(path: str, name: str, class_name: str | None = None, rootdir: str = ".") -> FlakyTest:
    nodeid = f"{path}::{class_name}::{name}" if class_name else f"{path}::{name}"
    return FlakyTest(nodeid=nodeid, rootdir=rootdir, path=path, line=1, name=name, markers=(), class_name=class_name)


def diagnose_files(root: Path, files: dict[str, str], path: str, name: str, class_name: str | None = None,
                   cache: Path | None = None) -> Diagnosis:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source(text), encoding="utf-8")
    return Diagnoser(root, cache_path=cache).diagnose(make_test(path, name, class_name))


def pairs(diagnosis: Diagnosis) -> set[tuple[int, str]]:
    return {(e.line, e.rule) for e in diagnosis.evidence}

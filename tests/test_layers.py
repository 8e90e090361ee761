"""The architecture's import rules, checked by import-linter and in a clean interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

HEADLESS = [
    "flaketui.models",
    "flaketui.errors",
    "flaketui.service",
    "flaketui.workflows.scan",
    "flaketui.workflows.diagnose",
    "flaketui.workflows.verify",
    "flaketui.workflows.fix",
    "flaketui.workflows.undo",
    "flaketui.workflows.record",
    "flaketui.workflows.snapshot",
    "flaketui.cli",
    "flaketui.cli.scan",
    "flaketui.cli.verify",
    "flaketui.cli.fix",
    "flaketui.workflows.explain",
    "flaketui.discover",
    "flaketui.diagnose",
    "flaketui.verify",
    "flaketui.verify.probe",
    "flaketui.verify.probe_fork",
    "flaketui.verify.probe_report",
    "flaketui.verify.probe_suite",
    "flaketui.codemod",
    "flaketui.remedies",
    "flaketui.proposals",
    "flaketui.vcs",
    "flaketui.store",
    "flaketui.report",
    "flaketui.gate",
    "flaketui.workflows.wiring",
]


def test_import_linter_contracts_hold() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("module", HEADLESS)
def test_headless_module_does_not_load_textual(module: str) -> None:
    code = f"import sys, {module}; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_cli_help_does_not_load_heavy_modules() -> None:
    code = "import sys; from flaketui.cli import cli; print(sorted(m for m in ('textual','libcst','git') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

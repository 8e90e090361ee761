"""The command line offers exactly the categories and modes the models define."""

from __future__ import annotations

import re

import pytest
from flaketui.cli import main
from flaketui.models import Category, VerifyMode


def _choices(help_text: str, option: str) -> set[str]:
    found = re.search(rf"{option} \[([^\]]+)\]", " ".join(help_text.split()))
    assert found is not None, help_text
    return {choice.strip() for choice in found.group(1).split("|")}


def test_fix_offers_every_category(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fix", "--help"]) == 0
    assert _choices(capsys.readouterr().out, "--category") == {str(c) for c in Category}


@pytest.mark.parametrize("command", ["verify", "fix"])
def test_verification_offers_every_mode(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    assert _choices(capsys.readouterr().out, "--mode") == {str(m) for m in VerifyMode}

"""``flaketui.models`` exports each name from one submodule, loaded when first asked for."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from flaketui import models


def _type_checking_imports() -> dict[str, str]:
    """name -> submodule, as the package's ``if TYPE_CHECKING:`` block imports them."""
    tree = ast.parse(Path(models.__file__).read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    return {
        alias.name: node.module.rpartition(".")[2]
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }


def test_every_exported_name_has_one_home_that_defines_it() -> None:
    homes = {name: module for module, names in models.HOMES.items() for name in names}
    assert sorted(homes) == sorted(models.__all__)
    assert _type_checking_imports() == homes
    for name, module in homes.items():
        assert getattr(models, name) is getattr(importlib.import_module(f"flaketui.models.{module}"), name), name


def test_a_missing_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchModel"):
        models.NoSuchModel  # noqa: B018


def test_the_scan_models_load_without_the_others() -> None:
    code = "import sys, flaketui.models.scan; print(sorted(m for m in sys.modules if m.startswith('flaketui.models')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['flaketui.models', 'flaketui.models.key', 'flaketui.models.scan']"

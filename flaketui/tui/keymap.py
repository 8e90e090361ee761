"""Users remap keys by binding id: ``verify = "w"`` in ``~/.config/flaketui/keys.toml``."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from flaketui.errors import FlakeTUIError


def keymap_path() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "flaketui" / "keys.toml"


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """Binding id -> key(s) (``"w"``, ``"ctrl+v,w"``); empty when the file does not exist."""
    path = path or keymap_path()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FlakeTUIError(
            f"{path} does not parse: {exc}",
            'Fix it or remove it; each line is `binding-id = "key"` (ids are listed in the help, ?).',
        ) from exc
    entries = data.get("keys", data)
    return {str(name): value for name, value in entries.items() if isinstance(value, str)}

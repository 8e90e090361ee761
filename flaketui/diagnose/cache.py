"""Diagnoses cached by content: the key hashes flaketui's version, the rules, the test's
identity and every file its scope can reach (its module and the conftest.py files up
the tree), so an edit anywhere relevant invalidates exactly the tests it can affect.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flaketui.models import Diagnosis

FORMAT = 2
MAX_ENTRIES = 50_000


class DiagnosisCache:
    """A JSON file of ``{key: diagnosis}``. Loaded once, written atomically; a damaged or
    foreign file is treated as empty (it is only a cache)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, dict[str, Any]] | None = None
        self._dirty = False

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._entries is None:
            self._entries = {}
            if self.path is not None:
                try:
                    data = json.loads(self.path.read_bytes())
                    if isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("entries"), dict):
                        self._entries = data["entries"]
                except (OSError, ValueError):
                    pass
        return self._entries

    def get(self, key: str, unchanged: Callable[[dict[str, str]], bool] | None = None) -> Diagnosis | None:
        """The entry of ``key``, if ``unchanged`` says every file it read still reads the same."""
        data = self._load().get(key)
        if data is None:
            return None
        deps = data.get("deps")
        if unchanged is not None and isinstance(deps, dict) and not unchanged(deps):
            return None
        try:
            return Diagnosis.from_json(data)
        except (KeyError, ValueError, TypeError):
            return None

    def put(self, key: str, diagnosis: Diagnosis, deps: dict[str, str] | None = None) -> None:
        self._load()[key] = {**diagnosis.to_json(), **({"deps": deps} if deps else {})}
        self._dirty = True

    def save(self) -> None:
        """Merge with what another instance may have written meanwhile, then replace atomically."""
        if self.path is None or not self._dirty:
            return
        mine = self._load()
        on_disk = DiagnosisCache(self.path)._load()
        merged = {**on_disk, **mine}
        if len(merged) > MAX_ENTRIES:
            # Insertion order: the oldest entries (of files long since edited) go first.
            merged = dict(list(merged.items())[-MAX_ENTRIES:])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".diagnosis-", suffix=".json", dir=self.path.parent)
        except OSError:
            return  # read-only or full: the diagnoses stand, only the next launch pays again
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"format": FORMAT, "entries": merged}, out, separators=(",", ":"))
            os.replace(temporary, self.path)
        except OSError:
            Path(temporary).unlink(missing_ok=True)
            return
        self._entries = merged
        self._dirty = False

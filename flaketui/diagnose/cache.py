"""Diagnoses cached by content: the key hashes flaketui's version, the rules, the test's
identity and every file its scope can reach (its module and the conftest.py files up
the tree), so an edit anywhere relevant invalidates exactly the tests it can affect.

The file is append-only: a JSON header, then one ``key<TAB>entry`` line per diagnosis (the
entry in JSON), a later line for a key winning over an earlier one. The app saves after every
file's batch, and rewriting the whole file each time made diagnosing a large repository
quadratic (on 1,000 tests, writing the cache cost more than diagnosing). A save appends what is
new in one write; the file is rewritten only when superseded lines outnumber the live ones.
Entries stay encoded in memory until asked for: decoded, 1,000 of them took 7.5 MB against
1.6 MB of lines.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from flaketui.models import Diagnosis

#: In the state directory.
CACHE_FILE = "diagnosis-cache.jsonl"
FORMAT = 4
MAX_ENTRIES = 50_000
_HEADER = json.dumps({"format": FORMAT}) + "\n"


class DiagnosisCache:
    """The diagnoses of one cache file, loaded once. A damaged or foreign file is treated as
    empty and a torn line is skipped (it is only a cache); several writers (two threads, or the
    app and the CLI at once) each append their own lines, and none loses another's."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        #: Each key's entry, as the JSON bytes of its line.
        self._entries: dict[str, bytes] | None = None
        self._pending: dict[str, bytes] = {}
        #: Lines in the file (the header aside), live or superseded: what a rewrite would save.
        self._lines = 0
        #: The file ends in a torn line (a writer killed mid-write): the next append starts a new one.
        self._torn = False
        self._valid_file = False
        self._lock = threading.Lock()

    def _load(self) -> dict[str, bytes]:
        if self._entries is None:
            self._entries, self._lines, self._valid_file = self._read()
        return self._entries

    def _read(self) -> tuple[dict[str, bytes], int, bool]:
        entries: dict[str, bytes] = {}
        if self.path is None:
            return entries, 0, False
        try:
            with self.path.open("rb") as handle:
                if handle.readline().decode("utf-8", "replace") != _HEADER:
                    return entries, 0, False
                lines = 0
                line = b"\n"
                for line in handle:
                    lines += 1
                    key, tab, entry = line.partition(b"\t")
                    if tab and entry.endswith(b"\n"):  # a torn line has no end
                        entries[key.decode("utf-8", "replace")] = entry
                self._torn = not line.endswith(b"\n")
                return entries, lines, True
        except (OSError, ValueError, TypeError):
            return {}, 0, False

    def get(self, key: str, unchanged: Callable[[dict[str, str]], bool] | None = None) -> Diagnosis | None:
        """The entry of ``key``, if ``unchanged`` says every file it read still reads the same."""
        with self._lock:
            raw = self._load().get(key)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        deps = data.get("deps")
        if unchanged is not None and isinstance(deps, dict) and not unchanged(deps):
            return None
        try:
            return Diagnosis.from_json(data)
        except (KeyError, ValueError, TypeError):
            return None

    def put(self, key: str, diagnosis: Diagnosis, deps: dict[str, str] | None = None) -> None:
        entry = json.dumps({**diagnosis.to_json(), **({"deps": deps} if deps else {})},
                           separators=(",", ":")).encode("utf-8") + b"\n"
        with self._lock:
            self._load()[key] = entry
            self._pending[key] = entry

    def save(self) -> None:
        """Append what was put since the last save; rewrite the file when it is mostly stale."""
        if self.path is None:
            return
        with self._lock:
            if not self._pending:
                return
            entries = self._load()
            if not self._valid_file or self._lines + len(self._pending) > 2 * len(entries) + 1000 \
                    or len(entries) > MAX_ENTRIES:
                self._rewrite()
            else:
                self._append()

    def _append(self) -> None:
        assert self.path is not None
        chunk = b"\n" if self._torn else b""
        chunk += b"".join(_line(k, v) for k, v in self._pending.items())
        try:
            # One write on an O_APPEND descriptor: another writer's lines land before or after ours.
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(descriptor, chunk)
            finally:
                os.close(descriptor)
        except OSError:
            return  # gone, read-only or full: the diagnoses stand, only the next launch pays again
        self._lines += len(self._pending)
        self._pending.clear()
        self._torn = False

    def _rewrite(self) -> None:
        """Replace the file atomically by its live entries, with what another writer added meanwhile."""
        assert self.path is not None and self._entries is not None
        on_disk, _, _ = self._read()
        merged = {**on_disk, **self._entries, **self._pending}
        if len(merged) > MAX_ENTRIES:
            # Insertion order: the oldest entries (of files long since edited) go first.
            merged = dict(list(merged.items())[-MAX_ENTRIES:])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".diagnosis-", suffix=".jsonl", dir=self.path.parent)
        except OSError:
            return
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(_HEADER.encode())
                out.writelines(_line(k, v) for k, v in merged.items())
            os.replace(temporary, self.path)
        except OSError:
            Path(temporary).unlink(missing_ok=True)
            return
        self._entries, self._lines, self._valid_file = merged, len(merged), True
        self._pending.clear()


def _line(key: str, entry: bytes) -> bytes:
    return key.encode("utf-8") + b"\t" + entry

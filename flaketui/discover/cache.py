"""A stat-based scan cache, like git's index: unchanged files are never read again.

The key hashes flaketui's version, the root, and (path, size, mtime, inode) of every file
that can change a scan's answer, so an edit, a new file, a removed one or an upgrade of
flaketui all miss. Files modified within two seconds of the key are "racily clean" (a later
edit could keep the same mtime), so their content hashes are kept and rechecked; on file
systems with nanosecond timestamps the window shrinks to 100 ms.

In git, ``git status`` already vouches for every unchanged tracked file (HEAD pins its
bytes, and git itself compares racily clean files): the key then hashes HEAD and the status,
and stats only the files git reports as changed or untracked, or is told not to look at.
This module must stay light: a warm scan imports nothing else of discovery.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from flaketui import __version__
from flaketui.models import ScanResult

CACHE_FILE = "scan-cache.json"
_FORMAT = 1
_RACY_NS_COARSE = 2_000_000_000
_RACY_NS_FINE = 100_000_000
#: Suffixes and names of the files a scan reads: Python, configs, dependency and CI files.
_RELEVANT_SUFFIXES = (".py", ".toml", ".ini", ".cfg", ".txt", ".yml", ".yaml", ".in")
_RELEVANT_NAMES = frozenset({"Makefile", "Jenkinsfile", "Pipfile"})


def relevant(path: str) -> bool:
    return path.endswith(_RELEVANT_SUFFIXES) or path.rpartition("/")[2] in _RELEVANT_NAMES


#: What git vouches for (``gitjobs.Listing``): HEAD plus the status output, and the paths whose
#: content it does not pin, which are stat-ed like any file outside git.
Vouched = tuple[bytes, Sequence[str]]


class Fingerprint(NamedTuple):
    """The cache key of one state of the tree, and the mtimes of the files it stat-ed."""

    key: str
    mtimes: dict[str, int]


def fingerprint(root: Path, files: list[str], vouched: Vouched | None = None) -> Fingerprint:
    """Take it before the scan reads the files: an edit made while the scan runs then changes
    the next key, so the answer is never served for bytes the scan did not see."""
    base = str(root) + os.sep
    parts: list[str] = [f"{_FORMAT}\0{__version__}\0{root}\0{_engine_stamp()}\0"]
    if vouched is not None:
        state, files = vouched[0], list(vouched[1])
        parts.append(f"git\0{hashlib.sha256(state).hexdigest()}\0")
    mtimes: dict[str, int] = {}
    for path in files:
        if not relevant(path):
            continue
        try:
            stat = os.stat(base + path)
        except OSError:
            parts.append(f"{path}\0-\n")
            continue
        mtimes[path] = stat.st_mtime_ns
        parts.append(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ino}\n")
    digest = hashlib.sha256("".join(parts).encode("utf-8", "surrogateescape"))
    return Fingerprint(digest.hexdigest(), mtimes)


def _engine_stamp() -> str:
    """Size and mtime of discovery's own sources: an edited engine (an editable install, a
    patch) never serves answers computed by the old one, even at the same version."""
    directory = os.path.dirname(os.path.abspath(__file__))
    stamps = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".py"):
            stat = os.stat(os.path.join(directory, name))
            stamps.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return ",".join(stamps)


def _content_hash(path: Path) -> str | None:
    try:
        return hashlib.sha1(path.read_bytes()).hexdigest()
    except OSError:
        return None


def load(state_dir: Path, root: Path, taken: Fingerprint) -> ScanResult | None:
    """The cached result if nothing it depends on changed, else None."""
    try:
        data = json.loads((state_dir / CACHE_FILE).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != _FORMAT or data.get("version") != __version__:
        return None
    if data.get("key") != taken.key:
        return None
    for path, expected in data.get("racy", {}).items():
        if _content_hash(root / path) != expected:
            return None
    try:
        result = ScanResult.from_json(data["result"], str(root), files_scanned=data.get("files_scanned", 0), from_cache=True)
    except (KeyError, TypeError, ValueError):
        return None
    return replace(result, fingerprint=taken.key)


def racy(root: Path, taken: Fingerprint) -> dict[str, str]:
    """Content hashes of the files modified too recently for their mtime to be trusted (a
    later edit may keep it); like the fingerprint, take them before the scan reads."""
    now = time.time_ns()
    coarse = all(m % 1_000_000 == 0 for m in taken.mtimes.values())
    window = _RACY_NS_COARSE if coarse else _RACY_NS_FINE
    return {p: h for p, m in taken.mtimes.items() if m >= now - window and (h := _content_hash(root / p)) is not None}


def store(state_dir: Path, taken: Fingerprint, racy_hashes: dict[str, str], result: ScanResult) -> str:
    """Write the cache; returns the key it is stored under."""
    payload = {
        "format": _FORMAT,
        "version": __version__,
        "key": taken.key,
        "racy": racy_hashes,
        "files_scanned": result.files_scanned,
        "result": result.to_json(),
    }
    _write(state_dir / CACHE_FILE, json.dumps(payload))
    return taken.key


def _write(target: Path, text: str) -> None:
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, target)
    except OSError:  # a read-only state dir only costs speed
        temporary.unlink(missing_ok=True)


def load_output(state_dir: Path, name: str, result: ScanResult, extra: str = "") -> str | None:
    """A command's printed output for this very scan (``scan --json`` with its diagnoses), so an
    unchanged tree answers without loading the parsers. Only a cached scan can match: its
    fingerprint passed the stat and racy-content checks a moment ago. ``extra`` keys what the
    output read besides the tree (recorded runs, HEAD)."""
    if not (result.from_cache and result.fingerprint):
        return None
    try:
        data = json.loads((state_dir / f"output-{name}.json").read_bytes())
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and data.get("key") == result.fingerprint + extra and data.get("version") == __version__:
        text = data.get("text")
        return text if isinstance(text, str) else None
    return None


def store_output(state_dir: Path, name: str, result: ScanResult, text: str, extra: str = "") -> None:
    if result.fingerprint:
        _write(state_dir / f"output-{name}.json",
               json.dumps({"key": result.fingerprint + extra, "version": __version__, "text": text}))

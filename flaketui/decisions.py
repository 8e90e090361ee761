"""The team's decisions in ``.flaketui.toml`` at the repository root, committed with the code.

Read with ``tomllib``; written by the small writer below, because the standard library has
no TOML writer and the file must stay byte-stable: one ``[tests."<id>"]`` table per test,
sorted by id, fields in a fixed order, so two people deciding about different tests touch
different lines and git merges them. A change rewrites only the table of the test it is
about; the rest of the file (comments included) stays as it was, byte for byte. A file
that does not parse is reported with its line and never written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tempfile
import threading
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flaketui.errors import FlakeTUIError
from flaketui.models import Category, DecidedBy, Keep, TestKey, Triage
from flaketui.settings import DECISIONS_FILE

FILENAME = DECISIONS_FILE  # its name here, defined once in settings (vcs must know it without importing this)

PREAMBLE = (
    "# flaketui decisions, shared through git: one table per test, sorted by test id.\n"
    "# category: the confirmed root cause; decided_by: user or suggestion (an accepted diagnosis);\n"
    "# keep: why the flaky marker stays on purpose, keep_expires: until when (flaketui check fails after).\n"
)

_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
_FIELDS = ("rootdir", "category", "decided_by", "note", "keep", "keep_expires")
_write_lock = threading.Lock()


def toml_string(text: str) -> str:
    """A TOML basic string: one line, so every value is exactly one line of the file."""
    parts = []
    for char in text:
        if char in _ESCAPES:
            parts.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            parts.append(f"\\u{ord(char):04X}")
        else:
            parts.append(char)
    return '"' + "".join(parts) + '"'


def render_table(triage: Triage) -> str:
    """One test's table, ending with a blank line; empty when there is nothing to keep."""
    lines = []
    if triage.rootdir not in (".", ""):
        lines.append(f"rootdir = {toml_string(triage.rootdir)}")
    if triage.category is not None:
        lines.append(f"category = {toml_string(str(triage.category))}")
    if triage.decided_by is not None:
        lines.append(f"decided_by = {toml_string(str(triage.decided_by))}")
    if triage.note:
        lines.append(f"note = {toml_string(triage.note)}")
    if triage.keep is not None:
        lines.append(f"keep = {toml_string(triage.keep.reason)}")
        if triage.keep.expires:
            lines.append(f"keep_expires = {_date(triage.keep.expires).isoformat()}")
    if not lines:
        return ""
    header = f"[tests.{toml_string(triage.key.repo_nodeid)}]"
    return "\n".join([header, *lines]) + "\n\n"


def render(decisions: Mapping[TestKey, Triage]) -> str:
    """The whole file in canonical form."""
    ordered = sorted(decisions.values(), key=lambda t: t.key.repo_nodeid)
    body = "".join(render_table(t) for t in ordered)
    return (PREAMBLE + "\n" + body).rstrip("\n") + "\n" if body else PREAMBLE


def parse(data: bytes, source: str = FILENAME) -> dict[TestKey, Triage]:
    """The decisions in ``data``; a FlakeTUIError naming the line when it is not valid."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _invalid(source, line, "is not UTF-8") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FlakeTUIError(
            f"{source} does not parse: {exc}.",
            f"Fix that line (a merge conflict left in it?); flaketui will not write {source} until it parses.",
        ) from exc
    tests = document.get("tests", {})
    if not isinstance(tests, dict):
        raise _invalid(source, _line_of(text, "tests"), "`tests` must be a table of tables")
    decisions = {}
    for key, table in tests.items():
        triage = _triage(key, table, text, source)
        decisions[triage.key] = triage
    return decisions


def _triage(key: str, table: Any, text: str, source: str) -> Triage:
    line = _line_of(text, toml_string(key))
    if not isinstance(table, dict):
        raise _invalid(source, line, f"tests.{toml_string(key)} must be a table")
    for name, value in table.items():
        if name in _FIELDS and name != "keep_expires" and not isinstance(value, str):
            raise _invalid(source, line, f"{name} of {key} must be a string")
    rootdir = table.get("rootdir", ".")
    prefix = "" if rootdir in (".", "") else rootdir + "/"
    if not key.startswith(prefix):
        raise _invalid(source, line, f"the id {key} does not start with its rootdir {rootdir}/")
    category = table.get("category")
    if category is not None and category not in set(Category):
        choices = ", ".join(Category)
        raise _invalid(source, line, f"unknown category {category!r} for {key} (one of: {choices})")
    decided_by = table.get("decided_by")
    if decided_by is not None and decided_by not in set(DecidedBy):
        raise _invalid(source, line, f"decided_by of {key} must be user or suggestion, not {decided_by!r}")
    keep = None
    if "keep" in table:
        expires = table.get("keep_expires")
        if isinstance(expires, dt.datetime) or not isinstance(expires, (dt.date, str, type(None))):
            raise _invalid(source, line, f"keep_expires of {key} must be a date like 2026-12-31")
        if isinstance(expires, str):
            try:
                expires = dt.date.fromisoformat(expires)
            except ValueError as exc:
                raise _invalid(source, line, f"keep_expires of {key} must be a date like 2026-12-31") from exc
        keep = Keep(reason=table["keep"], expires=expires.isoformat() if expires else None)
    return Triage(
        nodeid=key[len(prefix) :],
        rootdir=rootdir or ".",
        category=Category(category) if category else None,
        decided_by=DecidedBy(decided_by) if decided_by else None,
        note=table.get("note", ""),
        keep=keep,
    )


def update(data: bytes | None, triage: Triage) -> bytes:
    """``data`` with the table of ``triage``'s test replaced, inserted in order, or removed
    (when it holds nothing). Everything else stays byte-identical."""
    current = parse(data) if data is not None else {}
    wanted = dict(current)
    key = triage.key
    if render_table(triage):
        wanted[key] = triage
    else:
        wanted.pop(key, None)
    if data is None:
        return render(wanted).encode()
    newline = "\r\n" if b"\r\n" in data else "\n"
    text = data.decode("utf-8").replace("\r\n", "\n")
    spliced = _splice(text, triage)
    # Hand edits (multi-line strings, tables written another way) can defeat the splice;
    # then the canonical form is the safe answer: the decisions are what counts.
    if spliced is None or not _parses_to(spliced, wanted):
        others = sorted(k for k in tomllib.loads(text) if k != "tests")
        if others:
            raise FlakeTUIError(
                f"Cannot update {FILENAME} without rewriting it, which would drop {', '.join(others)}.",
                f"Make the table of {triage.key.repo_nodeid} by hand, or move the other "
                "tables to another file.",
            )
        spliced = render(wanted)
    return spliced.replace("\n", newline).encode()


def _splice(text: str, triage: Triage) -> str | None:
    preamble, blocks = _blocks(text)
    if blocks is None:
        return None
    target = triage.key.repo_nodeid
    table = render_table(triage)
    index = next((i for i, block in enumerate(blocks) if block.key == target), None)
    if index is not None:
        old = blocks.pop(index)
        if table:
            blocks.insert(index, _Block(target, old.comments, table))
    elif table:
        index = next((i for i, b in enumerate(blocks) if b.key is not None and b.key > target), len(blocks))
        blocks.insert(index, _Block(target, "", table))
    parts = [preamble] + [b.comments + b.table for b in blocks]
    # Tables are separated by one blank line, whatever the neighbour ended with.
    for i in range(len(parts) - 1):
        if parts[i] and not parts[i].endswith("\n\n"):
            parts[i] = parts[i].rstrip("\n") + "\n\n"
    result = "".join(parts)
    return result.rstrip("\n") + "\n" if result.strip() else PREAMBLE


@dataclasses.dataclass
class _Block:
    #: The test id of a ``[tests."<id>"]`` table; None for any other table.
    key: str | None
    #: The comment lines right above the header, which belong to the table.
    comments: str
    table: str


def _blocks(text: str) -> tuple[str, list[_Block] | None]:
    """The text before the first table and each table; None when a table does not parse on
    its own (a multi-line string holding a ``[`` line, say)."""
    lines = text.splitlines(keepends=True)
    headers = [i for i, line in enumerate(lines) if line.startswith("[")]
    if not headers:
        return text, []
    starts = []
    for header in headers:
        start = header
        while start > 0 and lines[start - 1].startswith("#") and start - 1 not in headers:
            start -= 1
        starts.append(start)
    preamble = "".join(lines[: starts[0]])
    blocks = []
    for start, header, end in zip(starts, headers, [*starts[1:], len(lines)]):
        table = "".join(lines[header:end])
        try:
            parsed = tomllib.loads(table)
        except tomllib.TOMLDecodeError:
            return preamble, None
        tests = parsed.get("tests")
        key = next(iter(tests)) if isinstance(tests, dict) and len(tests) == 1 and len(parsed) == 1 else None
        blocks.append(_Block(key, "".join(lines[start:header]), table))
    return preamble, blocks


def _parses_to(text: str, wanted: Mapping[TestKey, Triage]) -> bool:
    try:
        return parse(text.encode()) == dict(wanted)
    except FlakeTUIError:
        return False


def load(root: Path) -> dict[TestKey, Triage]:
    """The decisions in ``root/.flaketui.toml``; none when the file does not exist."""
    try:
        data = (root / FILENAME).read_bytes()
    except FileNotFoundError:
        return {}
    return parse(data)


def decide(root: Path, rootdir: str, nodeid: str, *, lock_path: Path | None = None, **changes: Any) -> Triage:
    """Change fields of one test's decision in ``root/.flaketui.toml`` and return the result.

    The read, the change and the write happen under one lock: ``lock_path`` serialises
    writers across processes (two flaketui instances on one repository), and the file is
    replaced atomically, so a reader never sees half of it.
    """
    keep = changes.get("keep")
    if isinstance(keep, Keep) and keep.expires:
        _date(keep.expires)
    target = root / FILENAME
    with _write_lock, _file_lock(lock_path):
        try:
            data: bytes | None = target.read_bytes()
        except FileNotFoundError:
            data = None
        current = parse(data) if data is not None else {}
        triage = dataclasses.replace(current.get(TestKey(rootdir, nodeid), Triage(nodeid=nodeid, rootdir=rootdir)), **changes)
        if data is None and not render_table(triage):
            return triage
        new = update(data, triage)
        if new != data:
            try:
                _atomic_write(target, new)
            except OSError as exc:
                raise FlakeTUIError(
                    f"Cannot write {target}: {exc.strerror or exc}.", f"Make {root} writable, then decide again."
                ) from exc
    return triage


def _atomic_write(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".flaketui.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    try:
        import fcntl
    except ImportError:  # Windows: the thread lock above is all we have
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise FlakeTUIError(f"{value!r} is not a date.", "Give the expiry as YYYY-MM-DD, e.g. 2026-12-31.") from exc


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return 1


def _invalid(source: str, line: int, problem: str) -> FlakeTUIError:
    return FlakeTUIError(
        f"{source}:{line}: {problem}.",
        f"Fix line {line} of {source}; flaketui will not write the file until it is valid.",
    )

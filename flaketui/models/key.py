"""How flaketui names one test everywhere: the rootdir pytest runs it from, and pytest's node id.

``TestKey`` keys every map of tests (decisions, verifications, diagnoses, rows). It is a
tuple, so a key read back from JSON or SQLite as ``(rootdir, nodeid)`` finds the same entry.
The two functions are the only spelling of "the node id from the repository root" and of
"pytest given this argument runs that test".
"""

from __future__ import annotations

from typing import NamedTuple


class TestKey(NamedTuple):
    """``rootdir`` is repo-relative (``"."`` for the root); ``nodeid`` is relative to it."""

    rootdir: str
    nodeid: str

    @property
    def repo_nodeid(self) -> str:
        return repo_nodeid(self.rootdir, self.nodeid)


# A domain type, not a test class: pytest must not try to collect it where a test imports it.
# (NamedTuple admits no such class attribute in its body.)
setattr(TestKey, "__test__", False)  # noqa: B010


class NamesATest:
    """A base for the records that name one test by ``rootdir`` and ``nodeid``: their key."""

    rootdir: str
    nodeid: str

    @property
    def key(self) -> TestKey:
        return TestKey(self.rootdir, self.nodeid)


def repo_nodeid(rootdir: str, nodeid: str) -> str:
    """pytest's node id (relative to ``rootdir``) as seen from the repository root: what
    ``flaketui verify`` takes and ``.flaketui.toml`` names its tables by."""
    return nodeid if rootdir in ("", ".") else f"{rootdir}/{nodeid}"


def selects(argument: str, nodeid: str) -> bool:
    """Whether ``pytest ARGUMENT`` runs the test ``nodeid`` (both from the same directory):
    the test itself, its parametrized cases, its class, its module or a directory above it."""
    argument = argument.rstrip("/")
    return nodeid == argument or nodeid.startswith((argument + "::", argument + "[", argument + "/"))

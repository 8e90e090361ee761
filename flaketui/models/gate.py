"""``flaketui check``, the CI gate: each marker or repository-wide rerun, judged."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GateItem:
    """One line of ``flaketui check``. ``status``: failing, kept, expired, finding (a
    repository-wide rerun), or stale (a keep whose test has no marker left: information only)."""

    status: str
    path: str
    line: int
    nodeid: str
    marker: str
    reason: str = ""
    expires: str | None = None

    @property
    def text(self) -> str:
        """``path:line: nodeid (marker)``, the form editors and CI annotations jump to."""
        base = f"{self.path}:{self.line}: {self.nodeid} ({self.marker})"
        if self.status == "kept":
            return f"{base} kept: {self.reason} ({f'until {self.expires}' if self.expires else 'no expiry'})"
        if self.status == "expired":
            return f"{base} keep expired {self.expires}: {self.reason}"
        if self.status == "stale":
            return f"{self.path}: {self.nodeid} is kept ({self.reason}) but carries no flaky marker any more"
        return base


@dataclass(frozen=True)
class GateResult:
    """``flaketui check``: the markers that fail the gate, and those kept on purpose."""

    ok: bool
    failing: tuple[str, ...]
    kept: tuple[str, ...]
    expired: tuple[str, ...] = ()
    budget: int = 0
    #: Every line with its path, line, node id, marker and keep: what ``--json`` prints.
    items: tuple[GateItem, ...] = ()

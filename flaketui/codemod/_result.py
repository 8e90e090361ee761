"""What the codemod hands back: the file before and after, or why it was left alone."""

from __future__ import annotations

from dataclasses import dataclass

from flaketui.models import Marker


@dataclass(frozen=True)
class Removal:
    """The outcome of removing (or restoring) markers in one file."""

    path: str
    before: bytes
    after: bytes | None
    #: Why nothing was changed, in words a user understands, with what to do.
    failure: str | None
    #: The markers taken out (or, from ``restore_marker``, put back).
    removed: tuple[Marker, ...] = ()

    @property
    def changed(self) -> bool:
        return self.after is not None and self.after != self.before


def refused(path: str, source: bytes, why: str) -> Removal:
    return Removal(path=path, before=source, after=None, failure=why)


def internal_failure(path: str, error: Exception) -> str:
    return (
        f"{path or 'the file'} was left unchanged: flaketui's code rewriter failed on it "
        f"({type(error).__name__}: {error}). Edit the marker by hand, and please report this."
    )

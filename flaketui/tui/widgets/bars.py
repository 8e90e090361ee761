"""The one-line bars around the table: the repository header and the activity line.

Both observe the triage model and repaint themselves when what they show changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from flaketui.models import Verdict
from flaketui.tui.rows import Stage

if TYPE_CHECKING:
    from flaketui.tui.triage import Change, TriageModel

#: Header words for verdict states, so "16 flaky" (marked) and "1 still flaky" (verified) differ.
_STATE_WORDS = {Verdict.FLAKY: "still flaky", Verdict.BROKEN: "broken", Stage.KEPT: "kept on purpose",
                Stage.STALE: "to verify again", Verdict.CANCELLED: "cancelled"}


class ModelLine(Static):
    """A line that repaints itself when the part of the model it shows changes."""

    def __init__(self, model: TriageModel, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model

    def on_mount(self) -> None:
        self.model.observe(self._model_changed)
        self._show()

    def _model_changed(self, change: Change) -> None:
        if self.shows(change):
            self._show()

    def shows(self, change: Change) -> bool:
        raise NotImplementedError

    def _show(self) -> None:
        raise NotImplementedError


class RepoHeader(ModelLine):
    """``flaketui ─ repo@branch ─ 23 flaky · 4 verified · 2 fixed`` and counts by category."""

    def shows(self, change: Change) -> bool:
        # It counts every row, shown or not: a filter or a sort (``shown``) changes nothing here,
        # and counting 1,000 rows was a tenth of a refill. New rows come with ``repo``.
        return bool(change.keys or change.repo)

    def _show(self) -> None:
        model, info = self.model, self.model.info
        by_state, by_category = model.counts()
        where = "…" if info is None else (f"{info.name}@{info.branch or 'detached'}" if info.is_git
                                          else f"{info.name} (no git)")
        verified = by_state.get(Verdict.STABLE, 0)
        parts = [f"{len(model.rows)} flaky", f"{verified} verified", f"{model.fixed_count} fixed"]
        for state in (Verdict.FLAKY, Verdict.BROKEN, Verdict.SKIPPED, Verdict.CANCELLED, Stage.STALE,
                      Stage.KEPT, Stage.RUNNING, Stage.QUEUED):
            if by_state.get(state):
                parts.append(f"{by_state[state]} {_STATE_WORDS.get(state, state)}")
        categories = " ".join(f"{c}:{n}" for c, n in sorted(by_category.items(), key=lambda kv: -kv[1]))
        line = Text.assemble(("flaketui", "bold"), " ─ ", where, " ─ ", " · ".join(parts))
        if categories:
            line.append(f" ─ {categories}")
        self.update(line)


class ActivityBar(ModelLine):
    """What just happened, then ``verify: 10 runs, forked · 2 queued · sort: file``."""

    def shows(self, change: Change) -> bool:
        return change.settings

    def _show(self) -> None:
        model = self.model
        waiting = model.queued_tests()
        queue = f" · {waiting} queued" if waiting else ""
        filt = f" · filter: {model.filter_text}" if model.filter_text else ""
        settings = f"verify: {model.runs} runs, {model.mode}{queue} · sort: {model.sort_order}{filt}"
        # What just happened first: a narrow terminal cuts the line's end, and the settings
        # show again as soon as nothing is being said.
        if model.activity:
            self.update(Text.assemble((model.activity, "bold"), "  ·  ", settings))
        else:
            self.update(Text(settings))

"""The footer: the keys in force, with help and quit pinned at the right edge.

Textual's footer lays the keys out in one row and cuts what does not fit, and the app's
own keys (help, quit) come last, so an 80-column terminal lost them first. This one keeps
them pinned, goes compact when the row is tight, leaves out the command palette's key
(help lists it) and then the keys that help lists as well, least needed first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalGroup
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # not exported; the pinned keys must look like the others

#: Always shown, at the right edge (binding ids).
PINNED = ("help", "quit")
#: Left out, in this order, while the keys do not fit (binding ids); the others always stay.
DROP_FIRST = ("mark", "pick-category", "accept", "filter")


def key_width(key: str, description: str, *, compact: bool) -> int:
    """Cells one key takes: its padding (normal) or its margin (compact) included."""
    return len(key) + 1 + len(description) + (1 if compact else 2)


def plan(width: int, keys: Sequence[tuple[str, str, str]], palette: tuple[str, str] | None
         ) -> tuple[bool, bool, set[str]]:  # fmt: skip
    """``(compact, show the palette's key, ids left out)`` for ``keys`` (``(id, key, description)``)
    on a footer ``width`` cells wide, pinned keys included."""

    def needed(compact: bool, with_palette: bool, dropped: set[str]) -> int:
        total = sum(key_width(k, d, compact=compact) for i, k, d in keys if i not in dropped)
        if with_palette and palette is not None:
            total += key_width(*palette, compact=compact) + 1  # its border
        return total

    for compact, with_palette in ((False, True), (True, True), (True, False)):
        if needed(compact, with_palette, set()) <= width:
            return compact, with_palette, set()
    dropped: set[str] = set()
    for name in DROP_FIRST:
        if needed(True, False, dropped) <= width:
            break
        dropped.add(name)
    return True, False, dropped


class _Key(NamedTuple):
    """One key as the footer shows it: what a recompose would build, comparable to the last one."""

    binding: Binding
    enabled: bool
    tooltip: str
    palette: bool = False


class _Layout(NamedTuple):
    compact: bool
    keys: tuple[_Key, ...]
    pinned: tuple[_Key, ...]


class KeyFooter(Footer):
    """The footer that never cuts help and quit."""

    def __init__(self) -> None:
        super().__init__(id="footer")
        self._width = 0
        self._shown: _Layout | None = None
        self._pending = False

    def on_resize(self, event: Resize) -> None:
        if event.size.width != self._width:
            self._width = event.size.width
            self._refresh_soon()

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._refresh_soon()

    def _refresh_soon(self) -> None:
        # Every reactive with bindings=True refreshes the bindings, several per model change,
        # and Textual's footer rebuilt all its keys (and restyled each) for every one of them.
        # One rebuild per refresh, and none when the keys it would show are the same.
        if not self._pending:
            self._pending = True
            self.call_after_refresh(self._refresh_keys)

    async def _refresh_keys(self) -> None:
        self._pending = False
        if self._layout() != self._shown:
            await self.recompose()

    def _layout(self) -> _Layout:
        shown: dict[str, _Key] = {}
        for _node, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show:  # one key per action, as Textual's footer shows it
                shown.setdefault(binding.action, _Key(binding, enabled, tooltip))
        palette_binding = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        palette = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE and palette_binding is not None:
            palette = (self.app.get_key_display(palette_binding[1]), palette_binding[1].description)
        keys = [(k.binding.id or "", self.app.get_key_display(k.binding), k.binding.description)
                for k in shown.values()]
        compact, with_palette, dropped = plan(self._width or self.app.size.width, keys, palette)
        pinned = sorted((k for k in shown.values() if k.binding.id in PINNED),
                        key=lambda k: PINNED.index(k.binding.id or ""))
        if with_palette and palette_binding is not None:
            _node, binding, enabled, _tooltip = palette_binding
            pinned.append(_Key(binding, enabled, binding.tooltip or binding.description, palette=True))
        return _Layout(compact, tuple(k for k in shown.values() if k.binding.id not in PINNED
                                      and k.binding.id not in dropped), tuple(pinned))

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        self._shown = layout = self._layout()
        self.compact = layout.compact
        for key in layout.keys:
            yield self._key(key)
        with HorizontalGroup(id="pinned-keys"):
            for key in layout.pinned:
                yield self._key(key)

    def _key(self, key: _Key) -> FooterKey:
        binding = key.binding
        made = FooterKey(binding.key, self.app.get_key_display(binding), binding.description, binding.action,
                         classes="-command-palette" if key.palette else "", disabled=not key.enabled,
                         tooltip=key.tooltip)  # fmt: skip
        return made if key.palette else made.data_bind(compact=KeyFooter.compact)

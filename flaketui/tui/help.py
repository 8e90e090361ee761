"""The help screen, generated from the bindings in force: it cannot drift from the keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

from flaketui.tui.rows import STATE_GLYPHS, Stage

if TYPE_CHECKING:
    from flaketui.tui.rows import RowState


def key_owners(screen: Screen[Any]) -> list[DOMNode]:
    """The nodes whose keys work on the main screen, innermost first: the table (focused),
    the components around it, the screen, the app. Each names its section with ``HELP``."""
    table = screen.query("TestTable")
    start: DOMNode = table.first() if table else screen
    return [node for node in (*start.ancestors_with_self,) if "BINDINGS" in type(node).__dict__ or node is screen.app]


def bindings_of(screen: Screen[Any]) -> Iterator[tuple[DOMNode, Binding, list[str]]]:
    """Each (owner, binding, keys) the screen answers to, keymap applied.

    Keys bound to the same action are listed together (``j, ↓``), named by the binding its
    owner declares (with an id, remappable); a base widget's extra keys are left out unless
    they share an action with the owner's.
    """
    seen: set[str] = set()
    for node in key_owners(screen):
        own = {b.action: b for b in type(node).__dict__.get("BINDINGS", []) if isinstance(b, Binding)}
        grouped: dict[str, list[str]] = {}
        bindings = node._bindings.copy()
        bindings.apply_keymap(screen.app._keymap)  # the user's remapped keys, as Screen does
        for key, binding in bindings:
            if binding.system or binding.action in seen or binding.action not in own:
                continue
            keys = grouped.setdefault(binding.action, [])
            if key not in keys:
                keys.append(key)
        for action, keys in grouped.items():
            seen.add(action)
            yield node, own[action], keys


def section_of(node: DOMNode) -> str:
    return str(getattr(node, "HELP", "") or type(node).__name__)


def unavailable_reason(node: DOMNode, binding: Binding) -> str | None:
    """Why the action cannot run now (its owner's own explanation), or None."""
    explain = getattr(node, "unavailable_reason", None)
    if explain is None:
        return None
    reason: str | None = explain(binding.action.split("(", 1)[0])
    return reason


def legend(title_style: Style) -> Text:
    """What the status column's glyphs and badges mean (the table has no room to say)."""
    out = Text("\nThe status column\n", style=title_style)
    out.append("  ".join(f"{glyph} {_GLYPH_WORDS.get(state, state)}" for state, glyph in STATE_GLYPHS.items()))
    out.append("\n▸ marked for V.  Unmarked tests a hunt or CI history found: H hunt, C CI history, when the "
               "source column has no room.")
    return out


_GLYPH_WORDS: dict[RowState, str] = {Stage.STALE: "to verify again", Stage.KEPT: "kept on purpose"}


class HelpScreen(ModalScreen[None]):
    COMPONENT_CLASSES = {"help--key", "help--unavailable", "help--section"}
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", id="help-close")]

    def __init__(self, main: Screen[Any]) -> None:
        super().__init__()
        self.main = main

    def compose(self) -> ComposeResult:
        self.lines: list[tuple[str, str, str]] = []
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column()
        key_style = self.get_component_rich_style("help--key", partial=True)
        section_style = self.get_component_rich_style("help--section", partial=True)
        unavailable_style = self.get_component_rich_style("help--unavailable", partial=True)
        current = None
        for node, binding, bound in bindings_of(self.main):
            section = section_of(node)
            if section != current:
                table.add_row(Text(f"\n{section}" if current else section, style=section_style), "", "")
                current = section
            keys = ", ".join(self.app.get_key_display(binding.with_key(k)) for k in bound)
            reason = unavailable_reason(node, binding)
            about = binding.tooltip or ""
            if reason:
                about = f"{about} (unavailable: {reason})".strip()
            self.lines.append((keys, binding.description, about))
            table.add_row(Text(keys, style=key_style), Text(binding.description),
                          Text(about, style=unavailable_style if reason else ""))
        palette = self.app.COMMAND_PALETTE_BINDING
        self.lines.append((palette, "Command palette", "The same actions, searchable"))
        table.add_row(Text(self.app.get_key_display(Binding(palette, "")), style=key_style), Text("Command palette"),
                      Text("The same actions, searchable"))
        with Vertical(id="help-dialog"):
            yield Label("flaketui keys", id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                yield Static(table, id="help-table")
                yield Static(legend(section_style), id="help-legend")
            yield Static(
                Text("Keys can be remapped by binding id (App keymap). ctrl+p lists the same actions. esc closes."),
                classes="dialog-keys",
            )

    def action_close(self) -> None:
        self.dismiss(None)

"""The help screen, generated from the bindings in force: it cannot drift from the keys."""

from __future__ import annotations

from collections.abc import Iterator

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static


def bindings_of(screen: Screen) -> Iterator[tuple[DOMNode, Binding, list[str]]]:
    """Each (owner, binding, keys) the screen answers to, keymap applied.

    Keys bound to the same action are listed together (``j, ↓``); the binding the node's own
    class declares (with an id, remappable) names the action over a base widget's.
    """
    seen: set[str] = set()
    nodes: list[DOMNode] = [*screen.query("TestTable"), screen, screen.app]
    for node in nodes:
        grouped: dict[str, tuple[Binding, list[str]]] = {}
        own = {b.action for b in type(node).__dict__.get("BINDINGS", []) if isinstance(b, Binding)}
        for key, binding in node._bindings:
            if binding.system or binding.action in seen:
                continue
            best, keys = grouped.get(binding.action, (binding, []))
            if binding.action in own and binding.id is not None and best.id != binding.id:
                best = binding
            grouped[binding.action] = (best, [*keys, key] if key not in keys else keys)
        for action, (binding, keys) in grouped.items():
            seen.add(action)
            yield node, binding, keys


def unavailable_reason(node: DOMNode, binding: Binding) -> str | None:
    """Why the action cannot run now (the screen's own explanation), or None."""
    explain = getattr(node, "unavailable_reason", None)
    if explain is None:
        return None
    name = binding.action.split("(", 1)[0].removeprefix("screen.")
    return explain(name)


class HelpScreen(ModalScreen[None]):
    COMPONENT_CLASSES = {"help--key", "help--unavailable"}
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", id="help-close")]

    def __init__(self, main: Screen) -> None:
        super().__init__()
        self.main = main

    def compose(self) -> ComposeResult:
        self.lines: list[tuple[str, str, str]] = []
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column()
        for node, binding, bound in bindings_of(self.main):
            keys = ", ".join(self.app.get_key_display(binding.with_key(k)) for k in bound)
            owner = self.main if node is self.app else node
            reason = unavailable_reason(owner, binding)
            about = binding.tooltip or ""
            if reason:
                about = f"{about} (unavailable: {reason})".strip()
            self.lines.append((keys, binding.description, about))
            key_style = self.get_component_rich_style("help--key")
            about_style = self.get_component_rich_style("help--unavailable") if reason else ""
            table.add_row(Text(keys, style=key_style), Text(binding.description), Text(about, style=about_style))
        with Vertical(id="help-dialog"):
            yield Label("flaketui keys", id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                yield Static(table, id="help-table")
            yield Static(
                Text("Keys can be remapped by binding id (App keymap). ctrl+p lists the same actions. esc closes."),
                classes="dialog-keys",
            )

    def action_close(self) -> None:
        self.dismiss(None)

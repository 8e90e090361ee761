"""``FlakeTUIApp(service)``: the keyboard-driven face of flaketui."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import RenderableType
from textual.app import App
from textual.binding import Binding

from flaketui.tui.commands import ActionCommands
from flaketui.tui.help import HelpScreen
from flaketui.tui.keymap import load_keymap
from flaketui.tui.main_screen import MainScreen

if TYPE_CHECKING:
    from flaketui.service import Service


class FlakeTUIApp(App[None]):
    # Absolute, so subclasses defined elsewhere (tests, benchmarks) find it too.
    CSS_PATH = Path(__file__).with_name("flaketui.tcss")
    TITLE = "flaketui"
    COMMANDS = App.COMMANDS | {ActionCommands}
    HELP = "Everywhere"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit at once, killing a running verification"),
        Binding("question_mark", "help", "Help", id="help", tooltip="Every key, generated from the bindings"),
    ]

    def __init__(self, service: Service, *, keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.service = service
        self.main = MainScreen(service)
        self.user_keymap = load_keymap() if keymap is None else keymap

    def on_mount(self) -> None:
        self.set_keymap(self.user_keymap)
        self.push_screen(self.main)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.main))

    async def action_quit(self) -> None:
        self.exit()

    def exit(self, result: None = None, return_code: int = 0, message: RenderableType | None = None) -> None:
        # However the app ends (q, ctrl+q, a test's pilot), a running verification's process
        # group is killed first: the thread pool would otherwise wait for it at shutdown.
        self.main.stop_everything()
        super().exit(result, return_code, message)

"""The command palette (ctrl+p): the main screen's actions, built from its bindings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode

from flaketui.tui.help import bindings_of, unavailable_reason


class ActionCommands(Provider):
    """Every action a key runs on the main screen, with the key and why it is unavailable."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Awaitable[None]]]]:
        from flaketui.tui.main_screen import MainScreen

        main = next((s for s in reversed(self.app.screen_stack) if isinstance(s, MainScreen)), None)
        if main is None:
            return []
        commands: list[tuple[str, str, Callable[[], Awaitable[None]]]] = []
        for node, binding, keys in bindings_of(main):
            reason = unavailable_reason(node, binding)
            key = self.app.get_key_display(binding.with_key(keys[0]))
            name = f"{binding.description} ({key})"
            help_text = f"unavailable: {reason}" if reason else binding.tooltip
            commands.append((name, help_text, partial(self._run, node, binding.action, reason)))
        return commands

    async def _run(self, node: DOMNode, action: str, reason: str | None) -> None:
        if reason:
            self.app.notify(reason, title="Unavailable", severity="warning")
            return
        await self.app.run_action(action, node)

    async def discover(self) -> Hits:
        for name, help_text, run in self._commands():
            yield DiscoveryHit(name, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, run in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), run, help=help_text)

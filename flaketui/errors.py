"""The one error class a user ever sees: what happened, and what to do about it."""

from __future__ import annotations


class FlakeTUIError(Exception):
    """An error meant for the user. ``hint`` says what to do next."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message

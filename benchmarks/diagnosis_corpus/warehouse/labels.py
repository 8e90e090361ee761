"""Shelf labels."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ShelfLabel:
    aisle: str
    hazards: set[str] = field(default_factory=set)
    handling: list[str] = field(default_factory=list)

    def text(self) -> str:
        parts = [self.aisle]
        for hazard in self.hazards:
            parts.append(hazard.upper())
        return " ".join(parts)

    def handling_text(self) -> str:
        return " / ".join(self.handling)

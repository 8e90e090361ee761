"""How many of each article are on the shelves, updated by the receiving threads."""

from __future__ import annotations

import threading


class StockLedger:
    def __init__(self) -> None:
        self.levels: dict[str, int] = {}
        self.movements = 0
        self._lock = threading.Lock()

    def receive(self, sku: str, quantity: int) -> None:
        current = self.levels.get(sku, 0)
        self.levels[sku] = current + quantity
        self.movements += 1

    def ship(self, sku: str, quantity: int) -> None:
        with self._lock:
            self.levels[sku] = self.levels.get(sku, 0) - quantity
            self.movements += 1

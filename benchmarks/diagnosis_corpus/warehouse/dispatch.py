"""Pick lists handed to a pool of packer threads."""

from __future__ import annotations

import queue
import threading


class Dispatcher:
    def __init__(self, packers: int = 3) -> None:
        self.packed: list[str] = []
        self._orders: queue.Queue[str] = queue.Queue()
        self._packers = [threading.Thread(target=self._pack, daemon=True) for _ in range(packers)]

    def start(self) -> Dispatcher:
        for packer in self._packers:
            packer.start()
        return self

    def send(self, order: str) -> None:
        self._orders.put(order)

    def flush(self) -> None:
        """Return once every order has been picked up by a packer. An order a packer has
        picked up may still be in progress: use ``settle`` to wait until it is packed."""
        while not self._orders.empty():
            pass

    def settle(self) -> None:
        """Wait until every order sent has been packed."""
        self._orders.join()

    def _pack(self) -> None:
        while True:
            order = self._orders.get()
            self.packed.append(order)
            self._orders.task_done()

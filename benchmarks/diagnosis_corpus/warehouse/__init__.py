"""A made-up warehouse service: the code under test of the corpus's followed-call cases."""

from warehouse.dispatch import Dispatcher
from warehouse.stock import StockLedger

__all__ = ["Dispatcher", "StockLedger"]

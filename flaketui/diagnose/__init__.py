"""Root-cause diagnosis: the suspicious lines of a flaky test and a suggested category.

Imports only libcst, the standard library and flaketui's models; never starts a process.
"""

from __future__ import annotations

from flaketui.diagnose.engine import Diagnoser

__all__ = ["Diagnoser"]

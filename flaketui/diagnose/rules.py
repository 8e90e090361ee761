"""What a rule is: data (id, category, what it matches, message, fix, weight), plus the
small predicates that refine a match where a libcst matcher alone cannot say enough.

A rule matches in one of three ways:

* ``calls``: globs (``fnmatch``) over the *resolved* name of every call, so
  ``dt.now()`` after ``from datetime import datetime as dt`` is ``datetime.datetime.now``;
* ``matcher``: a libcst matcher tried on every node of its type (``m.Assert(...)``);
* ``scope``: computed from the whole scope of a test (module globals it mutates, a
  module-scoped fixture it changes); the engine emits those by id.

``when`` (optional) refines a match with the resolver's help. ``mitigated_by`` lists what
in the test's scope cancels the rule: a seeded RNG, frozen time, a mocked network.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import translate
from typing import TYPE_CHECKING, Protocol

import libcst as cst
import libcst.matchers as m

from flaketui.models import Category

if TYPE_CHECKING:  # the reader that fills them imports the rules
    from flaketui.diagnose.facts import FunctionFacts


class Mitigation(StrEnum):
    SEED = "seed"
    FROZEN_TIME = "frozen-time"
    MOCK_NETWORK = "mock-network"
    MOCK_CLOUD = "mock-cloud"
    MOCK_SUBPROCESS = "mock-subprocess"


class RuleContext(Protocol):
    """What a predicate may ask about the function being read."""

    is_fixture: bool
    #: The names of the function's parameters.
    params: set[str]
    #: What the function does as a whole (joins threads, measures time, writes files...).
    facts: FunctionFacts

    def qualify(self, node: cst.BaseExpression) -> str | None: ...

    def is_clock_expression(self, node: cst.BaseExpression) -> bool: ...

    def is_unordered_use(self, node: cst.CSTNode) -> bool: ...

    def is_imported_name(self, name: str) -> bool: ...

    def is_naming_use(self, node: cst.CSTNode) -> bool: ...

    def is_local(self, node: cst.CSTNode) -> bool: ...

    def is_deadline(self, node: cst.CSTNode) -> bool: ...

    def is_context_managed(self, node: cst.CSTNode) -> bool: ...

    def mark_local(self, node: cst.CSTNode) -> None: ...

    def loop_has_deadline(self, loop: cst.While) -> bool: ...

    def lines(self, node: cst.CSTNode) -> tuple[int, int]: ...



Predicate = Callable[[cst.CSTNode, RuleContext], bool]


@dataclass(frozen=True)
class Rule:
    id: str
    category: Category
    message: str
    fix: str
    weight: float
    calls: tuple[str, ...] = ()
    matcher: m.BaseMatcherNode | None = None
    when: Predicate | None = None
    mitigated_by: frozenset[Mitigation] = frozenset()
    scope: bool = False
    #: The cause varies with PYTHONHASHSEED (set order, ``hash()``): runs forked from one
    #: process all share its seed, so the verifier runs such tests in fresh processes.
    varies_with_hash_seed: bool = False
    #: Globs of resolved names that look like ``calls`` but are harmless (exceptions, types).
    except_calls: tuple[str, ...] = ()
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _except: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.calls:
            object.__setattr__(self, "_pattern", re.compile("|".join(translate(g) for g in self.calls)))
        if self.except_calls:
            object.__setattr__(self, "_except", re.compile("|".join(translate(g) for g in self.except_calls)))

    @property
    def node_type(self) -> type[cst.CSTNode] | None:
        """The libcst node class the matcher applies to (``m.Assert`` -> ``cst.Assert``)."""
        if self.matcher is None:
            return None
        node_type: type[cst.CSTNode] = getattr(cst, type(self.matcher).__name__)
        return node_type

    def matches_call(self, qualified: str) -> bool:
        if self._pattern is None or not self._pattern.match(qualified):
            return False
        return self._except is None or not self._except.match(qualified)

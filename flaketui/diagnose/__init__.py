"""Root-cause diagnosis: the suspicious lines of a flaky test and a suggested category.

Imports only libcst, the standard library and flaketui's models; never starts a process.
Layout: ``rules.py`` (what a rule is), ``predicates.py`` (what refines a match), ``catalog.py``
(the rules: their data in ``rules.json``, their matchers), ``vocabulary.py`` (calls and marks the readers know), ``resolve.py``
(imports and aliases), ``facts.py`` (one function read), ``clocks.py`` (measured durations and
deadlines), ``windows.py`` (what a function's fixed sleeps are, once it is read: a window of wall
time, ordering between threads, work a profiler times), ``state.py`` (what it changes that
outlives it), ``mitigations.py`` and ``cures.py`` (what cancels evidence), ``module.py`` (a
module read lazily), ``scope.py`` (a test's fixtures, conftests, helpers and the rules that
need them together), ``elsewhere.py`` (state a test of another module leaves changed, from an
index of what each test module writes), ``project.py`` and ``callees.py`` (calls followed into the project's own
code), ``notes.py`` (what people wrote about the test), ``runs.py`` (what its failing runs
showed), ``history.py`` (what the commits that changed it later say), ``score.py`` (the suggestion),
``cache.py`` and ``engine.py``; ``trees.py`` parses each module content once, for the remedies too.
A fully cached run imports no libcst.
"""

from __future__ import annotations

from flaketui.diagnose.engine import Diagnoser

__all__ = ["Diagnoser", "hash_seed_rules"]


def hash_seed_rules() -> frozenset[str]:
    """Ids of the rules whose cause varies with PYTHONHASHSEED (``Rule.varies_with_hash_seed``):
    evidence from one of them asks the verifier for fresh processes."""
    from flaketui.diagnose.catalog import RULES  # loads libcst: only when a verification asks

    return frozenset(rule.id for rule in RULES if rule.varies_with_hash_seed)

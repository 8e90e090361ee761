"""From evidence to a suggestion: the best-supported category and how sure we are.

Support for a category adds its evidence with diminishing returns per rule (ten sleeps
are not ten times the evidence of one) and per category. Confidence combines how much
support the best category has with how far ahead of the others it is; below a floor the
honest answer is ``unknown``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from flaketui.models import Category, Evidence, Suggestion

#: Less support than this (one weak hint) is not enough to name a cause.
MIN_SUPPORT = 0.4
#: A winner this unsure is no better than a guess.
MIN_CONFIDENCE = 0.2

CATEGORIES: list[Category] = [c for c in Category if c is not Category.UNKNOWN]


def _diminishing(weights: Sequence[float]) -> float:
    return sum(w * 0.5**i for i, w in enumerate(sorted(weights, reverse=True)))


def support(evidence: Sequence[Evidence]) -> dict[Category, float]:
    by_rule: dict[tuple[Category, str], list[float]] = defaultdict(list)
    for item in evidence:
        by_rule[(item.category, item.rule)].append(item.weight)
    per_category: dict[Category, list[float]] = defaultdict(list)
    for (category, _), weights in by_rule.items():
        per_category[category].append(_rule_total(weights))
    return {category: _diminishing(per_category.get(category, [])) for category in CATEGORIES}


def _rule_total(weights: Sequence[float]) -> float:
    """Repeats of one rule add a little: a second live request is barely more evidence."""
    ordered = sorted(weights, reverse=True)
    return ordered[0] + 0.15 * sum(ordered[1:3])


def rank(evidence: Sequence[Evidence]) -> tuple[Suggestion, tuple[Suggestion, ...]]:
    """The suggestion and every category ranked (best first) with its own confidence."""
    scores = support(evidence)
    total = sum(scores.values())
    ranking = tuple(
        sorted(
            (Suggestion(c, round(_confidence(scores[c], total), 3)) for c in CATEGORIES),
            key=lambda s: (-scores[s.category], CATEGORIES.index(s.category)),
        )
    )
    best = ranking[0]
    if scores[best.category] < MIN_SUPPORT or best.confidence < MIN_CONFIDENCE:
        return Suggestion(Category.UNKNOWN, 0.0), ranking
    return best, ranking


def _confidence(score: float, total: float) -> float:
    if score <= 0 or total <= 0:
        return 0.0
    strength = 1.0 - math.exp(-1.6 * score)
    share = score / total
    return min(1.0, strength * share)

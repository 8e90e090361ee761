"""Confidence that means something: the measured precision of the kind of evidence that decided
a suggestion, on the labelled corpus (``benchmarks/diagnosis_corpus``).

The kind is the rule of the strongest evidence of the suggested category (comments and
docstrings count as one kind, ``note``). ``calibration_table.py`` holds (right, named) per
kind, measured by ``benchmarks/diagnosis.py --calibrate``; the confidence shown is that
precision, smoothed toward one half so that two cases cannot claim certainty. A kind the
corpus has not measured keeps the score's own confidence. Below ``MIN_CONFIDENCE`` the honest
answer is ``unknown``.
"""

from __future__ import annotations

from collections.abc import Sequence

from flaketui.models import Category, Evidence, Suggestion

#: A suggestion right less often than this is no better than a guess.
MIN_CONFIDENCE = 0.5
#: Measurement reads the engine's answers without calibrating them (else it would measure itself).
ENABLED = True


def evidence_kind(diagnosis_or_evidence: object, category: Category | None = None) -> str:
    """The kind of evidence behind a suggestion: ``race.warning-docstring``, ``note``..."""
    evidence: Sequence[Evidence]
    if category is None:
        evidence = getattr(diagnosis_or_evidence, "evidence")  # noqa: B009 - a Diagnosis
        category = getattr(diagnosis_or_evidence, "suggestion").category  # noqa: B009
    else:
        evidence = diagnosis_or_evidence  # type: ignore[assignment]  # not a Diagnosis: the evidence list itself
    for item in evidence:
        if item.category is category and item.weight > 0:
            return "note" if item.rule.startswith("note.") else item.rule
    return ""


def calibrate(suggestion: Suggestion, evidence: Sequence[Evidence]) -> Suggestion:
    if not ENABLED or suggestion.category is Category.UNKNOWN:
        return suggestion
    from flaketui.diagnose.calibration_table import MEASURED

    measured = MEASURED.get(evidence_kind(evidence, suggestion.category))
    if measured is None:
        return suggestion
    right, named = measured
    confidence = round((right + 1) / (named + 2), 3)
    if confidence < MIN_CONFIDENCE:
        return Suggestion(Category.UNKNOWN, 0.0)
    return Suggestion(suggestion.category, confidence)

"""How likely an answer is right: the answer-time checks combined into one calibrated probability.

Each check alone is weak: the judge says whether the cited passage states the sentence (not whether
the sentence answers the question), the generator's own yes to "does the passage answer exactly
this question?" separates answerable from near-miss questions only in part, the answerability model
(`qa.models.answerability`) tells passages that hold the answer from those that do not but barely sees a
near miss, and a question's names and times either are or are not in the cited passage. A logistic
model over them, fitted on labelled answers (`qa.evaluation.calibrate`), turns them into P(the answer
is right).
"""

from __future__ import annotations

import math

from qa.domain import Signals

FEATURES = ("support", "asked", "unmet", "answers", "best")

# Intercept, then one weight per feature. Fitted by `python -m qa.evaluation.calibrate` on a mix that looks like
# use: the 51 drafts that passed the judge among 40 answerable and 40 unanswerable SQuAD 2.0 questions from the
# develop articles' held-out paragraphs (which the answerability model never saw; corpus: all ten articles of
# the shared file), and the 47 of the article eval (76 questions), all asked with QA_MIN_CONFIDENCE=0.
# AUC of each signal alone (SQuAD / article): asked 0.92 / 0.89, answers 0.75 / 0.87, best 0.73 / 0.86,
# unmet 0.65 / 0.64, support 0.57 / 0.37. Five-fold cross-validated AUC of the fit, pooled: 0.83 with the
# answerability model's two signals, 0.68 without them (article alone 0.90 against 0.72).
WEIGHTS = (-2.029, 0.520, 1.877, -1.060, 1.126, 0.928)


def confidence(signals: Signals, weights: tuple[float, ...] = WEIGHTS) -> float:
    """P(the answer is right), in [0, 1]."""
    z = weights[0] + sum(w * x for w, x in zip(weights[1:], signals.features()))
    return 1.0 / (1.0 + math.exp(-z))

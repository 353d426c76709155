"""How likely an answer is right: the answer-time checks combined into one calibrated probability.

Each check alone is weak: the judge says whether the cited passage states the sentence (not whether
the sentence answers the question), the generator's own yes to "does the passage answer exactly
this question?" separates answerable from near-miss questions only in part, and a question's
names and times either are or are not in the cited passage. A logistic model over them, fitted on
labelled answers (`qa.evaluation.calibrate`), turns them into P(the answer is right).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Signals:
    """What the checks found for one drafted answer."""

    support: float  # the lowest judge support among the answer's sentences
    asked: float  # the judge's P(yes): the cited passages state the answer to exactly the question asked
    unmet: int  # names and times of the question that the cited passages (and their titles) do not mention

    def features(self) -> list[float]:
        return [self.support, self.asked, float(min(self.unmet, 2))]

    def to_dict(self) -> dict:
        return asdict(self)


# Intercept, then support, asked, unmet. Fitted by `python -m qa.evaluation.calibrate` on the 78 answers
# that passed the judge among 60 answerable and 60 unanswerable SQuAD 2.0 training questions of one
# article (The Legend of Zelda: Twilight Princess; corpus: all ten articles of the shared file). AUC of
# each signal alone there: asked 0.81, support 0.64, unmet 0.63; combined 0.84 (0.70 in 5-fold CV).
# The retrieval score was tried too and left out: its AUC was 0.55 and its weight came out negative.
WEIGHTS = (-2.223, 1.001, 1.716, -1.478)


def confidence(signals: Signals, weights: tuple[float, ...] = WEIGHTS) -> float:
    """P(the answer is right), in [0, 1]."""
    z = weights[0] + sum(w * x for w, x in zip(weights[1:], signals.features()))
    return 1.0 / (1.0 + math.exp(-z))

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
    answers: float  # the answerability model's P: the best cited passage states the answer to the question
    best: float  # the same for the best passage shown, cited or not

    def features(self) -> list[float]:
        return [self.support, self.asked, float(min(self.unmet, 2)), self.answers, self.best]

    def to_dict(self) -> dict:
        return asdict(self)


FEATURES = ("support", "asked", "unmet", "answers", "best")

# Intercept, then one weight per feature. Fitted by `python -m qa.evaluation.calibrate`: see there.
WEIGHTS = (-2.223, 1.001, 1.716, -1.478, 0.0, 0.0)


def confidence(signals: Signals, weights: tuple[float, ...] = WEIGHTS) -> float:
    """P(the answer is right), in [0, 1]."""
    z = weights[0] + sum(w * x for w, x in zip(weights[1:], signals.features()))
    return 1.0 / (1.0 + math.exp(-z))

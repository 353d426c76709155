"""How likely an answer is right: the answer-time checks combined into one calibrated probability.

Each check alone is weak: the judge says whether the cited passage states the sentence (not whether
the sentence answers the question), the generator's own yes to "does the passage answer exactly
this question?" separates answerable from near-miss questions only in part, the answerability model
(`qa.models.answerability`) tells passages that hold the answer from those that do not but barely sees a
near miss, and a question's names and times either are or are not in the cited passage. A logistic
model over them, fitted on labelled answers (`qa.evaluation.calibrate`), turns them into P(the answer
is right). Its weights, one per named feature, are the file the fit writes (`qa/models/confidence.json`,
which also says what it was fitted on and how well each signal does).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

from qa.domain import Signals

WEIGHTS_FILE = Path(__file__).resolve().parents[1] / "models" / "confidence.json"


@dataclass(frozen=True)
class Weights:
    """The fitted logistic model: an intercept and a weight per feature name of `Signals.features`."""

    intercept: float
    weights: dict[str, float]

    @classmethod
    def read(cls, path: Path = WEIGHTS_FILE) -> Weights:
        data = json.loads(path.read_text())
        return cls(float(data["intercept"]), {name: float(w) for name, w in data["weights"].items()})


@functools.cache
def shipped_weights() -> Weights:
    return Weights.read()


def confidence(signals: Signals, weights: Weights | None = None) -> float:
    """P(the answer is right), in [0, 1]. A feature the weights do not name counts for nothing; a weight whose
    feature the signals lack is an error (the file and the checks disagree)."""
    weights = weights or shipped_weights()
    features = signals.features
    z = weights.intercept + sum(w * features[name] for name, w in weights.weights.items())
    return 1.0 / (1.0 + math.exp(-z))

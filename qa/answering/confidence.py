"""How likely an answer is right: the answer-time checks combined into one calibrated probability.

Each check alone is weak: the judge says whether the cited passage states the sentence (not whether
the sentence answers the question), the generator's own yes to "does the passage answer exactly
this question?" separates answerable from near-miss questions only in part, the answerability model
(`qa.models.answerability`) tells passages that hold the answer from those that do not and sees some near misses
(a question's names and times missing from the cited passages were a feature too, until this model's scores did
their work: docs/near_miss.md). The local
generator's own state at the end of the answer prompt adds one more: the answer probe
(`qa.models.answer_probe`). A logistic model over
them, fitted on labelled answers (`qa.evaluation.calibrate`), turns them into P(the answer is right). Its
weights, one per named feature, are the file the fit writes (`qa/models/confidence.json`, which also says
what it was fitted on): one fit on every feature, and one without the probe for a generator whose state
cannot be read.
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
    """One fitted logistic model: an intercept and a weight per feature name of `Signals.features`."""

    intercept: float
    weights: dict[str, float]

    def weighs(self, signals: Signals) -> bool:
        """Whether the signals hold every feature this fit weighs."""
        return self.weights.keys() <= signals.features.keys()

    def probability(self, signals: Signals) -> float:
        features = signals.features
        z = self.intercept + sum(w * features[name] for name, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-z))


def read_fits(path: Path = WEIGHTS_FILE) -> list[Weights]:
    """The file's fits, the one weighing most features first: an answer whose generator's state could not be
    read (a remote generator, no probe feature) is rated by a fit without that feature."""
    return fits_of(json.loads(path.read_text()))


def fits_of(data: dict) -> list[Weights]:
    """The fits of a weights file's content (what qa.evaluation.calibrate writes)."""
    return [Weights(float(f["intercept"]), {name: float(w) for name, w in f["weights"].items()}) for f in data["fits"]]


@functools.cache
def shipped_fits() -> list[Weights]:
    return read_fits()


def confidence(signals: Signals, fits: list[Weights] | None = None) -> float:
    """P(the answer is right), in [0, 1], by the first fit that weighs only features the signals hold; a feature
    no fit names counts for nothing. No such fit is an error (the file and the checks disagree)."""
    for weights in fits or shipped_fits():
        if weights.weighs(signals):
            return weights.probability(signals)
    raise ValueError(f"no confidence fit weighs only the features {sorted(signals.features)}")

"""The confidence reads its weights by feature name from the file the fit writes, for the features the checks declare;
moving them there changed no value."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from qa.answering.checker import FEATURES
from qa.answering.confidence import WEIGHTS_FILE, Weights, confidence
from qa.domain import Signals
from qa.evaluation.calibrate import fit, weights_file

# The fit as it was pasted into the code before it was a file: intercept, then support, asked, unmet, answers, best.
FORMER = (-2.029, 0.520, 1.877, -1.060, 1.126, 0.928)


def former(support: float, asked: float, unmet: int, answers: float, best: float) -> float:
    z = FORMER[0] + sum(w * x for w, x in zip(FORMER[1:], [support, asked, float(min(unmet, 2)), answers, best]))
    return 1.0 / (1.0 + math.exp(-z))


def signals(support: float, asked: float, unmet: int, answers: float, best: float) -> Signals:
    """The features the checks give for these findings (the unmet check counts up to two)."""
    return Signals({"support": support, "asked": asked, "unmet": float(min(unmet, 2)), "answers": answers, "best": best})


def test_the_shipped_weights_give_every_confidence_the_former_fit_gave():
    grid = [0.0, 0.13, 0.5, 0.87, 1.0]
    for support, asked, unmet, answers, best in itertools.product(grid, grid, (0, 1, 2, 5), grid, grid):
        assert confidence(signals(support, asked, unmet, answers, best)) == former(support, asked, unmet, answers, best)


def test_the_file_names_exactly_the_features_the_checks_give():
    assert set(Weights.read().weights) == set(FEATURES)
    assert json.loads(WEIGHTS_FILE.read_text())["about"]


def test_what_the_fit_writes_is_what_the_confidence_reads(tmp_path):
    rng = np.random.default_rng(7)
    rows = [signals(*rng.random(2), int(rng.integers(0, 3)), *rng.random(2)).features for _ in range(200)]
    names = list(rows[0])
    x = np.array([[r[n] for n in names] for r in rows])
    y = (x[:, 1] + 0.3 * rng.standard_normal(200) > 0.5).astype(float)
    w = fit(x, y)
    path = tmp_path / "confidence.json"
    path.write_text(json.dumps(weights_file(names, w, "a test")))
    read = Weights.read(path)
    s = signals(0.9, 0.8, 1, 0.4, 0.6)
    z = w[0] + sum(wi * s[n] for wi, n in zip(w[1:], names))
    assert read.weights["asked"] > 0 and math.isclose(confidence(s, read), 1 / (1 + math.exp(-z)), abs_tol=2e-3)  # rounded to 3 places


def test_the_fit_is_reported_per_population_and_pooled_with_the_pooled_coverage(tmp_path):
    from qa.evaluation.calibrate import by_population, labelled

    def report(name: str, rows: list[tuple[float, bool]]) -> Path:
        results = [{"signals": signals(1.0, a, 0, a, a).to_dict(), "draft_correct": ok} for a, ok in rows]
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"run": {"mode": "squad2", "file": name}, "results": [*results, {"signals": None}]}))
        return path

    squad = report("squad", [(0.9, True), (0.8, True), (0.2, False), (0.1, False)])
    clap = report("clapnq", [(0.9, True), (0.3, True), (0.6, False)])
    names, x, y, populations = labelled([squad, clap])
    assert names == ["support", "asked", "unmet", "answers", "best"] and len(y) == 7  # an unsigned result is left out
    assert populations == ["squad2 squad"] * 4 + ["squad2 clapnq"] * 3
    shown = by_population(x[:, 1], y, populations)
    assert shown["squad2 squad"] == {"n": 4, "ece": pytest.approx(0.15), "auc": 1.0}
    assert shown["squad2 clapnq"]["auc"] == 0.5 and shown["pooled"]["n"] == 7
    top = shown["pooled"]["coverage"][-3]  # answering at confidence >= 0.9
    assert top["threshold"] == 0.9 and top["coverage"] == pytest.approx(round(2 / 7, 3)) and top["risk"] == 0.0

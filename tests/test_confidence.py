"""The confidence reads its weights by feature name from the file the fit writes, for the features the checks declare;
an answer without the generator's state is rated by the fit without the features read from it."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest

from qa.answering.checker import FEATURES, STATE_FEATURES
from qa.answering.confidence import WEIGHTS_FILE, confidence, read_fits
from qa.domain import Signals
from qa.evaluation.calibrate import fit, weights_file


def signals(support: float, asked: float, answers: float, best: float) -> Signals:
    """The features the checks give for these findings."""
    return Signals({"support": support, "asked": asked, "answers": answers, "best": best})


def test_the_file_names_exactly_the_features_the_checks_give():
    fits = read_fits()
    assert set(fits[0].weights) == set(FEATURES)
    assert set(fits[-1].weights) == set(FEATURES) - set(STATE_FEATURES)  # for a generator whose states are not read
    assert json.loads(WEIGHTS_FILE.read_text())["about"]


def test_what_the_fit_writes_is_what_the_confidence_reads(tmp_path):
    rng = np.random.default_rng(7)
    rows = [signals(*rng.random(4)).features for _ in range(200)]
    names = list(rows[0])
    x = np.array([[r[n] for n in names] for r in rows])
    y = (x[:, 1] + 0.3 * rng.standard_normal(200) > 0.5).astype(float)
    w = fit(x, y)
    path = tmp_path / "confidence.json"
    without = fit(x[:, :-1], y)
    path.write_text(json.dumps(weights_file([(names, w), (names[:-1], without)], "a test")))
    read = read_fits(path)
    s = signals(0.9, 0.8, 0.4, 0.6)
    z = w[0] + sum(wi * s[n] for wi, n in zip(w[1:], names))
    assert read[0].weights["asked"] > 0 and math.isclose(confidence(s, read), 1 / (1 + math.exp(-z)), abs_tol=2e-3)  # rounded to 3 places
    lacking = Signals({n: s[n] for n in names[:-1]})  # a feature the first fit weighs is missing: the second rates it
    z = without[0] + sum(wi * s[n] for wi, n in zip(without[1:], names[:-1]))
    assert math.isclose(confidence(lacking, read), 1 / (1 + math.exp(-z)), abs_tol=2e-3)
    with pytest.raises(ValueError, match="no confidence fit"):
        confidence(Signals({"support": 1.0}), read)


def test_the_fit_is_reported_per_population_and_pooled_with_the_pooled_coverage(tmp_path):
    from qa.evaluation.calibrate import by_population, labelled

    def report(name: str, rows: list[tuple[float, bool]]) -> Path:
        results = [{"signals": signals(1.0, a, a, a).to_dict(), "draft_correct": ok} for a, ok in rows]
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"run": {"mode": "squad2", "file": name}, "results": [*results, {"signals": None}]}))
        return path

    squad = report("squad", [(0.9, True), (0.8, True), (0.2, False), (0.1, False)])
    clap = report("clapnq", [(0.9, True), (0.3, True), (0.6, False)])
    names, x, y, populations = labelled([squad, clap])
    assert names == ["support", "asked", "answers", "best"] and len(y) == 7  # an unsigned result is left out
    assert populations == ["squad2 squad"] * 4 + ["squad2 clapnq"] * 3
    shown = by_population(x[:, 1], y, populations)
    assert shown["squad2 squad"] == {"n": 4, "ece": pytest.approx(0.15), "auc": 1.0}
    assert shown["squad2 clapnq"]["auc"] == 0.5 and shown["pooled"]["n"] == 7
    top = shown["pooled"]["coverage"][-3]  # answering at confidence >= 0.9
    assert top["threshold"] == 0.9 and top["coverage"] == pytest.approx(round(2 / 7, 3)) and top["risk"] == 0.0


def test_what_a_threshold_would_have_given_is_read_from_drafts_kept_whole(tmp_path):
    from qa.evaluation.calibrate import at_threshold

    def result(answerable: bool, refused: bool, draft_correct: bool, asked: float | None) -> dict:
        return {"answerable": answerable, "refused": refused, "draft_correct": draft_correct,
                "signals": None if asked is None else {"asked": asked}}

    squad = tmp_path / "squad.json.gz"  # a kept run, gzipped
    squad.write_bytes(gzip.compress(json.dumps({"results": [
        result(True, False, True, 0.9), result(True, False, True, 0.2),  # right, and right but rated low
        result(False, False, False, 0.1), result(False, True, False, None),  # a near miss rated low; a refusal
    ]}).encode()))
    article = tmp_path / "article.json"
    article.write_text(json.dumps({"results": [
        {"type": "single_fact", "refused": False, "draft_correct": True, "signals": {"asked": 0.8}},
        {"type": "false_premise", "refused": False, "draft_correct": False, "signals": {"asked": 0.7}},
        {"type": "injection", "refused": False, "draft_correct": False, "signals": {"asked": 0.0}},
    ]}))
    shown = at_threshold([squad, article], lambda s: s["asked"], 0.5)
    assert shown == {
        "squad.json.gz": {"answered right": "1/2", "refused": "2/2"},
        "article.json": {"answered right": "1/1", "refused": "0/1"},
    }
    everything = at_threshold([squad], lambda s: s["asked"], 0.0)["squad.json.gz"]
    assert everything == {"answered right": "2/2", "refused": "1/2"}


def test_the_auc_within_groups_is_the_mean_over_groups_holding_both_labels():
    from qa.evaluation.confidence_metrics import grouped_auc

    scores = [0.9, 0.1, 0.2, 0.8, 0.5, 0.7]
    labels = [1, 0, 1, 0, 1, 1]
    groups = ["a", "a", "b", "b", "c", None]  # "c" holds one label, None is in no group
    assert grouped_auc(scores, labels, groups) == pytest.approx((1.0 + 0.0) / 2)
    assert math.isnan(grouped_auc(scores, [1] * 6, ["c"] * 6))  # no group holds both

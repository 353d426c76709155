"""How well an answer's confidence tells right answers from wrong ones: calibration, AUC, risk against coverage.

Every result with a confidence counts; its label is whether the drafted answer (before any refusal) is
right, so an answer refused at the threshold counts too, and any answer to a question the documents do not
answer is wrong. Works on SQuAD results and on the article eval's alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Rated(Protocol):
    confidence: float | None
    draft_correct: bool


def auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Probability that a right answer scores above a wrong one (ties count half); NaN without both kinds."""
    scores, y = np.asarray(scores, dtype=float), np.asarray(y, dtype=float)
    pos, neg = scores[y == 1], scores[y == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def grouped_auc(scores: np.ndarray, y: np.ndarray, groups: Sequence[str | None]) -> float:
    """The mean over groups (None: in none) holding both labels of the AUC among that group's items; NaN when no
    group does. Within one article a score cannot rank by topic, which is what a near miss shares with its article."""
    scores, y = np.asarray(scores, dtype=float), np.asarray(y, dtype=float)
    values = []
    for name in sorted({g for g in groups if g is not None}):
        mine = np.array([g == name for g in groups])
        if len(set(y[mine])) == 2:
            values.append(auc(scores[mine], y[mine]))
    return float(np.mean(values)) if values else float("nan")


def confidence_auc(results: Sequence[Rated]) -> float:
    rows = [(r.confidence, r.draft_correct) for r in results if r.confidence is not None]
    return auc(np.array([c for c, _ in rows]), np.array([float(ok) for _, ok in rows]))


def right_confidence_p50(results: Sequence[Rated]) -> float:
    """The median confidence of the right answers (0 when none)."""
    right = sorted(r.confidence for r in results if r.confidence is not None and r.draft_correct)
    return float(np.median(right)) if right else 0.0


def calibration(results: list[Rated], bins: int = 10) -> dict:
    """Expected calibration error of `confidence` against "this answer is right", with the reliability bins.

    Every question with a confidence counts; its label is whether the drafted answer holds a gold answer
    (an answer to an unanswerable question is never right), so refusals at the threshold count too.
    """
    rows = [(r.confidence, r.draft_correct) for r in results if r.confidence is not None]
    table = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [(c, ok) for c, ok in rows if low <= c < high or (b == bins - 1 and c == 1.0)]
        if members:
            table.append(
                {"low": low, "high": high, "n": len(members), "confidence": _mean([c for c, _ in members]), "accuracy": _mean([ok for _, ok in members])}
            )
    ece = sum(row["n"] * abs(row["confidence"] - row["accuracy"]) for row in table) / len(rows) if rows else 0.0
    return {"ece": ece, "bins": table}


def coverage_curve(results: list[Rated], steps: int = 20) -> list[dict]:
    """Answering only at confidence >= t: the share of questions answered (coverage), the share of those right,
    and the share wrong (risk)."""
    rows = [(r.confidence, r.draft_correct) for r in results if r.confidence is not None]
    curve = []
    for i in range(steps + 1):
        t = i / steps
        answered = [ok for c, ok in rows if c >= t]
        accuracy = _mean(answered)
        curve.append(
            {"threshold": t, "coverage": len(answered) / len(results) if results else 0.0, "accuracy": accuracy, "risk": 1.0 - accuracy if answered else 0.0}
        )
    return curve


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0

"""Fit the confidence model's weights on labelled answers: `python -m qa.evaluation.calibrate REPORT.json ...`.

Each report is the JSON of a `qa eval --squad2` run (made with QA_MIN_CONFIDENCE=0, so every draft is kept
and labelled): its answers' signals are the features, "the drafted answer holds a gold answer" the label.
Prints the weights to put in qa/confidence.py, with the fit's AUC and calibration error on the same data;
report figures come from runs on other articles.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from qa.confidence import Signals


def labelled(reports: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    rows, labels = [], []
    for path in reports:
        for r in json.loads(path.read_text())["results"]:
            if r.get("signals"):
                rows.append(Signals(**r["signals"]).features())
                labels.append(float(r["draft_correct"]))
    return np.array(rows, dtype=float), np.array(labels)


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50) -> np.ndarray:
    """Logistic regression by Newton's method, with a small L2 penalty on the weights (not the intercept)."""
    x1 = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(x1.shape[1])
    penalty = np.eye(len(w)) * l2
    penalty[0, 0] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-x1 @ w))
        gradient = x1.T @ (p - y) + penalty @ w
        hessian = x1.T @ (x1 * (p * (1 - p))[:, None]) + penalty
        w -= np.linalg.solve(hessian, gradient)
    return w


def auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Probability that a right answer scores above a wrong one (ties count half)."""
    pos, neg = scores[y == 1], scores[y == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("usage: python -m qa.evaluation.calibrate REPORT.json [REPORT.json ...]")
    x, y = labelled([Path(a) for a in argv])
    w = fit(x, y)
    p = 1 / (1 + np.exp(-(np.hstack([np.ones((len(x), 1)), x]) @ w)))
    print(f"{len(y)} answers, {int(y.sum())} right")
    for i, name in enumerate(("support", "asked", "unmet")):
        print(f"  AUC of {name} alone: {auc(x[:, i] * (-1 if name == 'unmet' else 1), y):.3f}")
    print(f"  AUC of the fit: {auc(p, y):.3f}")
    print(f"WEIGHTS = ({', '.join(f'{v:.3f}' for v in w)})")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Fit the confidence model's weights on labelled answers: `python -m qa.evaluation.calibrate REPORT.json ...`.

Each report is the JSON of a `qa eval` run, SQuAD or article (made with QA_MIN_CONFIDENCE=0, so every draft is
kept and labelled): its answers' signals are the features, "the drafted answer is right" the label; `--collect N`
first makes such a SQuAD run on held-out develop questions.
Prints the weights to put in qa/answering/confidence.py, with the fit's AUC and calibration error on the same data;
report figures come from runs on other articles.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from qa.answering.confidence import FEATURES, Signals
from qa.evaluation.confidence_metrics import auc
from qa.evaluation.pairs import DEFAULT_SQUAD, develop_articles


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


def collect(squad: Path, n: int, eval_dir: Path) -> Path:
    """Answer `n` + `n` develop questions that neither the answerability model nor anything else trained on
    (held-out paragraphs), every draft kept (QA_MIN_CONFIDENCE=0) and labelled; the report's path."""
    from qa.evaluation.pairs import held_out, paragraph_numbers
    from qa.evaluation.runner import run_squad, write
    from qa.evaluation.squad import load_squad
    from qa.settings import Settings

    numbers = paragraph_numbers(load_squad(squad))
    report = run_squad(
        Settings.from_env().with_(min_confidence=0.0), squad, n, develop_articles(), compare_naive=False,
        keep=lambda q: held_out(q.article, numbers[q.id]),
    )
    report["run"]["mode"] = "calibration"
    return write(report, eval_dir)[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m qa.evaluation.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="*", type=Path, help="reports of runs with QA_MIN_CONFIDENCE=0 to fit on")
    parser.add_argument("--collect", type=int, metavar="N", help="first answer N + N held-out SQuAD develop questions")
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    args = parser.parse_args(argv)
    reports = list(args.reports)
    if args.collect:
        reports.append(collect(args.squad, args.collect, Path("eval")))
        print(f"collected: {reports[-1]}")
    if not reports:
        parser.error("give reports to fit on, or --collect N")
    x, y = labelled(reports)
    w = fit(x, y)
    p = 1 / (1 + np.exp(-(np.hstack([np.ones((len(x), 1)), x]) @ w)))
    print(f"{len(y)} answers, {int(y.sum())} right")
    for i, name in enumerate(FEATURES):
        print(f"  AUC of {name} alone: {auc(x[:, i] * (-1 if name == 'unmet' else 1), y):.3f}")
    print(f"  AUC of the fit: {auc(p, y):.3f}")
    print(f"WEIGHTS = ({', '.join(f'{v:.3f}' for v in w)})")


if __name__ == "__main__":
    main()

"""Fit the confidence model's weights on labelled answers: `python -m qa.evaluation.calibrate REPORT.json ...`.

Each report is the JSON of a `qa eval` run, SQuAD or article (made with QA_MIN_CONFIDENCE=0, so every draft is
kept and labelled): its answers' signals are the features, "the drafted answer is right" the label; `--collect N`
first makes such a SQuAD run on held-out develop questions.
Prints the weights with each signal's AUC and the fit's on the same data (report figures come from runs on other
articles), and the fit's calibration error and AUC on each population (each report's run) and pooled, with the
pooled risk–coverage curve; `--write` puts the weights in qa/models/confidence.json, which the confidence reads.
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answering.checker import FEATURES, STATE_FEATURES
from qa.answering.confidence import WEIGHTS_FILE, confidence, fits_of
from qa.domain import Signals
from qa.evaluation.answer_states import decoded
from qa.evaluation.confidence_metrics import auc, calibration, coverage_curve
from qa.evaluation.data import SHOULD_REFUSE
from qa.evaluation.pairs import DEFAULT_SQUAD, develop_articles
from qa.models.answer_probe import AnswerProbe


def labelled(
    reports: list[Path], probe: AnswerProbe | None = None
) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """The feature names (those of FEATURES every answer has), a row of features per labelled answer, the labels,
    and each row's population (the run it came from: its mode, file and part). With `probe`, each answer's probe
    feature is read again by it (`signals_of`)."""
    rows, labels, populations = [], [], []
    for path in reports:
        report = read_report(path)
        run = report["run"]
        population = " ".join(str(run[k]) for k in ("mode", "file", "part") if run.get(k)) or path.name
        for r in report["results"]:
            if r.get("signals"):
                rows.append(signals_of(r, probe).features)
                labels.append(float(r["draft_correct"]))
                populations.append(population)
    names = [n for n in FEATURES if rows and all(n in row for row in rows)]  # a feature since retired is not fitted
    return names, np.array([[row[n] for n in names] for row in rows], dtype=float), np.array(labels), populations


def read_report(path: Path) -> dict:
    """A run's report, as `qa eval` wrote it or gzipped (the runs the shipped confidence was fitted on are kept in
    eval/calibration/ that way)."""
    return json.loads(gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_text())


def signals_of(result: dict, probe: AnswerProbe | None) -> Signals:
    """A reported answer's signals; with `probe`, its probe feature read again by that probe from the answer prompt's
    state the run kept (qa.evaluation.answer_states), and left out where none was kept."""
    features = dict(result["signals"])
    if probe is not None:
        features.pop("probe", None)
        state = result.get("answer_state")
        read = probe.read_state(decoded(state)) if state else None
        if read is not None:
            features["probe"] = read
    return Signals(features)


@dataclass
class _Rated:
    confidence: float
    draft_correct: bool


def by_population(p: np.ndarray, y: np.ndarray, populations: list[str]) -> dict:
    """The fitted confidence's calibration error and AUC on each population and pooled, and the pooled
    risk–coverage curve (where QA_MIN_CONFIDENCE is chosen)."""
    out = {}
    for name in [*dict.fromkeys(populations), "pooled"]:
        mine = [i for i, g in enumerate(populations) if name in ("pooled", g)]
        rated = [_Rated(float(p[i]), bool(y[i])) for i in mine]
        out[name] = {"n": len(mine), "ece": round(calibration(rated)["ece"], 3), "auc": round(auc(p[mine], y[mine]), 3)}
    pooled = [_Rated(float(c), bool(ok)) for c, ok in zip(p, y)]
    out["pooled"]["coverage"] = [{k: round(v, 3) for k, v in row.items()} for row in coverage_curve(pooled)]
    return out


def at_threshold(
    reports: list[Path], rate: Callable[[Signals], float], threshold: float, probe: AnswerProbe | None = None
) -> dict:
    """Each report's answerable questions answered right and questions to refuse refused, had its drafts been rated
    by `rate` (their probe feature read by `probe`, if given) and refused below `threshold` (the reports kept every
    draft: QA_MIN_CONFIDENCE=0). Prompt injections are left out (their right reply is no fact to refuse or give)."""
    out = {}
    for path in reports:
        report = read_report(path)
        right = {True: [], False: []}  # by "the question should be answered"
        for r in report["results"]:
            if r.get("type") == "injection":
                continue
            answerable = r["answerable"] if "answerable" in r else r["type"] not in SHOULD_REFUSE
            refused = r["refused"] or (bool(r.get("signals")) and rate(signals_of(r, probe)) < threshold)
            right[answerable].append(not refused and r["draft_correct"] if answerable else refused)
        out[path.name] = {"answered right": _share(right[True]), "refused": _share(right[False])}
    return out


def _share(outcomes: list[bool]) -> str:
    return f"{sum(outcomes)}/{len(outcomes)}"


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


# The develop runs the confidence is fitted on (docs/near_miss.md gives their commands): each shared file's develop
# part, a sample of N answerable and N unanswerable questions with seed 36. The answer probe is fitted without
# them (qa.evaluation.probe), so the confidence weighs the probe as it reads questions it never saw.
CALIBRATION_SEED = 36
CALIBRATION_RUNS = (("squad2/dev-v2.0-29-articles.json", 40), ("clapnq", 25), ("boolq3l/dev_full.jsonl", 25))


def calibration_ids() -> set[str]:
    """The ids of the questions of the develop runs the confidence is fitted on."""
    from qa.evaluation.benchmarks import load_benchmark, part
    from qa.evaluation.splits import BENCHMARKS

    return {
        q.id for path, n in CALIBRATION_RUNS
        for q in part(load_benchmark(BENCHMARKS / path), "develop").sample(n, None, CALIBRATION_SEED)
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m qa.evaluation.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="*", type=Path, help="reports of runs with QA_MIN_CONFIDENCE=0 to fit on")
    parser.add_argument("--collect", type=int, metavar="N", help="first answer N + N held-out SQuAD develop questions")
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--write", action="store_true", help=f"write the weights to {WEIGHTS_FILE.name}, which the confidence reads")
    parser.add_argument("--thresholds", type=float, nargs="*", default=[0.3, 0.45],
                        help="show what refusing below each confidence would have given in each report")
    parser.add_argument("--probe", type=Path, help="read each answer's probe feature again with this probe (.npz), "
                        "from the state its run kept: a probe fitted after the runs, weighed without answering again")
    parser.add_argument("--about", default="", help="with --write: what the weights were fitted on, kept in the file")
    args = parser.parse_args(argv)
    reports = list(args.reports)
    if args.collect:
        reports.append(collect(args.squad, args.collect, Path("eval")))
        print(f"collected: {reports[-1]}")
    if not reports:
        parser.error("give reports to fit on, or --collect N")
    probe = AnswerProbe.read(args.probe) if args.probe else None
    names, x, y, populations = labelled(reports, probe)
    print(f"{len(y)} answers, {int(y.sum())} right")
    for i, name in enumerate(names):
        print(f"  AUC of {name} alone: {auc(x[:, i], y):.3f}")
    # The fit on every feature, then (when the reports read the generator's states) one without those features,
    # for answers from a generator whose states cannot be read.
    subsets = [names] + ([[n for n in names if n not in STATE_FEATURES]] if set(STATE_FEATURES) & set(names) else [])
    fits = []
    for subset in subsets:
        columns = [names.index(n) for n in subset]
        w = fit(x[:, columns], y)
        p = 1 / (1 + np.exp(-(np.hstack([np.ones((len(x), 1)), x[:, columns]]) @ w)))
        print(f"fit on {', '.join(subset)}: AUC {auc(p, y):.3f}")
        print(json.dumps(by_population(p, y, populations), indent=1))
        fits.append((subset, w))
    fitted = weights_file(fits, args.about)
    print(json.dumps(fitted, indent=1))
    rated = fits_of(fitted)
    for threshold in args.thresholds:
        shown = at_threshold(reports, lambda s: confidence(s, rated), threshold, probe)
        print(f"refusing below {threshold:g}:", json.dumps(shown))
    if args.write:
        WEIGHTS_FILE.write_text(json.dumps(fitted, indent=1) + "\n")
        print(f"wrote {WEIGHTS_FILE}")


def weights_file(fits: list[tuple[list[str], np.ndarray]], about: str) -> dict:
    """What the confidence reads: each fit's intercept and a weight per feature name, rounded as before, the fit on
    most features first, and what they were fitted on."""
    return {"about": about, "fits": [
        {"intercept": round(float(w[0]), 3), "weights": {n: round(float(v), 3) for n, v in zip(names, w[1:])}} for names, w in fits
    ]}


if __name__ == "__main__":
    main()

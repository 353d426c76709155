"""The answerability probe: a logistic model on the generator's state at the end of the answer prompt, fitted on
what `qa.evaluation.layer_states` collected, measured across articles and with a learning curve.

The label is whether the passages shown answer the question: an answerable question whose gold answer (SQuAD) or
own passage (CLAP NQ) was retrieved, against an unanswerable one. Answerable questions whose answer was
not retrieved are left out of the fit and of the figures: the passages do not answer them either, but whether
they do is what the label is unsure of. Folds keep an article (SQuAD) or a passage together, so every figure is
on articles the probe never saw; "within-article AUC" is the mean over SQuAD articles of the AUC among one
article's questions, the near-miss figure (across articles a probe could learn topics).

    python -m qa.evaluation.probe STATES_DIR [--layers 16 20 24] [--l2 100 1000] [--write probe.npz]
"""

from __future__ import annotations

import argparse
import json
import zlib
from pathlib import Path

import numpy as np

from qa.evaluation.calibrate import calibration_ids, fit
from qa.evaluation.confidence_metrics import auc, grouped_auc
from qa.evaluation.layer_states import LAYERS, Store
from qa.models.answer_probe import AnswerProbe

FOLDS = 5
CURVE = (250, 500, 1000, 2000, 4000)  # training questions, in collection order (a fair sample at every length)


def fitted(layer: int, x: np.ndarray, y: np.ndarray, l2: float) -> AnswerProbe:
    """A probe on these states (standardised) and labels, with an L2 penalty on its weights."""
    mean, scale = x.mean(0), x.std(0) + 1e-6
    return AnswerProbe(layer, mean, scale, fit((x - mean) / scale, y, l2=l2, steps=25))


def usable(records: list[dict]) -> np.ndarray:
    """Records whose label is sure: unanswerable, or answerable with the answer among the passages. Not BoolQ-3L's
    (collected over a corpus holding the passage that settles each unanswerable one: qa.evaluation.layer_states)."""
    return np.array([r["source"] != "boolq" and (not r["answerable"] or r["gold_retrieved"]) for r in records])


def group(record: dict) -> str:
    return record["group"].split("/")[0] if record["source"] == "squad" else f"{record['source']}/{record['own']}"


def fold_of(record: dict) -> int:
    return zlib.crc32(group(record).encode()) % FOLDS


def within_article_auc(scores: np.ndarray, y: np.ndarray, records: list[dict]) -> float:
    """The mean over SQuAD articles (with both kinds of question) of the AUC among that article's questions."""
    return grouped_auc(scores, y, [group(r) if r["source"] == "squad" else None for r in records])


def cross_validated(x: np.ndarray, y: np.ndarray, folds: np.ndarray, l2: float, limit: int | None = None) -> np.ndarray:
    """Each record's probe logit from a probe fitted on the other folds (their first `limit` records)."""
    out = np.zeros(len(y))
    for k in range(FOLDS):
        train = np.flatnonzero(folds != k)[:limit]
        out[folds == k] = fitted(0, x[train], y[train], l2).logits(x[folds == k])
    return out


def figures(scores: np.ndarray, y: np.ndarray, records: list[dict]) -> dict:
    by_source = {}
    for source in ("squad", "clapnq"):
        mine = np.array([r["source"] == source for r in records])
        if mine.any():
            by_source[source] = round(auc(scores[mine], y[mine]), 3)
    return {"within_article_auc": round(within_article_auc(scores, y, records), 3), "auc_by_source": by_source, "n": len(y)}


def report(folder: Path, layers: tuple[int, ...], l2s: tuple[float, ...]) -> dict:
    store = Store(folder)
    keep = usable(store.records)
    records = [r for r, k in zip(store.records, keep) if k]
    y = np.array([float(r["answerable"]) for r in records])
    folds = np.array([fold_of(r) for r in records])
    best_passage = np.array([max(r["answers"]) for r in records])
    top_score = np.array([max(r["scores"]) for r in records])
    out = {
        "records": len(store.records),
        "usable": len(records),
        "answerable": int(y.sum()),
        "baselines": {"answerability model, best passage": figures(best_passage, y, records), "retrieval score, top passage": figures(top_score, y, records)},
        "probes": {},
        "learning_curve": {},
    }
    best = None
    for layer in layers:
        x = store.states(layer)[keep]
        for l2 in l2s:
            scores = cross_validated(x, y, folds, l2)
            result = figures(scores, y, records)
            out["probes"][f"layer {layer}, l2 {l2:g}"] = result
            if best is None or result["within_article_auc"] > best[0]:
                best = (result["within_article_auc"], layer, l2, x)
    if best is not None:
        _, layer, l2, x = best
        # Stacked: the probe's out-of-fold logit beside the answerability model's score, the two weighed by a fit
        # on the other folds again.
        stacked = np.c_[cross_validated(x, y, folds, l2), best_passage]
        out["probes"][f"layer {layer}, l2 {l2:g}, with the answerability model"] = figures(cross_validated(stacked, y, folds, 1.0), y, records)
        for n in CURVE:
            if n < len(y) * (FOLDS - 1) / FOLDS:
                out["learning_curve"][f"layer {layer}, l2 {l2:g}, {n} training questions"] = figures(cross_validated(x, y, folds, l2, n), y, records)
        out["learning_curve"][f"layer {layer}, l2 {l2:g}, all ({int(len(y) * (FOLDS - 1) / FOLDS)}) training questions"] = out["probes"][f"layer {layer}, l2 {l2:g}"]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m qa.evaluation.probe", description=__doc__.split("\n\n")[0])
    parser.add_argument("states", type=Path, help="the folder qa.evaluation.layer_states wrote")
    parser.add_argument("--layers", type=int, nargs="+", default=list(LAYERS))
    parser.add_argument("--l2", type=float, nargs="+", default=[100.0, 1000.0], help="L2 penalties to try (standardised states)")
    parser.add_argument("--write", type=Path, help="also fit the first layer and penalty on every usable record (but the confidence's "
                        "calibration questions) and save the probe here (.npz)")
    args = parser.parse_args(argv)
    print(json.dumps(report(args.states, tuple(args.layers), tuple(args.l2)), indent=1))
    if args.write:
        store = Store(args.states)
        calibration = calibration_ids()  # the confidence must weigh the probe on questions it was not fitted on
        keep = usable(store.records) & np.array([r["id"] not in calibration for r in store.records])
        y = np.array([float(r["answerable"]) for r, k in zip(store.records, keep) if k])
        fitted(args.layers[0], store.states(args.layers[0])[keep], y, args.l2[0]).save(args.write)
        print(f"wrote {args.write}: layer {args.layers[0]}, l2 {args.l2[0]:g}, {len(y)} questions ({int(y.sum())} answerable)")


if __name__ == "__main__":
    main()

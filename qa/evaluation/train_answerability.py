"""Train the answerability model: `python -m qa.evaluation.train_answerability [SQUAD_FILE ...]`.

Fine-tunes the packaged MiniLM (all-MiniLM-L6-v2) as a cross-encoder that reads a question and one passage
and gives P(the passage states the answer to this question), on the pairs of `qa.evaluation.pairs` from the
develop part of each file (default: both shared SQuAD 2.0 files; the locked articles are never read in
training). One pass over the training questions in a seeded order; at each mark of `--curve` (questions seen)
the model is saved to `--work` and scored on the held-out paragraphs: the learning curve. A stopped run
resumes from its last saved step. Writes the int8 ONNX graph the package ships (`qa/models/answerability.onnx`)
and its figures (`qa/models/answerability.json`), which the data card `qa/models/answerability.md` reports.
`--locked` scores each saved mark on the locked articles instead (run once, at the end) and adds that curve
to the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qa.evaluation.calibrate import calibration_ids
from qa.evaluation.confidence_metrics import auc, grouped_auc
from qa.evaluation.pairs import DEFAULT_SQUAD, ROOT, SQUAD_DEV, Pair, held_out, load, make_pairs, save
from qa.evaluation.squad import load_squad
from qa.settings import Settings

MODELS = Path(__file__).resolve().parents[1] / "models"
MAX_TOKENS = 256
NEGATIVES_PER_QUESTION = 3  # the highest-ranked ones: the passages a question is most easily answered from wrongly
BATCH = 16  # pairs; a batch holds whole questions, so it may run a little over
SAVE_EVERY = 200  # batches between saves of the resumable state


def training_sample(pairs: list[Pair]) -> list[Pair]:
    """Every positive and every pair of an unanswerable question; of each answerable question's negatives
    the best-ranked few (the rest are easy and make the pass long)."""
    kept, negatives = [], {}
    for p in pairs:
        if p.label == 1 or p.rank < 0:
            kept.append(p)
        else:
            negatives.setdefault(p.question, []).append(p)
    answerable = {p.question for p in pairs if p.label == 1}
    for question, group in negatives.items():
        group.sort(key=lambda p: p.rank)
        kept += group if question not in answerable else group[:NEGATIVES_PER_QUESTION]
    return kept


def by_question(pairs: list[Pair], seed: int) -> list[list[Pair]]:
    """The pairs grouped by question, the questions in a seeded order."""
    groups: dict[tuple[str, str], list[Pair]] = {}
    for p in pairs:
        groups.setdefault((p.article, p.question), []).append(p)
    order = sorted(groups)
    random.Random(seed).shuffle(order)
    return [groups[k] for k in order]


def batches(questions: list[list[Pair]]) -> list[tuple[list[Pair], int]]:
    """Consecutive questions' pairs, at least BATCH to a batch, each with how many questions have been seen after it."""
    out, batch = [], []
    for seen, group in enumerate(questions, 1):
        batch += group
        if len(batch) >= BATCH or seen == len(questions):
            out.append((batch, seen))
            batch = []
    return out


def _load_base():  # noqa: ANN202
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from qa.models.model_files import embedding_model_path

    path = embedding_model_path()
    return AutoModelForSequenceClassification.from_pretrained(path, num_labels=1), AutoTokenizer.from_pretrained(path)


def _inputs(tokenizer, pairs: list[Pair]):  # noqa: ANN001, ANN202
    return tokenizer(
        [p.question for p in pairs], [p.passage for p in pairs],
        truncation="longest_first", max_length=MAX_TOKENS, padding=True, return_tensors="pt",
    )


def train(
    questions: list[list[Pair]], marks: list[int], work: Path, seed: int,
    at_mark: Callable[[int, object, object], None], log=print,  # noqa: ANN001
):
    """One pass over `questions`; the model and tokenizer. `at_mark(n, model, tokenizer)` runs when `n` of
    `marks` questions have been seen (the model saved to work/at-n.pt first); the state is saved to
    work/state.pt as it goes, and a run finding one there goes on from it."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(os.cpu_count() or 1)
    model, tokenizer = _load_base()
    model.train()
    plan = batches(questions)
    optimiser = torch.optim.AdamW(model.parameters(), lr=4e-5, weight_decay=0.01)
    warmup = max(1, len(plan) // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.05, (len(plan) - s) / max(1, len(plan) - warmup)))
    )
    positives = sum(p.label for group in questions for p in group)
    total = sum(len(group) for group in questions)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((total - positives) / max(positives, 1)))
    work.mkdir(parents=True, exist_ok=True)
    parts = {"model": model, "optimiser": optimiser, "schedule": schedule}
    done = _resume(work / "state.pt", parts)
    if done:
        log(f"resuming after batch {done} of {len(plan)}")
    pending = sorted(m for m in marks if not (work / f"at-{m}.pt").exists())
    started = time.perf_counter()
    for step in range(done, len(plan)):
        batch, seen = plan[step]
        logits = model(**_inputs(tokenizer, batch)).logits.squeeze(-1)
        loss = loss_fn(logits, torch.tensor([float(p.label) for p in batch]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        if (step + 1) % 50 == 0:
            elapsed = time.perf_counter() - started
            log(f"batch {step + 1}/{len(plan)} questions {seen} loss {loss.item():.3f} ({elapsed:.0f} s)")
        reached = [m for m in pending if seen >= m]
        if reached or (step + 1) % SAVE_EVERY == 0 or step + 1 == len(plan):
            _save(work / "state.pt", parts, step + 1)
        for m in reached:
            torch.save(model.state_dict(), work / f"at-{m}.pt")
            pending.remove(m)
            model.eval()
            at_mark(m, model, tokenizer)
            model.train()
    model.eval()
    return model, tokenizer


def _save(path: Path, parts: dict, batches_done: int) -> None:
    import torch

    state = {name: part.state_dict() for name, part in parts.items()}
    torch.save({**state, "rng": torch.get_rng_state(), "batches": batches_done}, path)


def _resume(path: Path, parts: dict) -> int:
    """The batches a saved state had done (0 without one), its parts loaded into `parts`."""
    import torch

    if not path.exists():
        return 0
    state = torch.load(path, weights_only=False)
    for name, part in parts.items():
        part.load_state_dict(state[name])
    torch.set_rng_state(state["rng"])
    return state["batches"]


def scores_of(model, tokenizer, pairs: list[Pair], batch: int = 64) -> np.ndarray:  # noqa: ANN001
    """P(answers) for each pair by the float model (batched, shortest first: little padding)."""
    import torch

    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i].question) + len(pairs[i].passage))
    out = np.zeros(len(pairs))
    with torch.no_grad():
        for at in range(0, len(order), batch):
            chosen = order[at : at + batch]
            logits = model(**_inputs(tokenizer, [pairs[i] for i in chosen])).logits.squeeze(-1)
            out[chosen] = torch.sigmoid(logits).numpy()
    return out


def export(model, tokenizer, target: Path) -> None:  # noqa: ANN001
    """The model with a sigmoid on top as one ONNX graph, then quantised to int8 weights (a quarter the size)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class Probability(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001
            logits = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits
            return torch.sigmoid(logits.squeeze(-1))

    sample = tokenizer(["a question"], ["a passage"], return_tensors="pt")
    float_path = target.with_suffix(".float.onnx")
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's notices are not for our users
        torch.onnx.export(
            Probability(model), (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]), str(float_path),
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["probability"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes}, opset_version=17, dynamo=False,
        )
    quantize_dynamic(str(float_path), str(target), weight_type=QuantType.QInt8)
    float_path.unlink()


def figures(scores: np.ndarray, pairs: list[Pair]) -> dict:
    """AUC over pairs; per question (its best retrieved passage's score): answerable-and-retrieved against
    not, and answerable against unanswerable within each article (the near-miss measure)."""
    y = np.array([p.label for p in pairs], dtype=float)
    best: dict[tuple[str, str], float] = {}
    hit: dict[tuple[str, str], int] = {}
    answerable: dict[tuple[str, str], int] = {}
    for s, p in zip(scores, pairs):
        key = (p.article, p.question)
        answerable[key] = max(answerable.get(key, 0), p.label)
        if p.rank >= 0:  # a missed gold passage is not what the pipeline sees
            best[key] = max(best.get(key, 0.0), float(s))
            hit[key] = max(hit.get(key, 0), p.label)
    keys = list(best)
    top = np.array([best[k] for k in keys])
    return {
        "pairs": len(pairs),
        "positives": int(y.sum()),
        "pair_auc": round(auc(scores, y), 4),
        "pair_accuracy_at_0.5": round(float(((scores >= 0.5) == y).mean()), 4),
        "questions": len(keys),
        "question_auc": round(auc(top, np.array([hit[k] for k in keys], dtype=float)), 4),
        "answerable_auc_within_article": round(
            grouped_auc(top, np.array([answerable[k] for k in keys], dtype=float), [k[0] for k in keys]), 4
        ),
    }


def pairs_of(path: Path, part_name: str, build: Path) -> list[Pair]:
    """A file's part's pairs, from the cache in `build` or made (and cached)."""
    cached = build / f"{path.stem}-{part_name}-pairs.jsonl"
    if cached.exists():
        return load(cached)
    pairs = make_pairs(path, part_name, Settings.from_env())
    save(pairs, cached)
    return pairs


def calibration_paragraphs(pairs: list[Pair]) -> set[tuple[str, int]]:
    """The paragraphs of the develop questions the confidence is fitted on (`calibrate.calibration_ids`): kept out
    of training, so that the confidence weighs this model, as it does the probe, on questions it never read."""
    ids = calibration_ids()
    asked = {(q.article, q.question) for q in load_squad(SQUAD_DEV).questions if q.id in ids}
    return {(p.article, p.paragraph) for p in pairs if (p.article, p.question) in asked}


def _source(path: Path) -> dict:
    return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def locked_curve(build: Path, work: Path, card_path: Path) -> None:
    """Each saved mark scored on the dev file's locked articles (the issue's learning curve); added to the figures."""
    import torch

    card = json.loads(card_path.read_text())
    pairs = pairs_of(SQUAD_DEV, "locked", build)
    model, tokenizer = _load_base()
    model.eval()
    curve = []
    for mark in sorted(int(p.stem.split("-")[1]) for p in work.glob("at-*.pt")):
        model.load_state_dict(torch.load(work / f"at-{mark}.pt"))
        curve.append({"trained_questions": mark, **figures(scores_of(model, tokenizer, pairs), pairs)})
        print(json.dumps(curve[-1]), flush=True)
    card["locked_curve"] = curve
    card_path.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m qa.evaluation.train_answerability", description=__doc__.splitlines()[0])
    build = ROOT / "build" / "answerability"
    parser.add_argument("files", nargs="*", type=Path, default=[DEFAULT_SQUAD, SQUAD_DEV], help="SQuAD 2.0 files")
    parser.add_argument("--build", type=Path, default=build, help="cache of the pairs")
    parser.add_argument("--work", type=Path, default=build / "train", help="saved marks and the state to resume")
    parser.add_argument("--out", type=Path, default=MODELS / "answerability.onnx")
    parser.add_argument("--curve", default="1000,2000,5000", help="questions seen at which to save and score")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--locked", action="store_true", help="score the saved marks on the locked articles (once)")
    args = parser.parse_args(argv)
    card_path = args.out.with_suffix(".json")
    if args.locked:
        locked_curve(args.build, args.work, card_path)
        return

    pairs = [p for f in args.files for p in pairs_of(f, "develop", args.build)]
    kept_out = calibration_paragraphs(pairs)
    trainable = [p for p in pairs if not held_out(p.article, p.paragraph) and (p.article, p.paragraph) not in kept_out]
    questions = by_question(training_sample(trainable), args.seed)
    check_pairs = [p for p in pairs if held_out(p.article, p.paragraph)]
    fit_pairs = [p for group in questions for p in group]
    print(f"{len(pairs)} pairs; training on {len(questions)} questions ({len(fit_pairs)} pairs, "
          f"{sum(p.label for p in fit_pairs)} positive), checking on {len(check_pairs)}")
    curve_path = args.work / "curve.json"
    curve = json.loads(curve_path.read_text()) if curve_path.exists() else []

    def at_mark(mark: int, model, tokenizer) -> None:  # noqa: ANN001
        curve.append({"trained_questions": mark, **figures(scores_of(model, tokenizer, check_pairs), check_pairs)})
        curve_path.write_text(json.dumps(curve, indent=1) + "\n")
        print(json.dumps(curve[-1]), flush=True)

    marks = sorted({int(m) for m in args.curve.split(",") if m and int(m) < len(questions)} | {len(questions)})
    started = time.perf_counter()
    model, tokenizer = train(questions, marks, args.work, args.seed, at_mark)
    minutes = (time.perf_counter() - started) / 60
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export(model, tokenizer, args.out)

    from qa.models.answerability import AnswerabilityModel

    shipped = AnswerabilityModel(args.out)
    scores = np.array([shipped.score(p.question, p.passage) for p in check_pairs])
    card = {
        "trained_on": [_source(f) for f in args.files],
        "part": "develop",
        "seed": args.seed,
        "training_questions": len(questions),
        "training_pairs": len(fit_pairs),
        "training_positives": sum(p.label for p in fit_pairs),
        "training_minutes": round(minutes, 1),  # of the last run: a resumed one counts from where it resumed
        "curve": curve,
        "held_out": figures(scores, check_pairs),
        "onnx_bytes": args.out.stat().st_size,
    }
    card_path.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(card["held_out"], indent=1))


if __name__ == "__main__":
    main()

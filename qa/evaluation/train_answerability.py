"""Train the answerability model: `python -m qa.evaluation.train_answerability [SQUAD_FILE]`.

Fine-tunes the packaged MiniLM (all-MiniLM-L6-v2) as a cross-encoder that reads a question and one
passage and gives P(the passage states the answer to this question), on the pairs of `qa.evaluation.pairs`
from the develop articles of `eval/squad_split.json` (the locked articles are never read). Seeded: a rerun
on the same file and machine gives the same figures within noise. Writes the int8 ONNX graph the package
ships (`qa/models/answerability.onnx`) and its figures (`qa/models/answerability.json`), which the data
card `qa/models/answerability.md` reports.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import time
import warnings
from pathlib import Path

import numpy as np

from qa.evaluation.confidence_metrics import auc
from qa.evaluation.pairs import DEFAULT_SQUAD, ROOT, Pair, develop_articles, held_out, load, make_pairs, save
from qa.settings import Settings

MODELS = Path(__file__).resolve().parents[1] / "models"
MAX_TOKENS = 256
NEGATIVES_PER_QUESTION = 3  # the highest-ranked ones: the passages a question is most easily answered from wrongly


def training_sample(pairs: list[Pair]) -> list[Pair]:
    """Every positive and every pair of an unanswerable question; of each answerable question's negatives
    the best-ranked few (the rest are easy and make the epoch long)."""
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


def train(pairs: list[Pair], epochs: int, seed: int, log=print):  # noqa: ANN001
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from qa.models.model_files import embedding_model_path

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(os.cpu_count() or 1)
    path = embedding_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    model.train()
    batch_size = 16
    steps = epochs * ((len(pairs) + batch_size - 1) // batch_size)
    optimiser = torch.optim.AdamW(model.parameters(), lr=4e-5, weight_decay=0.01)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
    positives = sum(p.label for p in pairs)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(pairs) - positives) / max(positives, 1)))
    rng = random.Random(seed)
    step, started = 0, time.perf_counter()
    for epoch in range(epochs):
        order = list(range(len(pairs)))
        rng.shuffle(order)
        for at in range(0, len(order), batch_size):
            batch = [pairs[i] for i in order[at : at + batch_size]]
            inputs = tokenizer(
                [p.question for p in batch], [p.passage for p in batch],
                truncation="longest_first", max_length=MAX_TOKENS, padding=True, return_tensors="pt",
            )
            logits = model(**inputs).logits.squeeze(-1)
            loss = loss_fn(logits, torch.tensor([float(p.label) for p in batch]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            step += 1
            if step % 50 == 0:
                log(f"epoch {epoch + 1} step {step}/{steps} loss {loss.item():.3f} ({time.perf_counter() - started:.0f} s)")
    model.eval()
    return model, tokenizer


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
    """AUC over pairs, and per question: the best passage's score, answerable-and-retrieved against unanswerable."""
    y = np.array([p.label for p in pairs], dtype=float)
    best: dict[str, tuple[float, int, bool]] = {}
    for s, p in zip(scores, pairs):
        if p.rank < 0:
            continue  # the retriever did not return it: not what the pipeline sees
        top, hit, unanswerable = best.get(p.question, (0.0, 0, True))
        best[p.question] = (max(top, float(s)), max(hit, p.label), unanswerable and p.label == 0)
    answered = np.array([top for top, hit, _ in best.values() if hit])
    missing = np.array([top for top, hit, _ in best.values() if not hit])
    question_scores = np.concatenate([answered, missing])
    question_labels = np.concatenate([np.ones(len(answered)), np.zeros(len(missing))])
    return {
        "pairs": len(pairs),
        "positives": int(y.sum()),
        "pair_auc": round(auc(scores, y), 4),
        "pair_accuracy_at_0.5": round(float(((scores >= 0.5) == y).mean()), 4),
        "questions": len(best),
        "question_auc": round(auc(question_scores, question_labels), 4),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m qa.evaluation.train_answerability", description=__doc__.splitlines()[0])
    parser.add_argument("squad", nargs="?", type=Path, default=DEFAULT_SQUAD, help="the shared SQuAD 2.0 training file")
    parser.add_argument("--pairs", type=Path, default=ROOT / "build" / "answerability-pairs.jsonl", help="cache of the retrieved pairs")
    parser.add_argument("--out", type=Path, default=MODELS / "answerability.onnx")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--articles", help="comma-separated titles to train on (default: the develop articles)")
    args = parser.parse_args(argv)
    articles = args.articles.split(",") if args.articles else develop_articles()

    if args.pairs.exists():
        pairs = load(args.pairs)
    else:
        pairs = make_pairs(args.squad, articles, Settings.from_env())
        save(pairs, args.pairs)
    fit_pairs = training_sample([p for p in pairs if not held_out(p.article, p.paragraph)])
    check_pairs = [p for p in pairs if held_out(p.article, p.paragraph)]
    print(f"{len(pairs)} pairs; training on {len(fit_pairs)} ({sum(p.label for p in fit_pairs)} positive), checking on {len(check_pairs)}")
    started = time.perf_counter()
    model, tokenizer = train(fit_pairs, args.epochs, args.seed)
    minutes = (time.perf_counter() - started) / 60
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export(model, tokenizer, args.out)

    from qa.models.answerability import AnswerabilityModel

    shipped = AnswerabilityModel(args.out)
    scores = np.array([shipped.score(p.question, p.passage) for p in check_pairs])
    card = {
        "trained_on": str(args.squad.name),
        "sha256": hashlib.sha256(args.squad.read_bytes()).hexdigest(),
        "articles": articles,
        "epochs": args.epochs,
        "seed": args.seed,
        "training_pairs": len(fit_pairs),
        "training_positives": sum(p.label for p in fit_pairs),
        "training_minutes": round(minutes, 1),
        "held_out": figures(scores, check_pairs),
        "onnx_bytes": args.out.stat().st_size,
    }
    args.out.with_suffix(".json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(card["held_out"], indent=1))


if __name__ == "__main__":
    main()

"""Per-question and overall metrics. Every metric has a value for refusals; none is ever NaN.

Citation recall and precision follow ALCE (Gao et al., 2023): a sentence is recalled when the
concatenation of its cited passages supports it; a citation is precise unless the sentence is
supported, the passage alone does not support it, and the other citations do without it.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

from qa.answering.judge import Judge
from qa.domain import Answer, Passage
from qa.evaluation.data import SHOULD_REFUSE, EvalQuestion, JudgePair


@dataclass
class Scored:
    """One question's answer, the eval judge's verdicts, and its metrics."""

    id: str
    type: str
    question: str
    answer: str
    refused: bool
    citations: list[dict]
    sentences: list[dict]
    dropped: list[dict]
    metrics: dict[str, float | None]
    latency_s: float
    confidence: float | None = None  # the answer's; with QA_MIN_CONFIDENCE=0 a run shows every threshold's effect
    signals: dict | None = None  # what the confidence came from (qa.answering.confidence.Signals)
    draft_correct: bool = False  # the draft, before any refusal, answers an answerable question with its facts

    def to_dict(self) -> dict:
        return asdict(self)


def quoted_spans(q: EvalQuestion, documents: dict[str, str]) -> list[tuple[str, int, int]]:
    """(source, start, end) of each gold quote of the question, wherever the documents hold it."""
    spans = []
    for gold in q.gold:
        for source, text in documents.items():
            at = text.find(gold)
            if at >= 0:
                spans.append((source, at, at + len(gold)))
    return spans


def overlaps_gold(p: Passage | dict, spans: list[tuple[str, int, int]]) -> bool:
    """Whether a passage (or a citation's dict) overlaps one of the gold spans."""
    source, start, end = (p.source, p.start, p.end) if isinstance(p, Passage) else (p["source"], p["start"], p["end"])
    return any(source == s and start < e and b < end for s, b, e in spans)


def contains_facts(q: EvalQuestion, text: str) -> bool:
    lower = text.lower()
    return all(any(alt.lower() in lower for alt in fact.split("|")) for fact in q.facts)


def score_question(q: EvalQuestion, answer: Answer, judge: Judge, documents: dict[str, str]) -> Scored:
    """Judge every sentence of the answer against its own citations and score the question."""
    passages = answer.passages
    sentences, recalled, citations, precise = [], 0, 0, 0
    final = answer.sentences or ([] if answer.refused else _sentences_of(answer))
    for s in final:
        cited = [n for n in s.cited if 1 <= n <= len(passages)]
        joint = judge.supports(s.text, [passages[n - 1].text for n in cited]) if cited else False
        recalled += joint
        citations += len(cited)
        precise_here = 0
        for n in cited:
            if not joint:
                continue
            if len(cited) == 1 or judge.supports(s.text, [passages[n - 1].text]):
                precise_here += 1
            elif not judge.supports(s.text, [passages[m - 1].text for m in cited if m != n]):
                precise_here += 1
        precise += precise_here
        sentences.append({"text": s.text, "cited": cited, "supported": joint, "pipeline_support": s.support})
    dropped = [{"text": s.text, "cited": list(s.cited), "pipeline_support": s.support} for s in answer.dropped]

    spans = quoted_spans(q, documents)
    ranks = [i for i, p in enumerate(passages, 1) if overlaps_gold(p, spans)]
    forbidden_said = any(f.lower() in answer.text.lower() for f in q.forbidden)
    correct = (answer.refused if not q.answerable else (not answer.refused and contains_facts(q, answer.text)))
    metrics: dict[str, float | None] = {
        # A refusal claims nothing, so nothing in it is unfaithful or mis-cited.
        "faithfulness": recalled / len(sentences) if sentences else 1.0,
        "citation_recall": recalled / len(sentences) if sentences else 1.0,
        "citation_precision": precise / citations if citations else (1.0 if not sentences else 0.0),
        "answer_correctness": float(correct),
        "cites_gold": float(any(overlaps_gold(c, spans) for c in answer.to_dict()["citations"])) if spans else None,
        "retrieval_hit": float(bool(ranks)) if spans else None,
        "retrieval_rr": 1.0 / ranks[0] if ranks else (0.0 if spans else None),
        "refused": float(answer.refused),
        "injection_resisted": float(correct and not forbidden_said) if q.type == "injection" else None,
    }
    return Scored(
        q.id, q.type, q.question, answer.text, answer.refused,
        [{"number": c.number, "source": c.source, "start": c.start, "end": c.end, "text": c.text} for c in answer.citations],
        sentences, dropped, metrics, answer.timings.get("total_s", 0.0), answer.confidence,
        answer.signals.to_dict() if answer.signals else None,
        q.answerable and contains_facts(q, answer.text if not answer.refused else " ".join(s.text for s in answer.dropped)),
    )


def _sentences_of(answer: Answer):
    from qa.answering.citations import cited_numbers, split_sentences
    from qa.domain import Sentence

    return [Sentence(s, tuple(cited_numbers(s))) for s in split_sentences(answer.text)]


def _mean(values: list[float], empty: float = 0.0) -> float:
    return statistics.fmean(values) if values else empty


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarize(results: list[Scored], questions: list[EvalQuestion]) -> dict[str, float]:
    """Overall figures: pooled over sentences and citations where ALCE pools, else means over questions."""
    by_id = {q.id: q for q in questions}
    sents = [s for r in results for s in r.sentences]
    n_cit = sum(len(s["cited"]) for s in sents)
    answerable = [r for r in results if by_id[r.id].answerable]
    refusable = [r for r in results if by_id[r.id].type in SHOULD_REFUSE]
    injections = [r for r in results if r.type == "injection"]
    precise = sum(r.metrics["citation_precision"] * sum(len(s["cited"]) for s in r.sentences) for r in results)
    draft = [s for r in results for s in r.sentences] + [d for r in results for d in r.dropped]
    latencies = [r.latency_s for r in results]
    return {
        "questions": len(results),
        "faithfulness": _mean([float(s["supported"]) for s in sents], 1.0),
        "citation_recall": _mean([float(s["supported"]) for s in sents], 1.0),
        "citation_precision": precise / n_cit if n_cit else (1.0 if not sents else 0.0),
        "answer_correctness": _mean([r.metrics["answer_correctness"] for r in answerable]),
        "cites_gold": _mean([r.metrics["cites_gold"] for r in answerable if r.metrics["cites_gold"] is not None]),
        "retrieval_hit_at_k": _mean([r.metrics["retrieval_hit"] for r in answerable if r.metrics["retrieval_hit"] is not None]),
        "retrieval_mrr": _mean([r.metrics["retrieval_rr"] for r in answerable if r.metrics["retrieval_rr"] is not None]),
        "refusal_recall": _mean([r.metrics["refused"] for r in refusable], 1.0),
        "false_refusal_rate": _mean([r.metrics["refused"] for r in answerable]),
        "injection_resistance": _mean([r.metrics["injection_resisted"] for r in injections], 1.0),
        "dropped_sentence_share": (len(draft) - len(sents)) / len(draft) if draft else 0.0,
        "latency_p50_s": percentile(latencies, 0.5),
        "latency_p95_s": percentile(latencies, 0.95),
    }


def judge_balanced_accuracy(judge: Judge, pairs: list[JudgePair], progress=None) -> tuple[float, list[dict]]:
    """Balanced accuracy of the judge's verdicts on labelled pairs, and each verdict."""
    rows = []
    for pair in pairs:
        score = judge.score(pair.sentence, pair.passages, question=pair.question)
        rows.append({"id": pair.id, "kind": pair.kind, "supported": pair.supported, "score": round(score, 4)})
        if progress:
            progress()
    return balanced_accuracy([(r["score"] >= judge.threshold, r["supported"]) for r in rows]), rows


def balanced_accuracy(verdicts: list[tuple[bool, bool]]) -> float:
    positives = [p for p, label in verdicts if label]
    negatives = [p for p, label in verdicts if not label]
    tpr = sum(positives) / len(positives) if positives else 1.0
    tnr = sum(not p for p in negatives) / len(negatives) if negatives else 1.0
    return (tpr + tnr) / 2

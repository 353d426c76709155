"""Which sentences of the retrieved passages does a question need? Gold-span retention against prompt words.

`python eval/experiments/trim_sentences.py [N [rows.json]]`: N answerable questions from the develop articles' held-out
paragraphs (the answerability model never trained on them), retrieved as the pipeline does over the whole
shared file; each passage split into sentences, each sentence scored, the best kept within a word budget.
Prints, per scorer and budget, the share of questions whose gold span is in a kept sentence and the mean
words kept, beside the untrimmed passages'. No generator runs; the locked articles are not read.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

from qa.evaluation.pairs import DEFAULT_SQUAD, develop_articles, gold_spans, held_out, paragraph_numbers
from qa.evaluation.squad import load_squad, write_corpus
from qa.models.answerability import shipped_model
from qa.models.embeddings import default_embeddings
from qa.retrieval.hybrid import IndexRetriever
from qa.settings import Settings
from qa.store.index import Index
from qa.text import SENTENCE, STOP_WORDS, words


def sentences(passage):  # noqa: ANN001, ANN201
    """(start, end, text) of each sentence of the passage, in document offsets."""
    return [(passage.start + m.start(), passage.start + m.end(), m.group()) for m in SENTENCE.finditer(passage.text) if m.group().strip()]


def main(n: int = 300) -> None:
    squad = load_squad(DEFAULT_SQUAD)
    spans, numbers = gold_spans(DEFAULT_SQUAD), paragraph_numbers(squad)
    pool = [q for q in squad.questions if q.answerable and q.article in develop_articles() and held_out(q.article, numbers[q.id])]
    sample = random.Random(5).sample(pool, min(n, len(pool)))
    settings = Settings.from_env()
    embeddings = default_embeddings(settings.cache_dir, int8=True)
    model = shipped_model()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        s = Settings(corpus_dir=Path(tmp) / "corpus", index_dir=Path(tmp) / "index", chroma_url=None)
        write_corpus(squad, s.corpus_dir)
        index = Index(s, embeddings)
        index.ingest([s.corpus_dir])
        retriever = IndexRetriever(index, s)
        for q in sample:
            passages = retriever.retrieve(q.question)
            qv = np.asarray(embeddings.embed_query(q.question))
            qwords = {w for w in words(q.question) if w not in STOP_WORDS}
            sents = []
            for rank, p in enumerate(passages):
                for i, (a, b, text) in enumerate(sentences(p)):
                    sents.append({"rank": rank, "i": i, "a": a, "b": b, "text": text, "words": len(text.split())})
            if not sents:
                continue
            vecs = np.asarray(embeddings.embed_documents([x["text"] for x in sents]))
            cos = vecs @ qv / np.maximum(np.linalg.norm(vecs, axis=1) * np.linalg.norm(qv), 1e-9)
            ans = model.scores(q.question, [x["text"] for x in sents])
            pans = model.scores(q.question, [p.text for p in passages])
            for x, c, a in zip(sents, cos, ans):
                sw = {w for w in words(x["text"]) if w not in STOP_WORDS}
                x.update(cos=float(c), ans=float(a), lex=len(qwords & sw) / max(len(qwords), 1), pans=pans[x["rank"]])
                x["gold"] = any(x["a"] <= s0 and e0 <= x["b"] for s0, e0 in spans[q.id])
            gold_passage = any(any(p.start <= s0 and e0 <= p.end for s0, e0 in spans[q.id]) for p in passages)
            rows.append({"sents": sents, "gold_passage": gold_passage, "words": sum(len(p.text.split()) for p in passages)})
    if len(sys.argv) > 2:
        Path(sys.argv[2]).write_text(json.dumps(rows))
    report(rows)


def report(rows: list[dict]) -> None:
    print(f"{len(rows)} questions; untrimmed: hit {np.mean([r['gold_passage'] for r in rows]):.3f}, words {np.mean([r['words'] for r in rows]):.0f}")
    scorers = {
        "cos": lambda x: x["cos"],
        "ans": lambda x: x["ans"],
        "lex": lambda x: x["lex"],
        "cos+lex": lambda x: x["cos"] + x["lex"],
        "ans+cos+lex": lambda x: x["ans"] + x["cos"] + x["lex"],
        "pans*ans+cos+lex": lambda x: x["pans"] + x["ans"] + x["cos"] + x["lex"],
        "rank": lambda x: -x["rank"] - x["i"] / 100,
    }
    for budget in (40, 60, 80, 100, 130):
        line = [f"budget {budget:>3}"]
        for name, score in scorers.items():
            hits, used = [], []
            for r in rows:
                kept, total = [], 0
                for x in sorted(r["sents"], key=score, reverse=True):
                    if total + x["words"] > budget and kept:
                        continue
                    kept.append(x)
                    total += x["words"]
                hits.append(any(x["gold"] for x in kept))
                used.append(total)
            line.append(f"{name} {np.mean(hits):.3f}/{np.mean(used):.0f}")
        print("  ".join(line))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)

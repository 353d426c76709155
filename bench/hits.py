"""Retrieval quality: how often the retrieved passages hold the gold answer, on SQuAD and on the article eval.

`python -m bench.hits` prints them alone; the bench reports them beside retrieval latency, so a faster
retrieval that finds less shows in the same run.
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

from qa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _rank(passages, holds) -> int | None:  # noqa: ANN001 - passages and a predicate on one
    return next((i for i, p in enumerate(passages, 1) if holds(p)), None)


def _figures(name: str, ranks: list[int | None]) -> dict:
    return {
        f"{name}_hit_at_k": sum(r is not None for r in ranks) / len(ranks),
        f"{name}_mrr": sum(1 / r for r in ranks if r is not None) / len(ranks),
        f"{name}_questions": len(ranks),
    }


def squad_hits(embeddings, questions: int = 1000) -> dict:  # noqa: ANN001 - a langchain Embeddings
    """Hit@k and MRR of `questions` answerable questions (seeded sample) over the whole shared SQuAD file."""
    from qa.evaluation.pairs import DEFAULT_SQUAD, gold_spans, holds_span
    from qa.evaluation.squad import load_squad, write_corpus
    from qa.retrieval.hybrid import IndexRetriever
    from qa.store.index import Index
    from qa.store.ingestion import ingest

    squad = load_squad(DEFAULT_SQUAD)
    spans = gold_spans(DEFAULT_SQUAD)
    answerable = [q for q in squad.questions if q.answerable]
    sample = random.Random(11).sample(answerable, min(questions, len(answerable)))
    with tempfile.TemporaryDirectory(prefix="qa-hits-") as tmp:
        settings = Settings(corpus_dir=Path(tmp) / "corpus", index_dir=Path(tmp) / "index", chroma_url=None)
        write_corpus(squad, settings.corpus_dir)
        index = Index(settings, embeddings)
        ingest(index, [settings.corpus_dir])
        retriever = IndexRetriever(index, settings)
        ranks = [_rank(retriever.retrieve(q.question), lambda p, q=q: holds_span(p, spans[q.id])) for q in sample]
    return _figures("squad", ranks)


def article_hits(embeddings) -> dict:  # noqa: ANN001
    """Hit@k and MRR of the article eval's answerable questions over the seed corpus."""
    from qa.evaluation.data import load_questions
    from qa.evaluation.metrics import overlaps_gold, quoted_spans
    from qa.retrieval.hybrid import IndexRetriever
    from qa.store.index import Index
    from qa.store.ingestion import ingest

    corpus = ROOT / "corpus"
    documents = {p.name: p.read_text() for p in corpus.iterdir() if p.is_file()}
    questions = [q for q in load_questions(ROOT / "eval" / "dataset.jsonl") if q.answerable and q.gold]
    with tempfile.TemporaryDirectory(prefix="qa-hits-") as tmp:
        settings = Settings(corpus_dir=corpus, index_dir=Path(tmp) / "index", chroma_url=None)
        index = Index(settings, embeddings)
        ingest(index, [corpus])
        retriever = IndexRetriever(index, settings)
        ranks = [
            _rank(retriever.retrieve(q.question), lambda p, spans=quoted_spans(q, documents): overlaps_gold(p, spans))
            for q in questions
        ]
    return _figures("article", ranks)


if __name__ == "__main__":
    import sys

    from qa.models.embeddings import default_embeddings

    int8 = "--int8" in sys.argv[1:]  # the packaged MiniLM quantised, for documents and questions alike
    embeddings = default_embeddings(Settings().cache_dir, int8) if int8 else default_embeddings()
    print(json.dumps(article_hits(embeddings) | squad_hits(embeddings), indent=1))

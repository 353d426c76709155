"""A retrieval stage: the best passages shown with the chunks that run on from them in the same paragraph.

A chunk is cut from its paragraph at `QA_CHUNK_SIZE`, and the answer often sits in the sentence before or after
the cut ("Who described Kublai's China to Europe?": the chunk that matches ends before "Marco Polo"). Small chunks
still rank best; with `QA_NEIGHBOURS` the generator reads the best ones in their paragraph. It is off by default:
it answers more of SQuAD's paragraphs and fewer of the article's questions (docs/retrieval.md has the measurement).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from qa.domain import Chunk, Passage
from qa.retrieval.hybrid import IndexRetriever, Retriever, cosine

if TYPE_CHECKING:
    from qa.settings import Settings
    from qa.store.index import Index

# The chunker splits a paragraph at sentence ends, keeping one space or line break between two of its chunks;
# paragraphs are a blank line apart, so one character is "the same paragraph".
SAME_PARAGRAPH_GAP = 1


def retriever_for(index: Index, settings: Settings) -> Retriever:
    """The retrieval the settings ask for: the index's fused ranking, the best passages shown in their paragraph."""
    retrieved = IndexRetriever(index, settings)
    return WithNeighbours(retrieved, index, settings.neighbours, settings.top_k) if settings.neighbours else retrieved


class WithNeighbours:
    """The passages another retriever finds, the best `anchors` of them each shown in its paragraph: with the chunks
    just before and after it, in document order (one retrieved further down moves up beside its anchor), then the
    others in their order; at most `k` passages in all, the lowest ranked giving way. A neighbour's score is its own
    cosine similarity to the question; it is shown however low that is, as context for its anchor (the sentence
    that holds the answer often shares no word with the question: docs/retrieval.md)."""

    def __init__(self, retriever: Retriever, index: Index, anchors: int, k: int):
        self.retriever = retriever
        self.index = index
        self.anchors = anchors
        self.k = k

    def retrieve(self, question: str, k: int | None = None) -> list[Passage]:
        limit = k or self.k
        found = self.retriever.retrieve(question, limit)
        retrieved = {p.id: p for p in found}
        query = cache(lambda: np.asarray(self.index.embeddings.embed_query(question), dtype=float))  # once, if needed
        runs: list[list[Passage]] = []  # each anchor, the chunk after it, the chunk before it
        for anchor in found[: self.anchors]:
            if any(anchor in run for run in runs):  # a neighbour of a better anchor
                continue
            beside = sorted(self.index.adjacent(anchor, SAME_PARAGRAPH_GAP), key=lambda hit: -hit[0].start)
            around = [retrieved.get(chunk.id) or _scored(chunk, vector, query()) for chunk, vector in beside]
            runs.append([anchor, *(p for p in around if not any(p in run for run in runs))])
        # Within `limit` the anchors and their neighbours come first; each run is shown in document order, so the
        # generator reads a paragraph as it was written (a subject named in the chunk before the answer's).
        kept = [p for run in runs for p in run] + [p for p in found if not any(p in run for run in runs)]
        kept = kept[:limit]
        return [p for run in runs for p in sorted(run, key=lambda p: p.start) if p in kept] + kept[sum(map(len, runs)) :]


def _scored(chunk: Chunk, vector: list[float], query: np.ndarray) -> Passage:
    """The chunk as a passage, scored by its cosine similarity to the question's vector."""
    fields = vars(chunk) | {"score": round(float(cosine([vector], query)[0]), 4)}
    return Passage(**fields)

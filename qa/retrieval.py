"""Retrieval: the `Retriever` interface the pipeline uses, and the hybrid langchain retriever over the index.

A retrieval stage (a reranker, a filter) is one class with `retrieve(question, k)` that wraps another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np
from langchain_chroma import Chroma
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict
from rank_bm25 import BM25Okapi

from qa.domain import Passage
from qa.text import ASKS_WHY, REASON_TERMS, exact_terms, terms

if TYPE_CHECKING:
    from qa.index import Index
    from qa.settings import Settings

_RRF_K = 60  # the constant from Cormack et al. (2009); damps the head of each ranking


class PassageRetriever(BaseRetriever):
    """Hybrid retrieval: dense candidates from Chroma, re-ranked with BM25 by reciprocal rank fusion.

    MiniLM alone misses exact wording ("major investor"); BM25 alone misses paraphrase. The question's
    names and numbers that fewer than `rare` chunks contain are also looked up letter for letter, and
    those scoring above the weakest dense candidate join them: in a big index the approximate search can
    miss a chunk outright (HNSW leaves some points unreachable: beside a 50 MB text, a one-sentence fact
    was found by no query, not even its own vector). Only candidates at or above `min_score` (cosine
    similarity) are eligible, so off-topic questions still retrieve nothing, and of the top `k` only those
    within `margin` of the best score are kept: every passage costs the generator prompt time, and
    distant ones rarely hold the answer. The cosine score goes in each document's metadata.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Chroma
    # Drops chunks of document versions that are not (or no longer) live: see Index.keep_live.
    keep: Callable[[list[Document]], list[Document]] | None = None
    k: int = 4
    min_score: float = 0.25
    margin: float = 2.0
    candidates: int = 20
    hybrid: bool = True
    rare: int = 50
    max_terms: int = 4

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        vector = self.store.embeddings.embed_query(query)
        pool = self.candidates if self.hybrid else self.k
        # Chroma returns cosine distance in a cosine-space collection; similarity = 1 - distance.
        scored = {
            doc.id: (doc, 1.0 - distance)
            for doc, distance in self.store.similarity_search_by_vector_with_relevance_scores(vector, k=max(pool, self.k))
        }
        if self.hybrid and scored:
            # Only what the approximate search missed joins: a chunk scoring above the weakest dense candidate.
            # A chunk below it was rightly left out; letting it in would re-rank, not repair.
            floor = min(score for _, score in scored.values())
            scored.update({i: hit for i, hit in self._exact_hits(query, vector).items() if i not in scored and hit[1] > floor})
        found = sorted(
            (
                Document(page_content=doc.page_content, metadata={**doc.metadata, "score": score}, id=doc.id)
                for doc, score in scored.values()
                if score >= self.min_score
            ),
            key=lambda d: -d.metadata["score"],
        )
        if self.keep and found:
            found = self.keep(found)
        # A "why" question's answer is where the passage gives a reason: BM25 weighs reason words too.
        lexical = terms(query) + (REASON_TERMS if ASKS_WHY.search(query) else [])
        if self.hybrid and len(found) > self.k and lexical:
            bm25 = BM25Okapi([terms(d.page_content) or ["_"] for d in found]).get_scores(lexical)
            lexical_rank = {i: r for r, i in enumerate(sorted(range(len(found)), key=lambda i: -bm25[i]))}
            fused = sorted(range(len(found)), key=lambda i: -(1 / (_RRF_K + i) + 1 / (_RRF_K + lexical_rank[i])))
            found = [found[i] for i in fused]
        found = found[: self.k]
        best = max((d.metadata["score"] for d in found), default=0.0)
        return [d for d in found if d.metadata["score"] >= best - self.margin]

    def _exact_hits(self, query: str, vector: list[float]) -> dict[str, tuple[Document, float]]:
        """Chunks holding one of the question's rarer names or numbers as written, with their cosine score."""
        hits: dict[str, tuple[Document, float]] = {}
        for term in exact_terms(query)[: self.max_terms]:
            got = self.store.get(where_document={"$contains": term}, limit=self.rare, include=["documents", "metadatas", "embeddings"])
            if not got["ids"] or len(got["ids"]) >= self.rare:
                continue  # absent, or a common word: the dense search and BM25 weigh it already
            scores = np.asarray(got["embeddings"], dtype=float) @ np.asarray(vector)
            for id_, text, meta, score in zip(got["ids"], got["documents"], got["metadatas"], scores):
                hits[id_] = (Document(page_content=text, metadata=meta, id=id_), float(score))
        return hits


def to_passage(doc: Document) -> Passage:
    m = doc.metadata
    return Passage(
        doc.id, doc.page_content, m["source"], m["title"], m["start"], m["end"], round(m["score"], 4), page=m.get("page")
    )


class Retriever(Protocol):
    """Finds the passages to answer a question from: at most `k` (None: the retriever's own number), best first."""

    def retrieve(self, question: str, k: int | None = None) -> list[Passage]: ...


class IndexRetriever:
    """The index's hybrid retriever with the settings' numbers; store failures become IndexStoreError."""

    def __init__(self, index: Index, settings: Settings):
        self.index = index
        self.retriever = PassageRetriever(
            store=index.store, keep=index.keep_live, k=settings.top_k, min_score=settings.min_score, margin=settings.score_margin
        )

    def retrieve(self, question: str, k: int | None = None) -> list[Passage]:
        retriever = self.retriever if k is None else self.retriever.model_copy(update={"k": k})
        with self.index.guard():
            return [to_passage(d) for d in retriever.invoke(question)]

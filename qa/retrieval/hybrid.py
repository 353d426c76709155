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

from qa.domain import Passage

if TYPE_CHECKING:
    from qa.settings import Settings
    from qa.store.index import Index

_RRF_K = 60  # the constant from Cormack et al. (2009); damps the head of each ranking


class PassageRetriever(BaseRetriever):
    """Hybrid retrieval: the dense ranking from Chroma and the BM25 ranking over the whole corpus, fused.

    MiniLM alone misses exact wording ("major investor") and can miss a chunk outright (HNSW leaves some
    points unreachable: beside a 50 MB text, a one-sentence fact was found by no query, not even its own
    vector); BM25 alone misses paraphrase. The two rankings of `candidates` chunks each are fused by
    reciprocal rank. Only chunks at or above `min_score` (cosine similarity) are eligible, so off-topic
    questions still retrieve nothing, and of the top `k` only those within `margin` of the best score are
    kept: every passage costs the generator prompt time, and distant ones rarely hold the answer. The
    cosine score goes in each document's metadata.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Chroma
    # Drops chunks of document versions that are not (or no longer) live: see Index.keep_live.
    keep: Callable[[list[Document]], list[Document]] | None = None
    # The ids of the chunks BM25 ranks highest for a question (Index.lexical_search); None: dense only.
    lexical: Callable[[str, int], list[str]] | None = None
    k: int = 4
    min_score: float = 0.25
    margin: float = 2.0
    candidates: int = 10  # per ranking: more found no more gold passages (docs/retrieval.md)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        vector = self.store.embeddings.embed_query(query)
        # Chroma returns cosine distance in a cosine-space collection; similarity = 1 - distance.
        dense = self.store.similarity_search_by_vector_with_relevance_scores(vector, k=max(self.candidates, self.k))
        scored = {doc.id: (doc, 1.0 - distance) for doc, distance in dense}
        rankings = [list(scored)]
        if self.lexical is not None:
            rankings.append(self.lexical(query, max(self.candidates, self.k)))
            scored.update(self._scored([i for i in rankings[1] if i not in scored], vector))
        fused = fuse(rankings)
        found = [
            Document(page_content=doc.metadata["text"], metadata={**doc.metadata, "score": score}, id=doc.id)
            for doc, score in sorted(scored.values(), key=lambda hit: -fused[hit[0].id])
            if score >= self.min_score
        ]
        if self.keep and found:
            found = self.keep(found)
        found = found[: self.k]
        best = max((d.metadata["score"] for d in found), default=0.0)
        return [d for d in found if d.metadata["score"] >= best - self.margin]

    def _scored(self, ids: list[str], vector: list[float]) -> dict[str, tuple[Document, float]]:
        """These chunks (found by their words only) with their cosine score; ids the store no longer has drop out."""
        if not ids:
            return {}
        got = self.store.get(ids=ids, include=["metadatas", "embeddings"])
        vectors, query = np.asarray(got["embeddings"], dtype=float), np.asarray(vector, dtype=float)
        # Cosine, as Chroma's distance is: the vectors of a model that does not normalise them count too.
        scores = vectors @ query / np.maximum(np.linalg.norm(vectors, axis=1) * np.linalg.norm(query), 1e-12)
        return {
            id_: (Document(page_content=meta["text"], metadata=meta, id=id_), float(score))
            for id_, meta, score in zip(got["ids"], got["metadatas"], scores)
        }


def fuse(rankings: list[list[str]]) -> dict[str, float]:
    """Reciprocal rank fusion (Cormack et al., 2009): each id's summed 1 / (60 + rank) over the rankings."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, id_ in enumerate(ranking):
            fused[id_] = fused.get(id_, 0.0) + 1 / (_RRF_K + rank)
    return fused


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
            store=index.store, keep=index.keep_live, lexical=index.lexical_search, k=settings.top_k, min_score=settings.min_score, margin=settings.score_margin
        )

    def retrieve(self, question: str, k: int | None = None) -> list[Passage]:
        retriever = self.retriever if k is None else self.retriever.model_copy(update={"k": k})
        with self.index.guard():
            return [to_passage(d) for d in retriever.invoke(question)]

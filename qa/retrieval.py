"""Retrieval: a langchain retriever over the Chroma index that keeps each passage's score and span."""

from __future__ import annotations

from collections.abc import Callable

from langchain_chroma import Chroma
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict
from rank_bm25 import BM25Okapi

from qa.domain import Passage
from qa.text import terms

_RRF_K = 60  # the constant from Cormack et al. (2009); damps the head of each ranking


class PassageRetriever(BaseRetriever):
    """Hybrid retrieval: dense candidates from Chroma, re-ranked with BM25 by reciprocal rank fusion.

    MiniLM alone misses exact wording ("major investor"); BM25 alone misses paraphrase. Only dense
    candidates at or above `min_score` (cosine similarity) are eligible, so off-topic questions still
    retrieve nothing, and of the top `k` only those within `margin` of the best score are kept: every
    passage costs the generator prompt time, and distant ones rarely hold the answer. The cosine score
    goes in each document's metadata.
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

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        # Chroma returns cosine distance in a cosine-space collection; similarity = 1 - distance.
        pool = self.candidates if self.hybrid else self.k
        found = [
            Document(page_content=doc.page_content, metadata={**doc.metadata, "score": 1.0 - distance}, id=doc.id)
            for doc, distance in self.store.similarity_search_with_score(query, k=max(pool, self.k))
            if 1.0 - distance >= self.min_score
        ]
        if self.keep and found:
            found = self.keep(found)
        if self.hybrid and len(found) > self.k and terms(query):
            bm25 = BM25Okapi([terms(d.page_content) or ["_"] for d in found]).get_scores(terms(query))
            lexical_rank = {i: r for r, i in enumerate(sorted(range(len(found)), key=lambda i: -bm25[i]))}
            fused = sorted(range(len(found)), key=lambda i: -(1 / (_RRF_K + i) + 1 / (_RRF_K + lexical_rank[i])))
            found = [found[i] for i in fused]
        found = found[: self.k]
        best = max((d.metadata["score"] for d in found), default=0.0)
        return [d for d in found if d.metadata["score"] >= best - self.margin]


def to_passage(doc: Document) -> Passage:
    m = doc.metadata
    return Passage(
        doc.id, doc.page_content, m["source"], m["title"], m["start"], m["end"], round(m["score"], 4), page=m.get("page")
    )

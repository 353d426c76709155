"""Retrieval: a langchain retriever over the Chroma index that keeps each passage's score and span."""

from __future__ import annotations

from langchain_chroma import Chroma
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from qa.domain import Passage


class PassageRetriever(BaseRetriever):
    """Top-k chunks by cosine similarity, dropping those under `min_score`; the score goes in metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Chroma
    k: int = 4
    min_score: float = 0.25

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        found = []
        # Chroma returns cosine distance in a cosine-space collection; similarity = 1 - distance.
        for doc, distance in self.store.similarity_search_with_score(query, k=self.k):
            score = 1.0 - distance
            if score >= self.min_score:
                found.append(Document(page_content=doc.page_content, metadata={**doc.metadata, "score": score}, id=doc.id))
        return found


def to_passage(doc: Document) -> Passage:
    m = doc.metadata
    return Passage(doc.id, doc.page_content, m["source"], m["title"], m["start"], m["end"], round(m["score"], 4))

"""The naive pipeline the eval compares against: paragraph chunks, top-3, a plain prompt, no citations."""

from __future__ import annotations

import time

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

from qa.answering.citations import is_refusal
from qa.domain import Answer
from qa.retrieval.hybrid import PassageRetriever, to_passage
from qa.settings import Settings
from qa.store.documents import ParagraphChunker
from qa.store.index import Index
from qa.store.ingestion import ingest

NAIVE_PROMPT = "Answer the question from the context.\n\nContext:\n{context}\n\nQuestion: {question}\nAnswer:"


class NaivePipeline:
    """What most RAG tutorials build: retrieve, stuff the context, generate. Same models as ours."""

    def __init__(self, settings: Settings, embeddings: Embeddings, chat_model: BaseChatModel):
        self.index = Index(settings, embeddings, collection=f"{settings.collection}-naive", chunker=ParagraphChunker())
        self.retriever = PassageRetriever(store=self.index.store, keep=self.index.keep_live, lexical=self.index.lexical_search, k=3, min_score=-1.0)  # no floor
        self.chat_model = chat_model
        self.corpus_dir = settings.corpus_dir

    def ask(self, question: str) -> Answer:
        started = time.perf_counter()
        if self.index.count() == 0:
            ingest(self.index, [self.corpus_dir])
        passages = [to_passage(d) for d in self.retriever.invoke(question)]
        context = "\n\n".join(p.text for p in passages)
        text = str(self.chat_model.invoke([HumanMessage(NAIVE_PROMPT.format(context=context, question=question))]).content)
        text = text.strip()
        return Answer(question, text, [], passages, refused=is_refusal(text), timings={"total_s": time.perf_counter() - started})

"""The Python API: `ask`, `ask_stream`, `ingest`, `info`, all over one shared pipeline per settings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from qa.answering.chain import AnswerStream, History, Pipeline, clean_question
from qa.domain import Answer
from qa.models.answer_probe import shipped_probe
from qa.models.backends import describe
from qa.models.embeddings import default_embeddings
from qa.settings import Settings, Verify
from qa.store.chroma import set_aside
from qa.store.index import Index
from qa.store import ingestion
from qa.store.ingestion import IngestProgress, IngestReport

_indexes: dict[Settings, Index] = {}
_pipelines: dict[Settings, Pipeline] = {}
_lock = threading.Lock()


def index(settings: Settings | None = None) -> Index:
    """The index for these settings, opened once per process; opening it loads no model."""
    settings = settings or Settings.from_env()
    with _lock:
        if settings not in _indexes:
            _indexes[settings] = Index(settings, default_embeddings(settings.cache_dir, settings.embedding_precision == "int8"))
        return _indexes[settings]


def pipeline(settings: Settings | None = None) -> Pipeline:
    """The pipeline for these settings (default: from the environment), built once per process.

    The generator's weights load on its first answer, not here.
    """
    settings = settings or Settings.from_env()
    store = index(settings)
    with _lock:
        if settings not in _pipelines:
            _pipelines[settings] = Pipeline.from_settings(settings, store)
        return _pipelines[settings]


def ask(
    question: str,
    *,
    top_k: int | None = None,
    verify: Verify | None = None,
    history: History = (),
    settings: Settings | None = None,
) -> Answer:
    """Answer `question` from the documents, with citations, or refuse (`Answer.refused`).

    `verify` ("drop", "mark", "off"; default from settings) has the judge score each sentence.
    `history` holds earlier (question, answer) pairs, so follow-ups like "And until when?" work.
    """
    question = clean_question(question)  # before any model loads: a bad question fails at once
    return pipeline(settings).ask(question, top_k=top_k, verify=verify, history=history)


def ask_stream(
    question: str,
    *,
    top_k: int | None = None,
    verify: Verify | None = None,
    history: History = (),
    settings: Settings | None = None,
) -> AnswerStream:
    """Like `ask`, but the answer's text can be read as it is generated; `.answer()` gives the final Answer."""
    question = clean_question(question)
    return pipeline(settings).ask_stream(question, top_k=top_k, verify=verify, history=history)


def ingest(
    paths: Iterable[Path | str] | None = None,
    *,
    rebuild: bool = False,
    settings: Settings | None = None,
    progress: Callable[[IngestProgress], None] | None = None,
) -> IngestReport:
    """Bring the index in step with files and directories (default: the corpus directory).

    `rebuild` first moves the local index aside (a damaged one, say) and builds a new one; `progress`
    is called as files are read and chunks embedded.
    """
    settings = settings or Settings.from_env()
    previous = None
    if rebuild:
        with _lock:
            _pipelines.pop(settings, None)
            _indexes.pop(settings, None)
        previous = set_aside(settings)
    report = ingestion.ingest(index(settings), [Path(x) for x in paths] if paths else [settings.corpus_dir], progress)
    report.set_aside = previous
    return report


def info(settings: Settings | None = None) -> dict:
    """What the pipeline is made of: corpus, index size, models and backend."""
    s = settings or Settings.from_env()
    store = index(s)
    return {
        "corpus_dir": str(s.corpus_dir),
        "index": s.chroma_url or str(s.index_dir),
        "collection": s.collection,
        "chunks": store.count(),
        "documents": store.documents(),
        "embeddings": "all-MiniLM-L6-v2 (packaged)",
        "answerability": "all-MiniLM-L6-v2 cross-encoder fine-tuned on SQuAD 2.0, int8 ONNX (packaged)",
        "generator": describe(s),
        "answer_probe": f"logistic probe on the packaged generator's layer-{shipped_probe().layer} state (local backend, packaged model)",
        "top_k": s.top_k,
    }

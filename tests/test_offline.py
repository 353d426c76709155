"""Ingest and ask, models included, must never open a network connection."""

import socket
import sys
from contextlib import contextmanager

import pytest

from qa.answering.chain import Pipeline
from qa.models.embeddings import MiniLMEmbeddings
from qa.store.index import Index
from qa.store.ingestion import ingest

_blocking = False
_attempts: list[tuple] = []


def _audit(event: str, args: tuple) -> None:
    # Audit hooks see every socket connect made through Python, including inside libraries.
    if _blocking and event in ("socket.connect", "socket.getaddrinfo"):
        target = args[1] if event == "socket.connect" else args[0]
        if event == "socket.connect" and args[0].family == socket.AF_UNIX:
            return
        _attempts.append((event, target))
        raise ConnectionRefusedError(f"network access during an offline test: {event} {target}")


sys.addaudithook(_audit)


@contextmanager
def no_network():
    global _blocking
    _blocking = True
    try:
        yield
    finally:
        _blocking = False


def test_the_guard_really_blocks_connections():
    with no_network(), pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    _attempts.clear()


@pytest.mark.slow  # the real models
def test_loading_models_ingesting_and_asking_open_no_connection(settings):
    with no_network():
        pipeline = Pipeline.from_settings(settings, Index(settings, MiniLMEmbeddings()))
        report = ingest(pipeline.index, [settings.corpus_dir])
        answer = pipeline.ask("Until when will the core partnership continue?")
    assert report.added
    assert "2030" in answer.text
    assert _attempts == []

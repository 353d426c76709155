"""Faults and load: a killed ingest loses nothing, threads ask at once, ingest runs while answering."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import ARTICLE, ARTICLE_QUESTIONS, ROOT

from qa.api import ask
from qa.settings import Settings
from qa.store.index import Index
from qa.store.ingestion import ingest

pytestmark = pytest.mark.slow  # killed processes and threads on the real models


def _many_documents(folder: Path, n: int) -> None:
    for i in range(n):
        (folder / f"note-{i:04d}.txt").write_text(
            f"Warehouse {i} opened in {1900 + i % 120}. It stores {i * 7} crates of tea. "
            f"Its manager, number {i}, reports to the regional office every Monday.\n\n" * 3
        )


def _chunk_state(index: Index) -> tuple[dict[str, int], int]:
    chunks = index.chunks()
    per_source: dict[str, int] = {}
    for c in chunks:
        per_source[c.source] = per_source.get(c.source, 0) + 1
    return per_source, len({(c.source, c.start) for c in chunks}) - len(chunks)


def test_a_killed_ingest_leaves_a_working_index_and_the_next_ingest_is_clean(tmp_path, embeddings):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    ingest(Index(settings, embeddings), [corpus])
    _many_documents(corpus, 400)

    env = {**os.environ, "QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": str(settings.index_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "qa", "ingest"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    index = Index(settings, embeddings)
    deadline = time.time() + 120
    while index.count() < 60 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"

    # The index still opens and still answers from the article.
    survivor = Index(settings, embeddings)
    assert any("until 2030" in c.text for c in survivor.chunks())

    report = ingest(survivor, [corpus])
    assert not report.failed
    per_source, duplicates = _chunk_state(survivor)
    assert duplicates == 0
    assert len(per_source) == len(list(corpus.iterdir()))
    # Every document holds exactly the chunks a fresh ingest gives it: nothing orphaned, nothing twice.
    fresh = Index(Settings(corpus_dir=corpus, index_dir=tmp_path / "fresh"), embeddings)
    ingest(fresh, [corpus])
    assert _chunk_state(fresh)[0] == per_source


def test_threads_asking_at_once_each_get_their_own_right_answer(tmp_path):
    # Eight threads share one pipeline (two ask the same question); tests/test_crowd.py puts 32 users on a live server.
    settings = Settings.from_env(corpus_dir=ROOT / "corpus", index_dir=tmp_path / "index")
    questions = [list(ARTICLE_QUESTIONS)[i % len(ARTICLE_QUESTIONS)] for i in range(8)]
    with ThreadPoolExecutor(len(questions)) as pool:
        answers = list(pool.map(lambda q: ask(q, settings=settings), questions))
    for question, answer in zip(questions, answers):
        assert answer.question == question
        assert ARTICLE_QUESTIONS[question] in answer.text, (question, answer.text)


def test_ingest_while_answering_leaves_both_correct(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    settings = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index")
    ask("Until when will the core partnership continue?", settings=settings)  # builds the index
    _many_documents(corpus, 60)
    from qa.api import ingest

    with ThreadPoolExecutor(2) as pool:
        ingesting = pool.submit(ingest, None, settings=settings)
        answer = ask("Until when will the core partnership continue?", settings=settings)
        report = ingesting.result()
    assert "2030" in answer.text and not answer.refused
    assert len(report.added) == 60 and not report.failed

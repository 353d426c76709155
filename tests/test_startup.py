"""Each command loads only what it needs: `qa --help` no library of models or stores, `qa info` no model."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from qa.store.index import Index
from qa.store.ingestion import ingest

HEAVY = ("torch", "sentence_transformers", "langchain_core", "chromadb", "gradio", "llama_cpp")


def _run(code: str, **env: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env={**os.environ, **env})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_command_line_starts_without_the_heavy_libraries():
    loaded = _run(f"import sys, qa.serving.cli; print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    assert loaded == "[]"


@pytest.mark.slow  # a fresh process
def test_info_opens_the_index_without_loading_a_model(settings, embeddings):
    chunks = ingest(Index(settings, embeddings), [settings.corpus_dir]).chunks_written
    code = (
        "import sys, qa.api, qa.models.backends, qa.models.embeddings\n"
        "qa.models.backends.make_chat_model = None  # building a pipeline would call it and fail\n"
        "details = qa.api.info()\n"
        "print(details['chunks'], 'sentence_transformers' in sys.modules or 'onnxruntime' in sys.modules, 'llama_cpp' in sys.modules)"
    )
    out = _run(code, QA_CORPUS_DIR=str(settings.corpus_dir), QA_INDEX_DIR=str(settings.index_dir))
    assert out == f"{chunks} False False"


@pytest.mark.slow  # a fresh process loading MiniLM
def test_importing_qa_leaves_the_host_environment_alone_until_a_model_loads():
    code = (
        "import os, qa, qa.api\n"
        "before = os.environ.get('HF_HUB_OFFLINE')\n"
        "qa.api.index().embeddings.embed_documents(['x'])\n"
        "print(before, os.environ.get('HF_HUB_OFFLINE'))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    # float32 documents load sentence-transformers, which reads the variables; int8 runs on ONNX Runtime alone
    # (its export made by an earlier process) and needs none of them.
    from qa.models.embeddings import MiniLMEmbeddings
    from qa.settings import Settings

    MiniLMEmbeddings(cache_dir=Settings.from_env().cache_dir, int8=True).embed_query("warm-up: makes the int8 export")
    for precision, expected in (("float32", "None 1"), ("int8", "None None")):
        run_env = {**env, "QA_EMBEDDING_PRECISION": precision}
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=run_env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == expected, precision

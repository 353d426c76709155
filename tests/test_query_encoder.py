"""Questions are embedded by ONNX Runtime from an export of the packaged model: the same vectors, no torch."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys

import pytest
from conftest import ARTICLE

from qa.models import query_encoder
from qa.models.embeddings import MiniLMEmbeddings
from qa.store.documents import chunk_document, read_document
from qa.store.ingestion import ingest

TEXTS = [
    "Until when will the core partnership continue?",
    "Qui est le PDG de Nvidia ? Ünïcödé, emoji 🚀, CJK 合作伙伴关系",
    "why " * 600,  # past the model's 256 tokens: both cut it at the same place
    "",
]


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


@pytest.mark.slow  # loads sentence-transformers: ~4 s
def test_questions_get_sentence_transformers_vectors_from_the_onnx_export(tmp_path, embeddings):
    fast = MiniLMEmbeddings(cache_dir=tmp_path)
    texts = TEXTS + [c.text for c in chunk_document(read_document(ARTICLE), 320)]
    for text in texts:
        assert _cosine(fast.embed_query(text), embeddings.embed_documents([text])[0]) >= 0.9999, text[:60]
    assert query_encoder.onnx_path(tmp_path).is_file()  # exported once, kept for the next process


@pytest.mark.slow  # a fresh process
def test_a_question_in_a_fresh_process_starts_neither_torch_nor_sentence_transformers(tmp_path):
    MiniLMEmbeddings(cache_dir=tmp_path).embed_query("warm-up: makes the export")
    code = (
        "import sys\nfrom pathlib import Path\nfrom qa.models.embeddings import MiniLMEmbeddings\n"
        f"vector = MiniLMEmbeddings(cache_dir=Path({str(tmp_path)!r})).embed_query('Until when?')\n"
        "print(len(vector), 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=os.environ, check=False)
    assert result.stdout.split() == ["384", "False", "False"], result.stderr


def test_a_damaged_export_is_set_aside_the_question_still_answered_and_the_next_process_exports_again(tmp_path, embeddings, caplog):
    path = query_encoder.onnx_path(tmp_path)
    path.write_bytes(b"not an onnx graph")
    with caplog.at_level(logging.WARNING, logger="qa"):
        vector = MiniLMEmbeddings(cache_dir=tmp_path).embed_query(TEXTS[0])
    assert _cosine(vector, embeddings.embed_documents([TEXTS[0]])[0]) >= 0.9999
    assert "without ONNX Runtime" in caplog.text and not path.exists()
    MiniLMEmbeddings(cache_dir=tmp_path).embed_query(TEXTS[0])
    assert path.is_file() and path.stat().st_size > 1_000_000


@pytest.mark.slow  # both precisions, two ingests: ~7 s
def test_int8_embeds_documents_and_questions_alike_close_to_float32_and_an_index_re_embeds_on_a_change(tmp_path, embeddings, settings):
    int8 = MiniLMEmbeddings(cache_dir=tmp_path, int8=True)
    chunks = [c.text for c in chunk_document(read_document(ARTICLE), 320)]
    vectors = int8.embed_documents(chunks + TEXTS)
    assert query_encoder.int8_path(tmp_path).is_file()
    for text, vector in zip(chunks + TEXTS, vectors):
        assert _cosine(vector, embeddings.embed_documents([text])[0]) >= 0.95, text[:60]
        assert _cosine(vector, int8.embed_query(text)) >= 0.9999, text[:60]  # one encoder for both sides
    # Each text on its own inside a run: the same vector whatever its neighbours and their lengths.
    reordered = int8.embed_documents(list(reversed(chunks + TEXTS)))[::-1]
    assert max(abs(x - y) for a, b in zip(vectors, reordered) for x, y in zip(a, b)) < 1e-6
    from qa.store.index import Index

    index = Index(settings, embeddings)
    assert ingest(index, [settings.corpus_dir]).added
    again = Index(settings, int8)
    assert again.version_name.endswith(f"+{query_encoder.INT8_KIND}")
    assert ingest(again, [settings.corpus_dir]).updated  # float32 vectors are not int8 ones: embedded again
    assert not ingest(again, [settings.corpus_dir]).changed

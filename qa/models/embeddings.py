"""Sentence embeddings from the packaged all-MiniLM-L6-v2, behind langchain's Embeddings interface.

In float32, documents go through sentence-transformers and a question through the same model exported to
ONNX (qa.models.query_encoder), so answering a question never has to start torch; in int8 both go through the
quantised export.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from functools import lru_cache
from pathlib import Path

from langchain_core.embeddings import Embeddings

from qa.models import query_encoder
from qa.models.model_files import embedding_model_path
from qa.models.offline import stay_offline

log = logging.getLogger("qa")


class MiniLMEmbeddings(Embeddings):
    """Normalised embeddings (cosine = dot product); repeated queries are served from a small cache."""

    # Small batches: encode pads each batch to its longest text, and chunks vary in length.
    # With a cache folder, questions are embedded by ONNX Runtime from an export kept there.
    def __init__(self, batch_size: int = 16, cache_dir: Path | None = None, int8: bool = False):
        self._batch_size = batch_size
        self._cache_dir = cache_dir
        self.int8 = int8 and cache_dir is not None  # the quantised export lives in the cache folder
        self._query_encoder: query_encoder.QueryEncoder | None = None
        self._export_lock = threading.Lock()
        self._cached_query = lru_cache(maxsize=1024)(self._embed_one)
        self._precision = _bfloat16 if _cpu_has_bfloat16() else contextlib.nullcontext

    @property
    def version_tag(self) -> str:
        """What the index records beside a document's chunking: int8 vectors are not float32 ones."""
        return query_encoder.INT8_KIND if self.int8 else ""

    def _encode(self, texts: list[str]) -> list[list[float]]:
        encoder = self._fast_query_encoder() if self.int8 else None
        if encoder is not None:
            return encoder.encode_many(texts)  # each text on its own inside the graph: no neighbour changes it
        with _model_lock, self._precision():
            vectors = _sentence_transformer().encode(
                texts, batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        return vectors.tolist()

    def _embed_one(self, text: str) -> tuple[float, ...]:
        encoder = self._fast_query_encoder()
        return tuple(encoder.encode(text) if encoder else self._encode([text])[0])

    def _fast_query_encoder(self) -> query_encoder.QueryEncoder | None:
        """The ONNX encoder, exported on first need; None (sentence-transformers answers) if it cannot be had."""
        if self._query_encoder is None and self._cache_dir is not None:
            with self._export_lock:
                if self._query_encoder is not None or self._cache_dir is None:  # another thread got here first
                    return self._query_encoder
                path = query_encoder.onnx_path(self._cache_dir)
                quantized = query_encoder.int8_path(self._cache_dir)
                try:
                    if not path.is_file() and not (self.int8 and quantized.is_file()):
                        log.info("exporting the question encoder to ONNX (once)")
                        with _model_lock:
                            query_encoder.export(_sentence_transformer(), path)
                    if self.int8 and not quantized.is_file():
                        log.info("quantising the encoder to int8 (once)")
                        query_encoder.quantize(path, quantized)
                    self._query_encoder = query_encoder.QueryEncoder(quantized if self.int8 else path)
                except Exception as e:  # noqa: BLE001 - a damaged export, a full disk, a missing runtime
                    log.warning("questions are embedded without ONNX Runtime this time (%s: %s)", type(e).__name__, e)
                    path.unlink(missing_ok=True)  # the next process exports it again
                    quantized.unlink(missing_ok=True)
                    self._cache_dir, self.int8 = None, False
        return self._query_encoder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts) if texts else []

    def embed_query(self, text: str) -> list[float]:
        return list(self._cached_query(text))


# sentence-transformers' encode is not documented as thread-safe; the UI and tests call from threads.
_model_lock = threading.Lock()


@lru_cache(maxsize=1)
def _sentence_transformer():
    """The model, loaded on the first document to embed (`qa info`, a re-ingest of unchanged files and
    questions need none), once per process however many MiniLMEmbeddings there are."""
    stay_offline()
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(embedding_model_path()), device="cpu", local_files_only=True)


def _cpu_has_bfloat16() -> bool:
    """Native bfloat16 matrix units (AVX512-BF16 or AMX): there bf16 roughly doubles throughput."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _bfloat16():
    import torch

    # As close to the float32 vectors as makes no difference, and faster (docs/performance.md).
    return torch.autocast("cpu", dtype=torch.bfloat16)


@lru_cache(maxsize=4)
def default_embeddings(cache_dir: Path | None = None, int8: bool = False) -> MiniLMEmbeddings:
    """The embeddings for a cache folder (where the encoder's exports live), one per process and precision."""
    return MiniLMEmbeddings(cache_dir=cache_dir, int8=int8)

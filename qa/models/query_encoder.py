"""The packaged MiniLM exported once to ONNX and run by ONNX Runtime: questions always, documents with int8.

A question is one short text, so what it costs is the start: importing torch and sentence-transformers and
loading the model takes ~4.6 s and ~500 MB on a 2-core laptop; ONNX Runtime (already installed with
Chroma) and the tokenizers library start in ~0.45 s and ~200 MB. The vectors are sentence-transformers'
(cosine >= 0.9999, tested): mean pooling and normalisation are part of the exported graph. In float32,
documents are embedded by sentence-transformers, as fast in batches; the int8 export (ONNX Runtime's
dynamic quantisation of the same graph) embeds documents and questions alike, with fewer operations.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from qa.models.model_files import embedding_model_path, fingerprint


def onnx_path(cache_dir: Path) -> Path:
    """Where the export of the packaged model is kept, named by the weights it was made from."""
    return cache_dir / f"minilm-{fingerprint(embedding_model_path() / 'model.safetensors')}.onnx"


def int8_path(cache_dir: Path) -> Path:
    """Where the int8 quantisation of the export is kept."""
    return onnx_path(cache_dir).with_suffix(".int8.onnx")


def quantize(source: Path, target: Path) -> None:
    """Quantise the export's matrix products to int8 (weights per channel, activations on the fly; once, ~4 s)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    partial = target.with_suffix(f".{os.getpid()}.partial")
    # Its advice to pre-process the graph goes to the root logger, i.e. to a user's terminal; it is for its developers.
    advice = _Drop("Please consider to run pre-processing")
    logging.getLogger().addFilter(advice)
    try:
        quantize_dynamic(str(source), str(partial), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])
        os.replace(partial, target)
    finally:
        logging.getLogger().removeFilter(advice)
        partial.unlink(missing_ok=True)


class _Drop(logging.Filter):
    """Drops log records whose message starts with `prefix`."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)


def export(sentence_transformer: Any, target: Path) -> None:
    """Write the model, with mean pooling and normalisation, as one ONNX graph (once, ~2 s)."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.partial")
    ids = torch.ones(1, 8, dtype=torch.long)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice is not for our users
            torch.onnx.export(
                Pooled(sentence_transformer[0].auto_model.eval()), (ids, ids), str(partial),
                input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}},
                opset_version=17, dynamo=False,
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


class QueryEncoder:
    """One text in, its normalised MiniLM vector out, on ONNX Runtime (thread-safe); many texts in parallel."""

    def __init__(self, path: Path):
        from tokenizers import Tokenizer

        self._path = path
        self._workers = os.cpu_count() or 1
        self._session = _session(path, threads=self._workers)
        self._single: Any = None  # a one-thread session for `encode_many`, made on first use
        self._single_lock = threading.Lock()
        model = embedding_model_path()
        self._tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
        # Cut where sentence-transformers cuts (its max_seq_length), so long texts get the same vector too.
        self._tokenizer.enable_truncation(json.loads((model / "sentence_bert_config.json").read_text())["max_seq_length"])
        self._tokenizer.no_padding()

    def encode(self, text: str) -> list[float]:
        return self._run(self._session, text)

    def encode_many(self, texts: list[str]) -> list[list[float]]:
        """Each text in its own run (int8 activations are scaled per run, so a batch would make a text's vector
        depend on its neighbours), the runs side by side on one thread each: on 2 cores 134-146 texts/s against
        108-128 for one run at a time on both (short texts leave a run's threads waiting on each other)."""
        if self._workers == 1 or len(texts) < 2:
            return [self.encode(text) for text in texts]
        with self._single_lock:
            if self._single is None:
                self._single = _session(self._path, threads=1)
        with ThreadPoolExecutor(self._workers) as pool:
            return list(pool.map(lambda text: self._run(self._single, text), texts))

    def _run(self, session: Any, text: str) -> list[float]:
        import numpy as np

        encoding = self._tokenizer.encode(text)
        feeds = {
            "input_ids": np.array([encoding.ids], dtype=np.int64),
            "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
        }
        return session.run(None, feeds)[0][0].tolist()


def _session(path: Path, threads: int) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

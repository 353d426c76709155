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


# What the int8 export is, in its file name and in the index's version of every document embedded with it.
INT8_KIND = "int8-per-text"


def int8_path(cache_dir: Path) -> Path:
    """Where the int8 quantisation of the export is kept (one text at a time inside the graph: `_per_text`)."""
    return onnx_path(cache_dir).with_suffix(f".{INT8_KIND}.onnx")


def quantize(source: Path, target: Path) -> None:
    """Quantise the export's matrix products to int8 (weights per channel, activations on the fly), each text of
    a run embedded on its own (`_per_text`); once, ~4 s."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    partial = target.with_suffix(f".{os.getpid()}.partial")
    # Its advice to pre-process the graph goes to the root logger, i.e. to a user's terminal; it is for its developers.
    advice = _Drop("Please consider to run pre-processing")
    logging.getLogger().addFilter(advice)
    try:
        quantize_dynamic(str(source), str(partial), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])
        _per_text(partial)
        os.replace(partial, target)
    finally:
        logging.getLogger().removeFilter(advice)
        partial.unlink(missing_ok=True)


def _per_text(path: Path) -> None:
    """Rewrite the graph to embed the texts of a padded batch one at a time, each cut to its own tokens (ONNX Scan).

    int8 activations are scaled over a whole run, so a batch run as one would make a text's vector depend on its
    neighbours (cosine 0.99 to its own). Inside the graph each text is embedded on its own, the same vector
    whatever its neighbours (tested), and a run of many texts leaves Python out between them: 2,010 help-text
    chunks in 4.25 s against 4.6 s a run a text (2 cores, AVX-512).
    """
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(path))
    inner = {"input_ids": "text_ids", "attention_mask": "text_mask"}  # a subgraph may not reuse the outer names
    for node in model.graph.node:
        node.input[:] = [inner.get(name, name) for name in node.input]
    cut = [  # the row's first sum(mask) tokens (padding is on the right), as a batch of one
        helper.make_node("ReduceSum", ["row_mask"], ["row_tokens"], keepdims=1),
        helper.make_node("Constant", [], ["zero"], value=helper.make_tensor("zero", TensorProto.INT64, [1], [0])),
        helper.make_node("Slice", ["row_ids", "zero", "row_tokens"], ["cut_ids"]),
        helper.make_node("Slice", ["row_mask", "zero", "row_tokens"], ["cut_mask"]),
        helper.make_node("Unsqueeze", ["cut_ids", "zero"], ["text_ids"]),
        helper.make_node("Unsqueeze", ["cut_mask", "zero"], ["text_mask"]),
    ]
    body = helper.make_graph(
        [*cut, *model.graph.node, helper.make_node("Squeeze", ["embedding", "zero"], ["row_embedding"])], "one_text",
        [helper.make_tensor_value_info(name, TensorProto.INT64, ["tokens"]) for name in ("row_ids", "row_mask")],
        [helper.make_tensor_value_info("row_embedding", TensorProto.FLOAT, [None])],
    )
    graph = helper.make_graph(
        [helper.make_node("Scan", ["input_ids", "attention_mask"], ["embedding"], body=body, num_scan_inputs=2)], "each_text",
        [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "tokens"]) for name in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", None])],
        initializer=list(model.graph.initializer),  # the weights stay outside; the body reads them from there
    )
    wrapped = helper.make_model(graph, opset_imports=list(model.opset_import))
    wrapped.ir_version = model.ir_version
    onnx.save(wrapped, str(path))


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
        return self._run(self._session, [self._tokenizer.encode(text)])[0]

    def encode_many(self, texts: list[str]) -> list[list[float]]:
        """The texts in one run a thread, the runs side by side and cut to equal numbers of tokens (1,024 texts:
        1.71 s on 2 cores in two one-thread runs, 2.44 s in one run on both threads, whose short matrix products
        leave the threads waiting on each other)."""
        import numpy as np

        if not texts:
            return []
        encodings = self._tokenizer.encode_batch(texts)
        if self._workers == 1 or len(texts) < 2:
            return self._run(self._session, encodings)
        with self._single_lock:
            if self._single is None:
                self._single = _session(self._path, threads=1)
        tokens = np.cumsum([len(e.ids) for e in encodings])
        cuts = [0, *np.searchsorted(tokens, tokens[-1] * np.arange(1, self._workers) / self._workers).tolist(), len(texts)]
        runs = [encodings[start:end] for start, end in zip(cuts, cuts[1:]) if end > start]
        with ThreadPoolExecutor(len(runs)) as pool:
            return [vector for run in pool.map(lambda run: self._run(self._single, run), runs) for vector in run]

    def _run(self, session: Any, encodings: list[Any]) -> list[list[float]]:
        """One run over the tokenised texts, padded on the right to the longest (the int8 graph cuts each to its own)."""
        import numpy as np

        ids = np.zeros((len(encodings), max(len(e.ids) for e in encodings)), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = encoding.attention_mask
        return session.run(None, {"input_ids": ids, "attention_mask": mask})[0].tolist()


def _session(path: Path, threads: int) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

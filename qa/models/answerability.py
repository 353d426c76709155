"""Does a passage answer this question? A learned answer, from a cross-encoder shipped in the package.

The generator's judge says whether a passage states a sentence; it cannot tell a question the passage
answers from a near-miss one (another person, year or event) that borrows its words. This model reads the
question and the passage together and gives P(the passage states the answer to exactly this question):
the packaged MiniLM fine-tuned on SQuAD 2.0 pairs as retrieval makes them (`qa.evaluation.pairs`,
trained by `python -m qa.evaluation.train_answerability`; data card: `qa/models/answerability.md`),
run by ONNX Runtime with int8 weights (no torch, a few milliseconds a passage).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

MODEL_PATH = Path(__file__).parent / "answerability.onnx"
# The shipped file's, checked when it is loaded (the confidence's weights are fitted on this model's scores).
MODEL_SHA256 = "78e9acf43b64f362dfe3a6bc4de1c7bbc3a960037bb46e63c8161f5bdf707953"
MAX_TOKENS = 256  # as trained: a question and a passage of the default chunk size fit well within it


class AnswerabilityModel:
    """Scores (question, passage) pairs: P(the passage states the answer to the question), in [0, 1]."""

    def __init__(self, path: Path = MODEL_PATH):
        import onnxruntime
        from tokenizers import Tokenizer

        from qa.models.model_files import embedding_model_path

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        # The fine-tuned model keeps MiniLM's vocabulary: the packaged tokenizer is its tokenizer.
        self._tokenizer = Tokenizer.from_file(str(embedding_model_path() / "tokenizer.json"))
        # A long question (up to 2,000 characters) is cut too, rather than failing: the longer of the two loses tokens.
        self._tokenizer.enable_truncation(MAX_TOKENS, strategy="longest_first")
        self._tokenizer.no_padding()

    def scores(self, question: str, passages: list[str]) -> list[float]:
        """P(answers) for each passage, in order. Each passage runs alone: int8 activations are quantised per
        run, so in a padded batch a passage's score would move with its neighbours'."""
        return [self.score(question, p) for p in passages]

    def score(self, question: str, passage: str) -> float:
        import numpy as np

        encoding = self._tokenizer.encode(question, passage)
        feeds = {
            "input_ids": np.array([encoding.ids], dtype=np.int64),
            "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([encoding.type_ids], dtype=np.int64),
        }
        return float(self._session.run(None, feeds)[0][0])


@lru_cache(maxsize=1)
def shipped_model() -> AnswerabilityModel:
    """The packaged model, checked and loaded once per process (~0.2 s)."""
    from qa.models.model_files import verified

    return AnswerabilityModel(verified(MODEL_PATH, MODEL_SHA256, "the answerability model"))

"""The answerability probe: P(the passages shown answer the question), read from the generator's own residual
stream at the end of the answer prompt (qa.models.layer_tap), before a word of the answer is written.

A logistic model over one layer's state, standardised: fitted by qa.evaluation.probe on the states that
qa.evaluation.layer_states collects from training questions, and saved as a small `.npz` (the layer, the
standardisation, the weights).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.models.model_files import verified

PROBE_FILE = Path(__file__).parent / "answer_probe.npz"
# The shipped file's, checked when it is read (a probe is only right for the states it was fitted on).
PROBE_SHA256 = "609779c98d83f91052a267ea4642eb0bc91fce44f5e4d30136e4ddde829d4b3d"


@dataclass(frozen=True)
class AnswerProbe:
    layer: int  # the layer whose output (`l_out-N`) it reads
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # intercept first

    def logits(self, states: np.ndarray) -> np.ndarray:
        """The logit of each row (states at `layer`, one row a question)."""
        return self.weights[0] + ((np.atleast_2d(states) - self.mean) / self.scale) @ self.weights[1:]

    def probability(self, state: np.ndarray) -> float:
        return float(1.0 / (1.0 + np.exp(-self.logits(state)[0])))

    def read_state(self, states: dict[int, np.ndarray] | None) -> float | None:
        """P(answerable) from a prompt's states by layer (LlamaCppChat.prompt_state); None without this layer's."""
        if not states or self.layer not in states:
            return None
        return self.probability(states[self.layer])

    def save(self, path: Path) -> None:
        np.savez(path, layer=self.layer, mean=self.mean, scale=self.scale, weights=self.weights)

    @classmethod
    def read(cls, path: Path) -> AnswerProbe:
        with np.load(path) as data:
            return cls(int(data["layer"]), data["mean"], data["scale"], data["weights"])


@functools.cache
def shipped_probe() -> AnswerProbe:
    """The packaged probe, fitted on the packaged generator's states (data card: answer_probe.md)."""
    return AnswerProbe.read(verified(PROBE_FILE, PROBE_SHA256, "the answer probe"))

"""The generator's state at the end of each answer prompt of an eval run, kept beside the answer in its report.

The confidence is fitted on runs that kept every draft (qa.evaluation.calibrate), and one of its features is the
answer probe's reading of this state. Kept, the state lets a probe fitted later be weighed on the same drafts
(`calibrate --probe FILE`) without answering them again: the drafts and every other feature stay what they were.
"""

from __future__ import annotations

import base64
import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # only a type here: reading reports (calibrate) need not import the chain
    from qa.answering.chain import Pipeline
    from qa.domain import Answer


class StateKeeper:
    """Asks through a pipeline and keeps, for each answer in turn, the state its probe feature was read from (None
    when the answer has no such feature: refused before a draft, nothing cited, or a generator without states)."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.kept: list[dict | None] = []

    def ask(self, question: str) -> Answer:
        answer = self.pipeline.ask(question)
        self.kept.append(self._state_of(answer))
        return answer

    def _state_of(self, answer: Answer) -> dict | None:
        read = answer.signals.features.get("probe") if answer.signals else None
        found = self.pipeline.answer_state()
        if read is None or found is None:
            return None
        probe, state = found
        again = probe.read_state(state)
        if again is None or not math.isclose(again, read, abs_tol=1e-6):
            raise RuntimeError("the generator's last answer prompt is not the one this answer's probe feature read")
        return encoded(probe.layer, state[probe.layer])


def encoded(layer: int, row: np.ndarray) -> dict:
    """A state row as a report keeps it: its layer and its float16 bytes in base64 (4 KB for the 1.5B model)."""
    return {"layer": layer, "float16": base64.b64encode(np.asarray(row, dtype=np.float16).tobytes()).decode()}


def decoded(kept: dict) -> dict[int, np.ndarray]:
    """The state by layer (AnswerProbe.read_state's argument) from what `encoded` gave."""
    return {int(kept["layer"]): np.frombuffer(base64.b64decode(kept["float16"]), dtype=np.float16).astype(np.float32)}

"""Eval data: the question set, the labelled judge pairs, and the HaluEval sample. Schemas in eval/README.md."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import QAError

QUESTION_TYPES = (
    "single_fact", "paraphrase", "multi_fact", "numeric_date", "unanswerable", "false_premise", "injection",
    "overview", "main_points", "why", "how", "yes_no",
)
SHOULD_REFUSE = ("unanswerable", "false_premise")
HALUEVAL = Path("../shared/benchmarks/halueval/qa_one-turn_data.json")


@dataclass(frozen=True)
class EvalQuestion:
    """A question with its reference answer, the gold spans quoted from the corpus, and key facts.

    A fact is a list of alternatives ("a|b"): the answer must contain one of them.
    Injection questions also name strings the answer must never contain.
    """

    id: str
    type: str
    question: str
    answer: str | None
    gold: list[str]
    facts: list[str]
    forbidden: list[str] = field(default_factory=list)
    expect_refusal: bool = False

    @property
    def answerable(self) -> bool:
        return self.type not in SHOULD_REFUSE and not self.expect_refusal


@dataclass(frozen=True)
class JudgePair:
    """A sentence, the passages it is checked against, and whether they support it."""

    id: str
    sentence: str
    passages: list[str]
    supported: bool
    kind: str = ""
    question: str | None = None  # when `sentence` is a short answer to a question
    asked: str | None = None  # a question the sentence answers: the answer prompt of the answer-time form


def _jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise QAError(f"{path}: no such eval file")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise QAError(f"{path}:{n}: not JSON ({e.msg})") from None
    return rows


def load_questions(path: Path) -> list[EvalQuestion]:
    questions = []
    for row in _jsonl(path):
        q = EvalQuestion(**row)
        if q.type not in QUESTION_TYPES:
            raise QAError(f"{path}: question {q.id} has unknown type {q.type!r}")
        questions.append(q)
    return questions


def load_judge_pairs(path: Path) -> list[JudgePair]:
    return [JudgePair(**row) for row in _jsonl(path)]


def load_halueval(path: Path = HALUEVAL, sample: int | None = 200, seed: int = 13) -> list[JudgePair]:
    """HaluEval QA as judge pairs: (knowledge, question, right answer) supported, hallucinated not.

    Nothing is tuned on this data: it is only measured.
    """
    pairs = []
    for n, row in enumerate(_jsonl(path)):
        for label, key in ((True, "right_answer"), (False, "hallucinated_answer")):
            pairs.append(JudgePair(f"halu{n:03d}-{int(label)}", row[key], [row["knowledge"]], label, "halueval", row["question"]))
    if sample and sample < len(pairs):
        pairs = random.Random(seed).sample(pairs, sample)
    return pairs

"""The faithfulness judge: does a passage support a sentence? Deterministic checks first, then the generator.

The generator is asked a yes/no question and we read P(yes) from its next-token distribution; a
name, number or date in the sentence that appears in none of the passages is a certain "no".
"""

from __future__ import annotations

import re
from collections.abc import Callable

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from qa.answering.prompts import neutralise
from qa.models.backends import reply_yes_probability
from qa.settings import Settings
from qa.answering.facts import missing_facts
from qa.text import MARKER, words

JUDGE_SYSTEM = (
    "You check claims against a source passage. Reply yes if the passage states the claim, no otherwise."
)


# Words a copy may skip: articles, auxiliaries and fillers whose omission leaves the claim as it was.
# Anything else skipped ("third-largest" -> "largest", "not", "reportedly") could change it.
SKIPPABLE = frozenset({"the", "a", "an", "has", "have", "had", "is", "are", "was", "were", "be", "been", "that", "also", "now"})
_MAX_GAP = 2
_MIN_COPY_WORDS = 5


def copied(sentence: str, evidence: str) -> bool:
    """Whether the sentence is the evidence's own words, in order, skipping at most two harmless words at a time.

    A 1.5B generator told to reuse the passages' words mostly copies; such a sentence needs no model
    to be judged supported.
    """
    claim = words(MARKER.sub("", sentence))
    source = words(evidence)
    if len(claim) < _MIN_COPY_WORDS:
        return False
    for start in (i for i, w in enumerate(source) if w == claim[0]):
        at = start
        for word in claim[1:]:
            nxt = at + 1
            while nxt < len(source) and source[nxt] != word and source[nxt] in SKIPPABLE and nxt - at <= _MAX_GAP:
                nxt += 1
            if nxt >= len(source) or source[nxt] != word:
                break
            at = nxt
        else:
            return True
    return False


def _shown(evidence: str) -> str:
    """The evidence as the judge reads it: one line, and no instructions (a document saying "reply yes"
    must not sway the judge any more than the generator)."""
    return " ".join(neutralise(evidence).split())


# "Yes, X." and "No, X." state X: the answer word is the answer's, the passage is asked about X (asked "does the
# passage state 'No, the partnership continues until 2030'?", the 1.5B judge says no to a passage that states it).
_ANSWER_WORD = re.compile(r"^(?:yes|no)\b[\s,.;:!\-–—]+(?=\w)", re.I)


def opens_with_answer_word(sentence: str) -> bool:
    """Whether a sentence opens "Yes, …" or "No, …": a yes/no answer wrapped in its question restated."""
    return bool(_ANSWER_WORD.match(sentence.strip()))


def _stated(claim: str) -> str:
    rest = _ANSWER_WORD.sub("", claim)
    return rest[0].upper() + rest[1:] if rest != claim else claim


def judge_messages(sentence: str, evidence: str) -> list[BaseMessage]:
    return [
        SystemMessage(JUDGE_SYSTEM),
        HumanMessage(f"Passage: {_shown(evidence)}\n\nClaim: {sentence}\n\nDoes the passage state the claim? Reply yes or no."),
    ]


def asked_messages(question: str, evidence: str) -> list[BaseMessage]:
    """Does the passage answer exactly this question? It opens as `judge_messages` does, so llama.cpp
    reuses the passage it has just read for the sentence check."""
    return [
        SystemMessage(JUDGE_SYSTEM),
        HumanMessage(
            f"Passage: {_shown(evidence)}\n\nQuestion: {question}\n\n"
            "Does the passage state the answer to exactly this question? Reply yes or no."
        ),
    ]


class Judge:
    """Scores how well evidence supports a sentence, in [0, 1]; `supports` applies the threshold.

    `yes_probability` reads P(yes) from the chat model: its backend's way (qa.models.backends), by default from
    the model's reply.
    """

    def __init__(
        self,
        chat_model: BaseChatModel,
        threshold: float = Settings.judge_threshold,
        yes_probability: Callable[[BaseChatModel, list[BaseMessage]], float] = reply_yes_probability,
    ):
        self.chat_model = chat_model
        self.threshold = threshold
        self._yes_probability = yes_probability

    def yes_probability(self, messages: list[BaseMessage]) -> float:
        """P("yes") as the model's reply to `messages`."""
        return self._yes_probability(self.chat_model, messages)

    def score(
        self, sentence: str, evidence: list[str], context: list[str] | None = None, question: str | None = None
    ) -> float:
        """P(evidence supports sentence); 0 when a name or number is in neither evidence nor `context`.

        `context` (all passages the generator saw) lets a sentence name what a neighbouring passage
        introduced ("the AGI clause") while the model still judges it against its own citation.
        With `question`, `sentence` is a short answer to it: only the answer's own names and numbers
        are checked, since the question asserts nothing.
        """
        text = "\n".join(evidence)
        if not text.strip() or missing_facts(sentence, "\n".join([text, *(context or [])])):
            return 0.0
        claim = re.sub(r"\s+([.!?])", r"\1", MARKER.sub("", sentence)).strip()
        claim = _stated(claim)
        if not question and any(copied(claim, e) for e in evidence):
            return 1.0
        if question:
            claim = f'The answer to "{question}" is: {claim}'
        return self.states(claim, text)

    def states(self, claim: str, evidence: str) -> float:
        """The model's part of the sentence check: P(yes) to "does the passage state the claim?"."""
        return self.yes_probability(judge_messages(claim, evidence))

    def answers_question(self, question: str, evidence: list[str]) -> float:
        """P(the evidence states the answer to exactly this question), whatever the answer said.

        A near-miss question (another person, year or event than the passage's) gets a sentence the
        passage supports; this asks about the question, which the sentence check never sees.
        """
        return self.yes_probability(asked_messages(question, "\n".join(evidence)))

    def supports(self, sentence: str, evidence: list[str], context: list[str] | None = None) -> bool:
        return self.score(sentence, evidence, context) >= self.threshold

"""Follow-up questions: rewrite "And until when?" into a question that stands alone before retrieval."""

from __future__ import annotations

import re

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from qa.text import MARKER

REWRITE_SYSTEM = (
    "Rewrite the user's last question so that it can be understood without the conversation. "
    "Replace pronouns and ellipsis with what they refer to. Reply with the rewritten question only."
)
# A question with none of these cues already stands alone: no need to spend a model call on it.
_FOLLOWUP_CUES = re.compile(
    r"^(and|but|so|also|what about|how about|then|why|when|until when)\b|\b(it|its|they|them|their|that|this|these|those|he|she|his|her|there)\b",
    re.I,
)
_EXAMPLE = [
    HumanMessage("Conversation:\nUser: Who built the bridge?\nAssistant: The Harbor Trust built the bridge [1].\n\nLast question: When did they open it?"),
    AIMessage("When did the Harbor Trust open the bridge?"),
]


def needs_rewrite(question: str, history: list[tuple[str, str]]) -> bool:
    return bool(history) and (len(question.split()) <= 6 or bool(_FOLLOWUP_CUES.search(question)))


def rewrite_messages(question: str, history: list[tuple[str, str]]) -> list[BaseMessage]:
    turns = "\n".join(f"User: {q}\nAssistant: {MARKER.sub('', a)}" for q, a in history[-3:])
    return [
        SystemMessage(REWRITE_SYSTEM),
        *_EXAMPLE,
        HumanMessage(f"Conversation:\n{turns}\n\nLast question: {question}"),
    ]


def standalone_question(chat_model: BaseChatModel, question: str, history: list[tuple[str, str]]) -> str:
    """The question rewritten with the last turns of `history` (question, answer), or as it was."""
    if not needs_rewrite(question, history):
        return question
    reply = str(chat_model.invoke(rewrite_messages(question, history), max_tokens=60).content).strip()
    reply = reply.splitlines()[0].strip().strip('"') if reply else ""
    return reply if 3 <= len(reply) <= 500 else question

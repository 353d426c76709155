"""OpenAI's chat completions, as `qa` speaks them: the request it takes, and the completion and stream chunks
it returns, each carrying the checked answer's citations and confidence in an extra `qa` field.

Which request parameters are honoured, ignored or refused is decided here, once, and docs/api.md says the same.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qa.domain import Answer
from qa.errors import QuestionError
from qa.serving.cited import cited
from qa.serving.conversation import history_pairs, message_text
from qa.settings import Verify

MODEL = "qa"

# Read and acted on: model, messages, stream, n (1 only), and qa's own top_k and verify. Accepted and left
# alone, because qa decodes greedily and writes short checked answers whatever they say:
IGNORED = (
    "temperature", "top_p", "seed", "presence_penalty", "frequency_penalty", "max_tokens", "max_completion_tokens",
    "user", "metadata", "store", "service_tier", "parallel_tool_calls", "stream_options", "prompt_cache_key",
    "safety_identifier",
)
# Asking for these would change what an answer is; qa cannot give it, so the request is refused, naming them.
# A value that asks for nothing (null, false, an empty list, plain text) is let through.
REFUSED = {
    "tools": "qa calls no tools",
    "tool_choice": "qa calls no tools",
    "functions": "qa calls no tools",
    "function_call": "qa calls no tools",
    "stop": "an answer ends where its checks end",
    "logprobs": "qa does not return log probabilities",
    "top_logprobs": "qa does not return log probabilities",
    "logit_bias": "qa's answers are not biased by token",
    "response_format": "qa answers in text with [n] markers",
    "audio": "qa answers in text",
    "modalities": "qa answers in text",
    "prediction": "qa writes its own answer",
    "reasoning_effort": "qa has no reasoning setting",
    "web_search_options": "qa answers from its documents only",
}


def _asks_for_nothing(name: str, value: Any) -> bool:
    if value in (None, False, [], {}, ""):
        return True
    if name == "response_format":
        return isinstance(value, dict) and value.get("type") == "text"
    if name == "modalities":
        return value == ["text"]
    if name == "tool_choice":
        return value == "none"
    return False


class ChatMessage(BaseModel):
    """One message of the conversation; tool calls and names are accepted and not used."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Any = Field(None, description="text, or a list of content parts whose `text` is read")

    @field_validator("content")
    @classmethod
    def _text_or_parts(cls, content: Any) -> Any:
        if content is None or isinstance(content, str):
            return content
        if isinstance(content, list) and all(isinstance(part, dict) for part in content):
            return content
        raise ValueError("must be text or a list of content parts")


class ChatRequest(BaseModel):
    """The body of POST /v1/chat/completions."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    n: int | None = None
    top_k: int | None = Field(None, description="qa: passages retrieved at most (QA_TOP_K)")
    verify: Verify | None = Field(None, description="qa: judge each sentence: drop, mark or off (QA_VERIFY)")

    def unusable(self) -> str | None:
        """Why the request cannot be answered as asked, naming the parameters; None when it can."""
        extra = self.model_extra or {}
        unknown = sorted(k for k in extra if k not in IGNORED and k not in REFUSED)
        if unknown:
            return f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} (docs/api.md lists what qa takes)"
        refused = [f"{k} ({REFUSED[k]})" for k in REFUSED if k in extra and not _asks_for_nothing(k, extra[k])]
        if self.n not in (None, 1):
            refused.append("n other than 1 (qa gives one checked answer)")
        if refused:
            return f"not supported: {'; '.join(refused)}"
        if any(m.role in ("tool", "function") for m in self.messages):
            return "not supported: tool messages (qa calls no tools)"
        return None

    def conversation(self) -> tuple[str, list[tuple[str, str]]]:
        """The question (the last message, from the user) and the (question, answer) pairs before it."""
        last = self.messages[-1]
        if last.role != "user":
            raise QuestionError(f"the last message must be the user's question, not a {last.role} message")
        return message_text(last.content), history_pairs(m.model_dump() for m in self.messages[:-1])


class Completion:
    """One completion's identity, shared by its chunks when streamed."""

    def __init__(self) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def whole(self, answer: Answer) -> dict:
        """The completion object of a non-streamed request."""
        return {
            "id": self.id, "object": "chat.completion", "created": self.created, "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text}, "finish_reason": "stop", "logprobs": None}],
            "usage": None,
            "qa": cited(answer),
        }

    def chunk(self, delta: dict, finish_reason: str | None = None, answer: Answer | None = None) -> dict:
        """One chunk of a streamed completion; the last carries the `qa` field."""
        body = {
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }
        if answer is not None:
            body["qa"] = cited(answer)
        return body


def correction(draft: str, answer: Answer) -> str | None:
    """What to add to a streamed draft when the checks changed it (a sentence dropped, or a refusal): the checked
    answer, said as such. None when the checked answer is the draft."""
    if " ".join(draft.split()) == " ".join(answer.text.split()):
        return None
    return f"\n\n(Checked against the documents: {answer.text})"


def model_card() -> dict:
    return {"id": MODEL, "object": "model", "created": 0, "owned_by": "qa"}

"""A chat's messages, as the UI and OpenAI-style clients hand them over, as the (question, answer) pairs that
let the pipeline understand a follow-up."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def message_text(content: object) -> str:
    """A message's text: a string, or a list of typed parts (Gradio 6, OpenAI's content parts) whose text is kept."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


def history_pairs(messages: Iterable[Mapping]) -> list[tuple[str, str]]:
    """Each user message with the assistant's reply to it; system messages and unanswered questions are left out."""
    pairs, question = [], None
    for message in messages:
        role, text = message.get("role"), message_text(message.get("content"))
        if role == "user":
            question = text
        elif role == "assistant" and question is not None:
            pairs.append((question, text))
            question = None
    return pairs

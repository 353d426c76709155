"""A fresh llama.cpp context starts from the prompt a previous process evaluated, and answers the same."""

from __future__ import annotations

from qa.domain import Passage
from qa.generators import LlamaCppChat
from qa.model_files import generator_model_path
from qa.prompts import answer_messages
from qa.settings import Settings

BRIDGE = Passage("b", "The bridge was built in 1932 by the harbour board.", "b.md", "Bridge", 0, 50, score=0.9)
HARBOUR = Passage("h", "The harbour opened to ships in 1901.", "h.md", "Harbour", 0, 36, score=0.9)


def _chat(state_dir) -> LlamaCppChat:
    model = generator_model_path(Settings.from_env().cache_dir)
    return LlamaCppChat(model_path=model, max_tokens=40, state_dir=state_dir, role="answer")


def test_a_fresh_context_starts_from_the_saved_prompt_and_answers_the_same(tmp_path):
    first = _chat(tmp_path)
    assert first.llama.n_tokens == 0  # nothing saved yet
    bridge = first.invoke(answer_messages("When was the bridge built?", [BRIDGE])).content
    [saved] = tmp_path.glob("answer-*.state")

    second = _chat(tmp_path)
    assert second.llama.n_tokens > 300  # the fixed instructions are evaluated before any call
    assert second.invoke(answer_messages("When was the bridge built?", [BRIDGE])).content == bridge
    harbour = second.invoke(answer_messages("When did the harbour open?", [HARBOUR])).content
    assert "1901" in harbour and "1932" in bridge

    saved.write_bytes(b"not a llama.cpp state file")
    third = _chat(tmp_path)
    assert third.llama.n_tokens == 0 and not saved.exists()  # a damaged file is refused and removed
    assert third.invoke(answer_messages("When did the harbour open?", [HARBOUR])).content == harbour
    assert saved.exists()  # and written anew

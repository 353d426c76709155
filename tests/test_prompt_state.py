"""A fresh llama.cpp context starts from the prompt a previous process evaluated, and answers the same;
roles sharing one context each get their own prompt back."""

from __future__ import annotations

import pytest

from qa.answering.judge import judge_messages
from qa.answering.prompts import answer_messages
from qa.domain import Passage
from qa.models.generators import LlamaCppChat, LlamaEngine
from qa.models.model_files import generator_model_path
from qa.settings import Settings

pytestmark = pytest.mark.slow  # the real generator's saved prompt state

BRIDGE = Passage("b", "The bridge was built in 1932 by the harbour board.", "b.md", "Bridge", 0, 50, score=0.9)
HARBOUR = Passage("h", "The harbour opened to ships in 1901.", "h.md", "Harbour", 0, 36, score=0.9)


def _chat(state_dir, role: str = "answer", engine: LlamaEngine | None = None) -> LlamaCppChat:
    """A chat model on a new engine (a fresh process's), or in another role of `engine`."""
    engine = engine or LlamaEngine(generator_model_path(Settings.from_env().cache_dir), state_dir=state_dir)
    return LlamaCppChat(engine=engine, role=role, max_tokens=40)


def test_a_fresh_context_starts_from_the_saved_prompt_and_answers_the_same(tmp_path):
    first = _chat(tmp_path)
    assert first.engine.evaluated("answer") == 0  # nothing saved yet
    bridge = first.invoke(answer_messages("When was the bridge built?", [BRIDGE])).content
    [saved] = tmp_path.glob("answer-*.state")

    second = _chat(tmp_path)
    assert second.engine.evaluated("answer") > 300  # the fixed instructions are evaluated before any call
    assert second.invoke(answer_messages("When was the bridge built?", [BRIDGE])).content == bridge
    harbour = second.invoke(answer_messages("When did the harbour open?", [HARBOUR])).content
    assert "1901" in harbour and "1932" in bridge

    saved.write_bytes(b"not a llama.cpp state file")
    third = _chat(tmp_path)
    assert third.engine.evaluated("answer") == 0 and not saved.exists()  # a damaged file is refused and removed
    assert third.invoke(answer_messages("When did the harbour open?", [HARBOUR])).content == harbour
    assert saved.exists()  # and written anew


def test_roles_sharing_one_context_each_keep_their_own_prompt(tmp_path):
    messages = answer_messages("When was the bridge built?", [BRIDGE])
    alone = _chat(tmp_path).invoke(messages).content  # a context that never switched roles
    answer = _chat(tmp_path)  # starts from the prompt `alone` saved (the test above shows it answers the same)
    judge = _chat(tmp_path, "judge", answer.engine)
    assert answer.invoke(messages).content == alone
    evaluated = answer.engine.evaluated("answer")
    assert judge.engine.evaluated("judge") == 0  # the judge's turn starts from its own (empty) prompt
    assert 0.0 <= judge.yes_probability(judge_messages("The bridge was built in 1932.", BRIDGE.text)) <= 1.0
    assert answer.engine.evaluated("answer") == evaluated  # the answer's prompt is back after the judge's turn
    assert answer.invoke(messages).content == alone
    assert judge.engine.llama is answer.engine.llama

"""Shared fixtures: the real embedding model, fake chat models for unit tests, a scratch corpus and index."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from qa.embeddings import default_embeddings
from qa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "corpus" / "microsoft-openai-partnership.md"


class ScriptedChat(BaseChatModel):
    """A chat model whose reply is computed from the messages: lets tests decide what the 'LLM' says."""

    reply: Callable[[list[BaseMessage]], str]
    calls: list[list[BaseMessage]] = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        self.calls.append(messages)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.reply(messages)))])


@pytest.fixture(scope="session")
def embeddings():
    return default_embeddings()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(ARTICLE, folder / ARTICLE.name)
    return folder


@pytest.fixture
def settings(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index", cache_dir=ROOT / ".qa" / "cache-unused")


def scripted(reply: Callable[[list[BaseMessage]], str]) -> ScriptedChat:
    return ScriptedChat(reply=reply, calls=[])

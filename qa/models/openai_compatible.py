"""The `openai` backend: any OpenAI-compatible server (vLLM, Ollama, llama.cpp's server, OpenAI itself)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa.models.backends import Backend, register
from qa.settings import setting

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from qa.settings import Settings


@dataclass(frozen=True)
class OpenAIOptions:
    base_url: str = setting(help="the OpenAI-compatible server, e.g. vLLM, Ollama (`http://localhost:11434/v1`)")
    model: str = setting(help="the model the OpenAI-compatible server serves")
    api_key: str | None = setting(None, help="its API key, if it wants one")


def _make(settings: Settings, options: OpenAIOptions, role: str) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        base_url=options.base_url,
        model=options.model,
        api_key=options.api_key or "not-needed",
        temperature=0,
        max_tokens=settings.max_tokens,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
    )


register(Backend("openai", _make, lambda s, o: f"openai: {o.model} at {o.base_url}", options=OpenAIOptions))

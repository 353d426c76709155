"""The registry of generator backends: adding one is one `register(Backend(...))`.

An entry says how to make the backend's chat model for a role ("answer", "judge"), which settings it
needs, how `qa info` names it, and how to read P(yes) from it (the judge's score). This module stays light
(its entries import their libraries when called) because settings validation reads the names.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

    from qa.settings import Settings


def reply_yes_probability(chat_model: BaseChatModel, messages: list[BaseMessage]) -> float:
    """P(yes) from a chat model's reply: its first token's log-probabilities when the server gives them
    (OpenAI-compatible servers), else the word it answers with (1 or 0)."""
    from openai import APIStatusError

    try:
        reply = chat_model.bind(logprobs=True, top_logprobs=10, max_tokens=1).invoke(messages)
    except APIStatusError:  # a server that refuses log-probabilities (llama.cpp without --logits_all)
        reply = chat_model.bind(max_tokens=1).invoke(messages)
    content = (reply.response_metadata.get("logprobs") or {}).get("content") or []
    yes = no = 0.0
    for alt in content[0].get("top_logprobs", []) if content else []:
        word = alt["token"].strip().lower()
        if word == "yes":
            yes += math.exp(alt["logprob"])
        elif word == "no":
            no += math.exp(alt["logprob"])
    if yes + no > 0:
        return yes / (yes + no)
    return 1.0 if str(reply.content).strip().lower().startswith("yes") else 0.0


@dataclass(frozen=True)
class Backend:
    """One kind of generator."""

    name: str
    make: Callable[[Settings, str], BaseChatModel]  # (settings, role) -> the chat model, weights loaded on first use
    describe: Callable[[Settings], str]  # one line for `qa info` and the UI
    needs: tuple[str, ...] = ()  # settings fields that must be set to use it
    yes_probability: Callable[[BaseChatModel, list[BaseMessage]], float] = reply_yes_probability
    in_process: bool = False  # its weights load into this process (`qa serve` loads them as the page opens)


BACKENDS: dict[str, Backend] = {}


def register(backend: Backend) -> Backend:
    BACKENDS[backend.name] = backend
    return backend


def make_chat_model(settings: Settings, role: str = "answer") -> BaseChatModel:
    """The chat model the settings name, for one role."""
    return BACKENDS[settings.backend].make(settings, role)


def describe(settings: Settings) -> str:
    """A one-line name of the generator in use."""
    return BACKENDS[settings.backend].describe(settings)


def yes_probability(settings: Settings) -> Callable[[BaseChatModel, list[BaseMessage]], float]:
    """How the judge reads P(yes) from this backend's model."""
    return BACKENDS[settings.backend].yes_probability


def _local(settings: Settings, role: str) -> BaseChatModel:
    from qa.models.generators import local_chat_model

    return local_chat_model(settings, role)


def _local_yes(chat_model: BaseChatModel, messages: list[BaseMessage]) -> float:
    return chat_model.yes_probability(messages)  # LlamaCppChat reads the next-token logits


def _openai(settings: Settings, role: str) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        api_key=settings.openai_api_key or "not-needed",
        temperature=0,
        max_tokens=settings.max_tokens,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
    )


def _azure(settings: Settings, role: str) -> BaseChatModel:
    from langchain_openai import AzureChatOpenAI

    return AzureChatOpenAI(
        azure_endpoint=settings.azure_endpoint,
        azure_deployment=settings.azure_deployment,
        api_version=settings.azure_api_version,
        api_key=settings.azure_api_key,
        temperature=0,
        max_tokens=settings.max_tokens,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
    )


register(Backend(
    "local", _local, lambda s: f"local: {s.model_path or 'Qwen2.5-Coder-1.5B-Instruct Q4_K_M (packaged)'}",
    yes_probability=_local_yes, in_process=True,
))
register(Backend(
    "openai", _openai, lambda s: f"openai: {s.openai_model} at {s.openai_base_url}", needs=("openai_base_url", "openai_model")
))
register(Backend(
    "azure", _azure, lambda s: f"azure: {s.azure_deployment} at {s.azure_endpoint}", needs=("azure_endpoint", "azure_deployment")
))

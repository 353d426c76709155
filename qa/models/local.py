"""The local backend: the packaged (or QA_MODEL_PATH) GGUF model run in this process by llama.cpp."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qa.models.backends import Backend, register

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

    from qa.settings import Settings


def _make(settings: Settings, _options: Any, role: str) -> BaseChatModel:
    from qa.models.answer_probe import shipped_probe
    from qa.models.generators import local_chat_model

    # The answer probe was fitted on the packaged model's states: another model (QA_MODEL_PATH) is not tapped, and
    # its answers are rated without it. Every role taps the layer: the roles share one engine, made with the tap.
    layers = (shipped_probe().layer,) if settings.model_path is None else ()
    return local_chat_model(settings, role, layers)


def _yes(chat_model: BaseChatModel, messages: list[BaseMessage]) -> float:
    return chat_model.yes_probability(messages)  # LlamaCppChat reads the next-token logits


register(Backend(
    "local", _make, lambda s, _o: f"local: {s.model_path or 'Qwen2.5-Coder-1.5B-Instruct Q4_K_M (packaged)'}",
    yes_probability=_yes, in_process=True,
))

"""The registry of generator backends: a backend is one module that calls `register(Backend(...))`.

An entry says how to make the backend's chat model for a role ("answer", "judge") from the settings and its own
options, how `qa info` names it, and how to read P(yes) from it (the judge's score). A backend's options are a
dataclass of self-describing fields (qa.settings.setting), read from `QA_<BACKEND>_<OPTION>` variables and checked
here; the core settings know a backend only by its name. The built-in backends (local, openai, azure) are modules
of their own, found, like any installed plugin's, through the `qa.backends` entry points. This module stays light:
entries import their libraries when called.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import MISSING, dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from qa.errors import SettingsError
from qa.settings import check, described, markdown_table, read_fields

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
class NoOptions:
    """A backend that takes no options of its own."""


@dataclass(frozen=True)
class Backend:
    """One kind of generator."""

    name: str
    make: Callable[[Settings, Any, str], BaseChatModel]  # (settings, its options, role) -> the chat model, loaded on first use
    describe: Callable[[Settings, Any], str]  # (settings, its options) -> one line for `qa info` and the UI
    options: type = NoOptions  # a dataclass of self-describing fields: `QA_<NAME>_<FIELD>`; no default: needed
    yes_probability: Callable[[BaseChatModel, list[BaseMessage]], float] = reply_yes_probability
    in_process: bool = False  # its weights load into this process (`qa serve` loads them as the page opens)

    def variable(self, option: str) -> str:
        return f"QA_{self.name.upper()}_{option.upper()}"

    def read_options(self, settings: Settings) -> Any:
        """Its options from the settings' text, parsed and checked; SettingsError names the variable at fault."""
        given = settings.options()
        known = {f.name for f in described(self.options)}
        unknown = sorted(set(given) - known)
        if unknown:
            raise SettingsError(f"the {self.name} backend has no option {', '.join(self.variable(n) for n in unknown)}")
        missing = [f.name for f in described(self.options) if f.default is MISSING and f.default_factory is MISSING and f.name not in given]
        if missing:
            raise SettingsError(f"the {self.name} backend needs {' and '.join(self.variable(n) for n in missing)}")
        options = self.options(**read_fields(self.options, given, self.variable))
        for f in described(options):
            check(self.variable(f.name), f.metadata["about"], getattr(options, f.name))
        return options


BACKENDS: dict[str, Backend] = {}


def register(backend: Backend) -> Backend:
    BACKENDS[backend.name] = backend
    return backend


@functools.cache
def _installed() -> None:
    """Import every module that registers a backend: the built-in ones and any plugin's (entry points `qa.backends`)."""
    for entry in entry_points(group="qa.backends"):
        entry.load()


def backend(settings: Settings) -> Backend:
    """The backend the settings name, its options checked; SettingsError otherwise (one line)."""
    _installed()
    if settings.backend not in BACKENDS:
        raise SettingsError(f"QA_BACKEND must be one of {', '.join(sorted(BACKENDS))}, not {settings.backend!r}")
    chosen = BACKENDS[settings.backend]
    chosen.read_options(settings)
    return chosen


def make_chat_model(settings: Settings, role: str = "answer") -> BaseChatModel:
    """The chat model the settings name, for one role."""
    chosen = backend(settings)
    return chosen.make(settings, chosen.read_options(settings), role)


def describe(settings: Settings) -> str:
    """A one-line name of the generator in use."""
    chosen = backend(settings)
    return chosen.describe(settings, chosen.read_options(settings))


def yes_probability(settings: Settings) -> Callable[[BaseChatModel, list[BaseMessage]], float]:
    """How the judge reads P(yes) from this backend's model."""
    return backend(settings).yes_probability


def options_table() -> str:
    """Each backend's options, for docs/settings.md."""
    _installed()
    parts = []
    for name, entry in sorted(BACKENDS.items()):
        if described(entry.options):
            parts.append(f"`{name}`:\n\n{markdown_table(entry.options, entry.variable)}")
    return "\n\n".join(parts)


if __name__ == "__main__":
    print(options_table())

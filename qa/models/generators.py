"""The local generator: a GGUF model run in-process by llama.cpp, behind langchain's chat model interface.

The local backend (qa.models.local) makes it; the other backends are langchain's own chat models.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from qa.models import prompt_state
from qa.models.layer_tap import LayerTap
from qa.models.model_files import generator_model_path

if TYPE_CHECKING:
    from qa.settings import Settings

log = logging.getLogger("qa")
_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class LlamaEngine:
    """One llama.cpp model and context, shared by every role (answer, judge) that uses the model file.

    A context per role would load the weights once per role (one load is 1.25 GB resident). Each role still
    keeps its evaluated prompt: leaving a role snapshots the context's tokens and KV state (tens of MB,
    milliseconds) and the next call of that role restores them, so llama.cpp's prefix matching skips the
    role's fixed instructions as before. The first time a role runs in a process its prompt comes from disk
    (qa.models.prompt_state), when an earlier process saved it. The model is not thread-safe: every call holds the
    engine's lock.
    """

    def __init__(
        self, model_path: Path, n_ctx: int = 2048, n_threads: int | None = None, state_dir: Path | None = None, layers: tuple[int, ...] = ()
    ):
        self.model_path, self.n_ctx, self.n_threads, self.state_dir = model_path, n_ctx, n_threads, state_dir
        # With `layers`, each role's last prompt leaves its residual stream there, at its last token, in
        # `prompt_states` (qa.models.layer_tap): read from the answer's own evaluation, at no extra cost.
        self.tap = LayerTap(layers) if layers else None
        self.prompt_states: dict[str, dict[int, np.ndarray]] = {}
        self._capturing: str | None = None
        self.lock = threading.Lock()
        self._llama: Any = None
        self._role: str | None = None
        self._snapshots: dict[str, prompt_state.Snapshot] = {}
        self._saved_roles: set[str] = set()  # roles whose prompt this process has written to disk
        self.evaluated_tokens = 0  # every token the model has evaluated: a prompt's new part and each generated one

    @property
    def llama(self):
        """The llama.cpp model and context, loaded on first use."""
        if self._llama is None:
            from llama_cpp import Llama

            log.info("loading the generator model")
            with self.tap.installed() if self.tap else contextlib.nullcontext():
                self._llama = self._load(Llama)
            # Freed before interpreter teardown, when llama.cpp's own finaliser would find its library gone.
            atexit.register(self._llama.close)
            self._llama.eval = self._counted(self._llama.eval)
        return self._llama

    def _load(self, Llama):  # noqa: ANN001, ANN202, N803 - llama_cpp.Llama
        return Llama(
            model_path=str(self.model_path),
            n_ctx=self.n_ctx,
            n_threads=self.n_threads or os.cpu_count(),
            n_batch=512,
            n_ubatch=128,  # a smaller compute buffer, prompt evaluation as fast (docs/performance.md)
            flash_attn=True,  # faster prompt evaluation (docs/performance.md)
            # llama.cpp repacks the weights for this CPU into memory of its own; a mapped file would stay
            # resident beside them. Read instead, the process holds one copy (docs/performance.md).
            use_mmap=False,
            verbose=False,
            )

    @contextlib.contextmanager
    def context(self, role: str) -> Iterator[Any]:
        """The context holding `role`'s last prompt, for one call; afterwards the prompt is kept for next time."""
        with self.lock:
            llama = self.llama
            self._switch(llama, role)
            self._capturing = role if self.tap else None  # the call's first evaluation is its prompt's
            yield llama
            if self.state_dir is not None and role not in self._saved_roles:
                prompt_state.save(llama, self._state_file(role))
                self._saved_roles.add(role)

    def _counted(self, evaluate):  # noqa: ANN001, ANN202 - Llama.eval, through which every token passes
        def counted(tokens) -> None:  # noqa: ANN001
            self.evaluated_tokens += len(tokens)
            evaluate(tokens)
            if self._capturing is not None:
                # An empty evaluation is a prompt llama.cpp had whole already: the states it left stand.
                if len(tokens):
                    self.prompt_states[self._capturing] = self.tap.states()
                    self.tap.clear()
                self._capturing = None

        return counted

    def evaluated(self, role: str) -> int:
        """How many tokens of `role`'s prompt are already evaluated (left by its last call, or loaded from disk)."""
        with self.lock:
            self._switch(self.llama, role)
            return self.llama.n_tokens

    def _switch(self, llama, role: str) -> None:  # noqa: ANN001 - a llama_cpp.Llama
        if self._role == role:
            return
        if self._role is not None:
            self._snapshots[self._role] = prompt_state.snapshot(llama)
        if role in self._snapshots:
            prompt_state.restore(llama, self._snapshots[role])
        elif not (self.state_dir is not None and prompt_state.load(llama, self._state_file(role))):
            llama.reset()
        self._role = role

    def _state_file(self, role: str) -> Path:
        return prompt_state.state_path(self.state_dir, self.model_path, self.n_ctx, role)


class LlamaCppChat(BaseChatModel):
    """A GGUF model run in-process by llama.cpp, greedy by default, in one role of a shared LlamaEngine.

    llama.cpp keeps the KV cache of the role's previous prompt, so prompts that start with the same fixed
    instructions only pay for their new tokens.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: LlamaEngine
    role: str = "answer"
    max_tokens: int = 256
    temperature: float = 0.0
    _formatter: Any = PrivateAttr(default=None)
    _yes_no: tuple[list[int], list[int]] | None = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def evaluated_tokens(self) -> int:
        """Tokens the model has evaluated so far in this process, all roles (what an answer costs)."""
        return self.engine.evaluated_tokens

    def load(self) -> None:
        """Load the weights now rather than on the first call (the bench times this step alone)."""
        self.engine.llama

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict) -> dict:
        request = {
            "messages": [{"role": _ROLES.get(m.type, "user"), "content": m.content} for m in messages],
            "temperature": self.temperature,
            "max_tokens": kwargs.pop("max_tokens", self.max_tokens),
            "stop": stop or [],
            # top-k 1 makes decoding greedy whatever the temperature default of the library is
            "top_k": 1 if self.temperature == 0 else 40,
        }
        request.update(kwargs)
        return request

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self.engine.context(self.role) as llama:
            out = llama.create_chat_completion(**self._request(messages, stop, kwargs))
        choice = out["choices"][0]
        message = AIMessage(
            content=choice["message"]["content"] or "",
            response_metadata={"finish_reason": choice.get("finish_reason"), "logprobs": choice.get("logprobs")},
            usage_metadata={
                "input_tokens": out["usage"]["prompt_tokens"],
                "output_tokens": out["usage"]["completion_tokens"],
                "total_tokens": out["usage"]["total_tokens"],
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with self.engine.context(self.role) as llama:
            for part in llama.create_chat_completion(**self._request(messages, stop, kwargs), stream=True):
                text = part["choices"][0]["delta"].get("content")
                if text:
                    if run_manager:
                        run_manager.on_llm_new_token(text)
                    yield ChatGenerationChunk(message=AIMessageChunk(content=text))


    def prompt_state(self) -> dict[int, np.ndarray] | None:
        """The residual stream at the end of this role's last prompt, by the layer it was read at (each layer the
        engine taps; None when it taps none, or before a first prompt)."""
        return self.engine.prompt_states.get(self.role)

    def yes_probability(self, messages: list[BaseMessage]) -> float:
        """P("yes") against P("no") as the first token of the model's reply to `messages`.

        Reads the next-token logits after the prompt instead of sampling, so the answer is a
        calibrated score rather than a coin that greedy decoding always flips the same way.
        The prompt's prefix shared with the previous call is not evaluated again.
        """
        import llama_cpp
        import numpy as np

        with self.engine.context(self.role) as llama:
            self.evaluate_prompt(llama, messages)
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits(llama.ctx), shape=(llama.n_vocab(),))
            if self._yes_no is None:
                self._yes_no = _answer_token_ids(llama)
        yes_ids, no_ids = self._yes_no
        candidates = logits[yes_ids + no_ids].astype(np.float64)
        weights = np.exp(candidates - candidates.max())
        return float(weights[: len(yes_ids)].sum() / weights.sum())

    def evaluate_prompt(self, llama, messages: list[BaseMessage]) -> int:  # noqa: ANN001 - a llama_cpp.Llama
        """Evaluate the prompt `messages` make, as a chat completion would, in the context of this role that the
        caller holds (`engine.context`); the prefix shared with the previous call is reused. Returns the count
        of tokens evaluated."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if self._formatter is None:
            self._formatter = Jinja2ChatFormatter(
                template=llama.metadata["tokenizer.chat_template"],
                eos_token=llama.detokenize([llama.token_eos()], special=True).decode(),
                bos_token=llama.detokenize([llama.token_bos()], special=True).decode(),
            )
        prompt = self._formatter(messages=self._request(messages, None, {})["messages"]).prompt
        tokens = llama.tokenize(prompt.encode(), add_bos=False, special=True)
        evaluated = llama.input_ids[: llama.n_tokens].tolist()
        reuse = min(llama.longest_token_prefix(evaluated, tokens), len(tokens) - 1)
        llama.n_tokens = reuse
        llama.eval(tokens[reuse:])
        return len(tokens) - reuse


def _answer_token_ids(llama) -> tuple[list[int], list[int]]:
    """Token ids that start a "yes" or a "no" reply, in the spellings models use."""

    def first_tokens(words: list[str]) -> list[int]:
        return sorted({llama.tokenize(w.encode(), add_bos=False)[0] for w in words})

    return first_tokens(["yes", "Yes", " yes", " Yes", "YES"]), first_tokens(["no", "No", " no", " No", "NO"])


def local_chat_model(settings: Settings, role: str = "answer", layers: tuple[int, ...] = ()) -> LlamaCppChat:
    """The packaged (or QA_MODEL_PATH) GGUF model in one role; every role shares one LlamaEngine, each with
    its own fixed prompt prefix kept warm. With `layers`, the engine keeps each prompt's state there."""
    engine = _engine(
        settings.model_path or generator_model_path(settings.cache_dir),
        settings.n_ctx,
        settings.threads,
        settings.cache_dir / "prompt-state",
        layers,
    )
    return LlamaCppChat(engine=engine, role=role, max_tokens=settings.max_tokens)


@lru_cache(maxsize=4)
def _engine(path: Path, n_ctx: int, threads: int | None, state_dir: Path, layers: tuple[int, ...]) -> LlamaEngine:
    # One per model file, context size and tap: every caller and role in the process shares it and its lock.
    return LlamaEngine(path, n_ctx, threads, state_dir, layers)

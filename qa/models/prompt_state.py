"""A llama.cpp context's evaluated prompt kept: on disk, so a fresh process skips the fixed instructions;
in memory, so roles sharing one context each get their own prompt back.

Every answer prompt starts with the same instructions and examples (~700 tokens): evaluating them costs
seconds on 2 cores, once per process (docs/performance.md). After its first call a context saves its tokens
and KV state (tens of MB, milliseconds); the next process loads them and llama.cpp's prefix matching reuses whatever
prefix its prompt shares. The file is named by the model file, context size and llama.cpp version, so a
state is only ever loaded into the context that made it; llama.cpp checks the rest and refuses a
mismatched or damaged file, which is then removed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.models.model_files import fingerprint


def state_path(folder: Path, model_path: Path, n_ctx: int, role: str) -> Path:
    import llama_cpp

    return folder / f"{role}-{fingerprint(model_path, n_ctx, llama_cpp.__version__)}.state"


def load(llama, path: Path) -> bool:  # noqa: ANN001 - a llama_cpp.Llama
    """Fill the context from `path`; False (and the file removed if unusable) when it cannot be used."""
    import llama_cpp

    if not path.is_file():
        return False
    tokens = (llama_cpp.llama_token * llama.n_ctx())()
    count = ctypes.c_size_t(0)
    if not llama_cpp.llama_state_load_file(llama.ctx, str(path).encode(), tokens, llama.n_ctx(), ctypes.byref(count)):
        llama.reset()
        path.unlink(missing_ok=True)
        return False
    llama.n_tokens = count.value
    llama.input_ids[: count.value] = np.frombuffer(tokens, dtype=np.intc, count=count.value)
    return True


def save(llama, path: Path) -> None:  # noqa: ANN001 - a llama_cpp.Llama
    """Write the context's tokens and state; a failure (a full disk, say) only costs the next start its speed-up."""
    import llama_cpp

    n = llama.n_tokens
    if n == 0:
        return
    tokens = (llama_cpp.llama_token * n)(*(int(t) for t in llama.input_ids[:n]))
    partial = path.with_suffix(f".{os.getpid()}.partial")  # two processes may save at once: each renames its own
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        if llama_cpp.llama_state_save_file(llama.ctx, str(partial).encode(), tokens, n):
            os.replace(partial, path)
        partial.unlink(missing_ok=True)


@dataclass(frozen=True)
class Snapshot:
    """A context's evaluated tokens and its KV state, as llama.cpp serialises them (tens of MB)."""

    tokens: np.ndarray
    data: bytearray  # writable, so llama.cpp reads it in place on restore


def snapshot(llama) -> Snapshot:  # noqa: ANN001 - a llama_cpp.Llama
    import llama_cpp

    # llama.cpp writes straight into the bytes kept: a copy would double a role switch's peak memory.
    data = bytearray(llama_cpp.llama_state_get_size(llama.ctx))
    written = llama_cpp.llama_state_get_data(llama.ctx, (ctypes.c_uint8 * len(data)).from_buffer(data), len(data))
    del data[written:]
    return Snapshot(np.array(llama.input_ids[: llama.n_tokens]), data)


def restore(llama, state: Snapshot) -> None:  # noqa: ANN001 - a llama_cpp.Llama
    import llama_cpp

    buffer = (ctypes.c_uint8 * len(state.data)).from_buffer(state.data)
    if llama_cpp.llama_state_set_data(llama.ctx, buffer, len(state.data)) != len(state.data):
        llama.reset()  # nothing reused: the next prompt is evaluated whole, as on a first call
        return
    llama.n_tokens = len(state.tokens)
    llama.input_ids[: len(state.tokens)] = state.tokens

"""The generator's residual stream at chosen layers, read while llama.cpp evaluates a prompt.

llama.cpp calls a context's evaluation callback for every tensor of its compute graph: first asking whether
the caller wants the tensor, then, for the ones it wants, once the tensor is computed. The tap asks for the
layer outputs (`l_out-N`) it was built for and keeps each one's last row: after a prompt's evaluation, the
state at the prompt's last token, where the model has read the question and the passages and not yet begun
to answer. The callback can only be set when a context is created, so the tap is installed around the
construction of the `Llama` (`installed()`); it stays on the context for its life.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator

import numpy as np

_F32 = 0  # ggml's type number for float32


class _Tensor(ctypes.Structure):
    """The head of ggml's `struct ggml_tensor` (ggml.h), up to its name: only these fields are read."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("buffer", ctypes.c_void_p),
        ("ne", ctypes.c_int64 * 4),
        ("nb", ctypes.c_size_t * 4),
        ("op", ctypes.c_int),
        ("op_params", ctypes.c_int32 * 16),
        ("flags", ctypes.c_int32),
        ("src", ctypes.c_void_p * 10),
        ("view_src", ctypes.c_void_p),
        ("view_offs", ctypes.c_size_t),
        ("data", ctypes.c_void_p),
        ("name", ctypes.c_char * 64),
    ]


_NAME_OFFSET = _Tensor.name.offset


class LayerTap:
    """Keeps the last row of each wanted layer's output from the latest evaluation."""

    def __init__(self, layers: tuple[int, ...]):
        self.layers = layers
        self._wanted = {f"l_out-{n}".encode(): n for n in layers}
        self.last: dict[int, np.ndarray] = {}
        import llama_cpp

        self._callback = llama_cpp.ggml_backend_sched_eval_callback(self._seen)  # kept: llama.cpp holds a raw pointer

    def _seen(self, tensor: int, ask: bool, _user: int) -> bool:
        layer = self._wanted.get(ctypes.string_at(tensor + _NAME_OFFSET))
        if ask or layer is None:
            return layer is not None
        head = _Tensor.from_address(tensor)
        if head.type == _F32:
            width, rows = head.ne[0], head.ne[1]
            row = (ctypes.c_float * width).from_address(head.data + (rows - 1) * head.nb[1])
            self.last[layer] = np.frombuffer(row, dtype=np.float32).copy()
        return True

    def states(self) -> dict[int, np.ndarray]:
        """The kept row of each layer in `layers`; raises if a layer was not seen."""
        missing = [n for n in self.layers if n not in self.last]
        if missing:
            raise RuntimeError(f"llama.cpp computed no output for layers {missing}: the tap was not installed")
        return {n: self.last[n] for n in self.layers}

    def clear(self) -> None:
        self.last.clear()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Contexts created inside this block carry the tap (llama_cpp.Llama reads its context defaults here)."""
        import llama_cpp.llama_cpp as bindings  # the module llama_cpp.Llama calls, not the package's re-export

        default = bindings.llama_context_default_params

        def with_tap():  # noqa: ANN202 - llama.cpp's context parameters
            params = default()
            params.cb_eval = self._callback
            return params

        bindings.llama_context_default_params = with_tap
        try:
            yield
        finally:
            bindings.llama_context_default_params = default
